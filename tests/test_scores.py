"""Output scores against direct computations, head GraNd against autograd, the score pipeline on batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from diet import SCORES, DietError, TrainConfig, load_task
from diet.model.encoders import load_tokenizer
from diet.model.batching import encode
from diet.scores.registry import head_outputs, score_examples
from tests._tiny import tiny_batch, tiny_bert

CFG = TrainConfig(device="cpu", eval_batch_size=4, batch_size=3)


def head_grad_norm_by_autograd(model, batch, i):
    """Norm of the gradient of example i's loss over the classifier's weight and bias."""
    model.zero_grad()
    one = {k: v[i : i + 1, : int(batch["attention_mask"][i].sum())] if v.ndim == 2 else v[i : i + 1] for k, v in batch.items()}
    model(**one).loss.backward()
    head = model.classifier
    norm = torch.cat([head.weight.grad.flatten(), head.bias.grad.flatten()]).norm()
    model.zero_grad()
    return norm.item()


@pytest.mark.parametrize("pairs", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_grand_head_closed_form_equals_autograd(pairs, seed):
    model = tiny_bert(seed, num_labels=4, init=0.05)
    batch = tiny_batch(seed, [9, 5, 12, 3], num_labels=4, pairs=pairs)
    fast = SCORES["grand_head"].fn(head_outputs(model, batch, CFG))
    slow = torch.tensor([head_grad_norm_by_autograd(model, batch, i) for i in range(4)])
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-7)


def test_el2n_and_loss_equal_direct_computation():
    model = tiny_bert(2, num_labels=3, init=0.05)
    batch = tiny_batch(2, [7, 7, 4], num_labels=3)
    out = head_outputs(model, batch, CFG)
    with torch.no_grad():
        logits = torch.stack([model(**{k: v[i : i + 1, : int(batch["attention_mask"][i].sum())] for k, v in batch.items() if k != "labels"}).logits[0] for i in range(3)])
    probs = logits.softmax(-1)
    expected = torch.stack([(probs[i] - torch.eye(3)[batch["labels"][i]]).pow(2).sum().sqrt() for i in range(3)])
    torch.testing.assert_close(SCORES["el2n"].fn(out), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(SCORES["loss"].fn(out), F.cross_entropy(logits, batch["labels"], reduction="none"), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def tiny_data():
    task = load_task("mnli", n_train=10, n_test=10)
    return encode(task.train, load_tokenizer("tiny"), max_length=40)


def test_score_examples_keeps_example_order(tiny_data):
    """Length-sorted batching must put every score back at its example's position."""
    model = tiny_bert(3, num_labels=3, init=0.05)
    model.bert.embeddings.word_embeddings = torch.nn.Embedding(30522, 32)
    model.eval()
    batched = score_examples(model, tiny_data, ["el2n", "grand_head", "grand_full"], CFG, progress=False)
    for i in range(len(tiny_data)):
        one = type(tiny_data)([tiny_data.input_ids[i]], [tiny_data.token_type_ids[i]], tiny_data.labels[i : i + 1], tiny_data.ids[i : i + 1], 0)
        alone = score_examples(model, one, ["el2n", "grand_head", "grand_full"], CFG, grand_method="loop", progress=False)
        for name in alone:
            np.testing.assert_allclose(batched[name][i], alone[name][0], rtol=1e-4)


def test_scores_refuse_train_mode_and_unknown_names(tiny_data):
    model = tiny_bert(0)
    with pytest.raises(DietError, match="eval mode"):
        score_examples(model.train(), tiny_data, ["el2n"], CFG)
    with pytest.raises(DietError, match="unknown score 'el2m'.*Did you mean 'el2n'"):
        score_examples(model.eval(), tiny_data, ["el2m"], CFG)
