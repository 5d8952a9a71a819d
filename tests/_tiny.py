"""Tiny random BERT models and padded batches for fast exactness tests (no download)."""

from __future__ import annotations

import torch
from transformers import BertConfig, BertForSequenceClassification

VOCAB = 100  # small, so random examples repeat tokens


def tiny_bert(seed: int, hidden: int = 32, layers: int = 2, heads: int = 4, intermediate: int = 48,
              num_labels: int = 3, init: float = 0.5) -> BertForSequenceClassification:
    """A randomly initialised BertForSequenceClassification in eval mode.

    `init` (the weights' std) is large by default so that every token, not only [CLS],
    gets a sizeable gradient and per-token errors cannot hide in the total.
    """
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=intermediate, max_position_embeddings=64, num_labels=num_labels,
        initializer_range=init,
    )
    return BertForSequenceClassification(config).eval()


def tiny_batch(seed: int, lengths: list[int], num_labels: int, pairs: bool = False,
               vocab: int = VOCAB, pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Right-padded random examples of the given lengths; pairs get token types 0 then 1.

    Row 0 repeats tokens on purpose and contains the pad id inside the example.
    """
    gen = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.randint(2, vocab, (len(lengths), width), generator=gen)
    ids[0, : lengths[0]] = torch.tensor([7, 9, 7, 7, pad_id, 9, 11, 7] * 8)[: lengths[0]]
    positions = torch.arange(width)
    mask = (positions[None, :] < torch.tensor(lengths)[:, None]).long()
    ids = ids.masked_fill(mask == 0, pad_id)
    batch = {
        "input_ids": ids,
        "attention_mask": mask,
        "labels": torch.randint(0, num_labels, (len(lengths),), generator=gen),
    }
    if pairs:
        second = positions[None, :] >= (torch.tensor(lengths)[:, None] // 2)
        batch["token_type_ids"] = (second & (mask == 1)).long()
    return batch
