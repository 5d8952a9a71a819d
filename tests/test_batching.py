"""`collate` pads a batch with array operations over the packed split: against the plain loop over rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diet.model.batching import Encoded, collate, length_sorted_batches


def loop_collate(data: Encoded, positions) -> dict[str, torch.Tensor]:
    """The slow oracle: one row at a time."""
    width = max(len(data.input_ids[i]) for i in positions)
    ids = torch.full((len(positions), width), data.pad_id, dtype=torch.long)
    types = torch.zeros((len(positions), width), dtype=torch.long)
    mask = torch.zeros((len(positions), width), dtype=torch.long)
    for row, i in enumerate(positions):
        n = len(data.input_ids[i])
        ids[row, :n] = torch.tensor(data.input_ids[i])
        types[row, :n] = torch.tensor(data.token_type_ids[i])
        mask[row, :n] = 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "labels": torch.as_tensor(data.labels[positions])}


def random_split(n: int, seed: int, pad_id: int = 0) -> Encoded:
    rng = np.random.default_rng(seed)
    ids = [rng.integers(1, 30_000, int(rng.integers(1, 40))).tolist() for _ in range(n)]
    types = [rng.integers(0, 2, len(x)).tolist() for x in ids]  # pairs: type ids vary inside an example
    return Encoded(ids, types, rng.integers(0, 5, n), np.arange(n) * 7, pad_id)


@pytest.mark.parametrize("pad_id", [0, 103])
def test_collate_equals_the_loop_over_rows(pad_id):
    data = random_split(200, seed=pad_id, pad_id=pad_id)
    rng = np.random.default_rng(1)
    batches = [rng.integers(0, len(data), 17), np.array([5]), np.array([3, 3, 199, 0]), *length_sorted_batches(data, 64)]
    for positions in batches:
        got, want = collate(data, positions), loop_collate(data, positions)
        assert got.keys() == want.keys()
        for key in want:
            assert got[key].dtype == want[key].dtype == torch.long, key
            assert torch.equal(got[key], want[key]), key


def test_collate_takes_a_list_of_positions_and_rejects_unequal_type_ids():
    data = random_split(10, seed=2)
    assert torch.equal(collate(data, [4, 1])["input_ids"], loop_collate(data, [4, 1])["input_ids"])
    broken = Encoded([[1, 2, 3]], [[0, 0]], np.array([0]), np.array([0]), 0)
    with pytest.raises(ValueError, match="as many token type ids as token ids"):
        collate(broken, [0])


def test_gathered_puts_each_batch_back_in_the_data_order():
    from diet.model.batching import gathered

    data = random_split(50, seed=3)
    batches = list(length_sorted_batches(data, 8))
    parts = [(positions, torch.as_tensor(data.ids[positions] * 0.5)) for positions in batches]
    assert np.array_equal(gathered(parts, len(data)), data.ids * 0.5)
    assert gathered([], 0).shape == (0,)
