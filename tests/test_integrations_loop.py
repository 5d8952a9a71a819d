"""diet inside a plain PyTorch loop: `Scorer` equals diet's own scores (diet.score on the same seeded run, score_examples
on the same weights), leaves the training bitwise unchanged, reads any layout of a tokenised dataset and refuses bad input."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from transformers import DataCollatorWithPadding

import diet
from diet.integrations import Scorer
from diet.model.config import TrainConfig
from diet.model.encoders import load_encoder, load_tokenizer
from diet.model.train import fine_tune, total_steps
from diet.runs.store import Store
from tests._own_training import (BATCH, CLASSES, DYNAMIC, POINT, column, diet_scores, encoded, hf_dataset, one_thread,  # noqa: F401
                                 probe, task, task_file)


def test_scorer_in_diets_own_loop_equals_diet_score(task, encoded, tmp_path):
    """The same seeded run through diet.score and through a Scorer inside diet's fine_tune: every score alike."""
    cfg = TrainConfig(epochs=1, batch_size=BATCH, lr=2e-3, max_length=64, device="cpu")
    reference = diet.score(task, "tiny", seeds=[0], steps=["2", "1ep"], scores=POINT + DYNAMIC, config=cfg,
                           store=Store(tmp_path), progress=False, dynamics_per_epoch=2)
    scorer = Scorer(hf_dataset(encoded), POINT + DYNAMIC, ["2", "1ep"], updates_per_epoch=4, total_updates=total_steps(len(encoded), cfg),
                    ids=encoded.ids, batch_size=cfg.batch_size, dynamics_per_epoch=2)
    model = load_encoder("tiny", CLASSES, 0)
    fine_tune(model, encoded, cfg, 0, callbacks={s: scorer.step for s in scorer.schedule}, progress=False)
    table = scorer.table()
    assert table.names == reference.names and table.steps == reference.steps == [2, 4] and scorer.schedule == [2, 4]
    for name in POINT + DYNAMIC:
        for step in (2, 4):
            np.testing.assert_allclose(column(table, name, step, encoded.ids), column(reference, name, step, encoded.ids),
                                       rtol=1e-9, atol=1e-12, err_msg=f"{name}@{step}")


def plain_loop(dataset, scorer: Scorer | None, snapshots: dict | None = None) -> torch.nn.Module:
    """The README's plain PyTorch loop: one epoch of AdamW, dropout on, `scorer.step` at 0 and after every update."""
    model = load_encoder("tiny", CLASSES, 0)
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, collate_fn=DataCollatorWithPadding(load_tokenizer("tiny")))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    step = 0
    if scorer:
        scorer.step(model, step)
    for _epoch in range(1):
        for batch in loader:
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            if scorer:
                scorer.step(model, step)
            if snapshots is not None:
                snapshots[step] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return model


def test_scorer_in_a_plain_torch_loop(encoded, probe):
    dataset = hf_dataset(encoded).with_format("torch")
    scorer = Scorer(dataset, POINT + [probe], ["0", "3", "1ep"], updates_per_epoch=4)
    snapshots = {}
    scored = plain_loop(dataset, scorer, snapshots)
    plain = plain_loop(dataset, None)
    for name, value in plain.state_dict().items():  # eval mode during scoring, train mode and RNG states restored
        assert torch.equal(value, scored.state_dict()[name]), name
    table = scorer.table()
    assert table.steps == [0, 3, 4] and scorer.schedule == [0, 3, 4]
    expected = diet_scores(snapshots[3], encoded, POINT)
    for name in POINT:
        np.testing.assert_allclose(column(table, name, 3, np.arange(len(encoded))), expected[name], rtol=1e-6, err_msg=name)


def test_any_layout_of_the_dataset_gives_the_same_scores(encoded):
    """Unpadded, right-padded to a fixed width, torch tensors, a plain list of dicts: the same examples, the same scores."""
    model = load_encoder("tiny", CLASSES, 3).eval()
    expected = diet.score_examples(model, encoded, POINT, TrainConfig(device="cpu"), progress=False)
    class Rows(torch.utils.data.Dataset):  # a torch Dataset of dicts of tensors
        def __len__(self):
            return len(encoded)

        def __getitem__(self, i):
            ids = encoded.input_ids[i]
            return {"input_ids": torch.tensor(ids), "attention_mask": torch.ones(len(ids)), "labels": torch.tensor(encoded.labels[i])}

    rows = Rows()
    for dataset in (hf_dataset(encoded), hf_dataset(encoded, pad_to=64), hf_dataset(encoded, pad_to=64).with_format("torch"), rows):
        scorer = Scorer(dataset, POINT, ["0"], updates_per_epoch=4)
        assert scorer.step(model, 0) and scorer.data.input_ids == encoded.input_ids
        for name in POINT:
            np.testing.assert_allclose(column(scorer.table(), name, 0, np.arange(len(encoded))), expected[name], rtol=1e-6, err_msg=name)
    assert not model.training


def test_scoring_leaves_every_rng_where_it_was(encoded, probe):
    model = load_encoder("tiny", CLASSES, 0).train()

    def draws(scorer=None):
        random.seed(1), np.random.seed(1), torch.manual_seed(1)
        if scorer:
            assert scorer.step(model, 0)
        return random.random(), np.random.rand(), torch.rand(1).item()

    assert draws(Scorer(hf_dataset(encoded), [probe], ["0"], updates_per_epoch=4)) == draws()
    assert model.training


def test_bad_input_is_refused_with_the_fix(encoded, tmp_path):
    dataset = hf_dataset(encoded)
    cases = [
        (lambda: Scorer(dataset, ["el2m"]), "unknown score 'el2m'.*Did you mean 'el2n'"),
        (lambda: Scorer(dataset.remove_columns("label"), ["el2n"]), "has no labels: per-example scores need a 'labels'"),
        (lambda: Scorer(dataset.remove_columns("input_ids"), ["el2n"]), "no 'input_ids': give it tokenised"),
        (lambda: Scorer(dataset, ["el2n"], ["1ep"]), "give updates_per_epoch \\(the optimizer updates in one epoch"),
        (lambda: Scorer(dataset, ["forgetting"], ["0", "1ep"], updates_per_epoch=4), "step 0 comes before any"),
        (lambda: Scorer(dataset, ["el2n"], ["3ep"], updates_per_epoch=4, total_updates=8), "'3ep' \\(update 12\\) lies past the end of training \\(8 updates = 2ep\\)"),
        (lambda: Scorer(dataset, ["el2n"], ["soon"]), "cannot read step 'soon'"),
        (lambda: Scorer([{"input_ids": [5, 6], "attention_mask": [0, 1], "labels": 1}], ["el2n"]), "right padding"),
        (lambda: Scorer([{"input_ids": [5, 6], "labels": 0.5}], ["el2n"]), "fractional values"),
        (lambda: Scorer([{"input_ids": [5, 6, 7], "token_type_ids": [0, 0], "labels": 1}], ["el2n"]), "row 0: token_type_ids has 2 entries for 3 tokens"),
        (lambda: Scorer(dataset, ["el2n"], ids=[1] * len(encoded)), "ids are not unique"),
    ]
    for make, message in cases:
        with pytest.raises(diet.DietError, match=message):
            make()
    scorer = Scorer(dataset, ["el2n"], ["0", "5"], updates_per_epoch=4)
    model = load_encoder("tiny", 2, 0)
    with pytest.raises(diet.DietError, match="the dataset has label 2, but the model has 2 classes"):
        scorer.step(model, 0)
    with pytest.raises(diet.DietError, match="updates \\[0, 5\\] were never scored"):
        scorer.table()
