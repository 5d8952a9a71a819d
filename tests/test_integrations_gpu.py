"""diet's Trainer callback on a GPU under the Trainer's mixed precision (bf16, fp16 with its loss scaler): its scores
match diet's float32 scores of the same weights to mixed-precision rounding, and the training ends where it ends
without the callback. Skipped where torch sees no GPU; scripts/device_run.sh runs it on a lent one (no `datasets`
there: the training set is a plain list of dicts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]

N, CLASSES, BATCH, EPOCHS = 64, 3, 8, 2  # 8 updates an epoch
SCORES = ["el2n", "grand_head", "grand_full"]
# the callback scores under the Trainer's autocast (bf16: 8 significant bits), the reference in float32 on the CPU
REL, ABS = 2e-2, 1e-2
SAME = 1e-4  # largest weight difference the GPU's own run-to-run noise may leave (atomic adds); far below a moved RNG's
MOVED = 1e-3  # what a single drawn random number (other dropout masks) does to the weights, at least


def rows(seed: int = 0) -> list[dict]:
    """N right-padded random examples (lengths 4 to 24, vocabulary of the tiny model) as a user's tokenised dataset."""
    gen = np.random.default_rng(seed)
    out = []
    for i in range(N):
        length = int(gen.integers(4, 25))
        ids = [101] + gen.integers(1000, 5000, length - 2).tolist() + [102]
        out.append({"input_ids": ids + [0] * (24 - length), "attention_mask": [1] * length + [0] * (24 - length),
                    "token_type_ids": [0] * 24, "labels": i % CLASSES})
    return out


class Dataset(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return {k: torch.tensor(v) for k, v in self.items[i].items()}


def train(tmp_path, precision: str, callbacks=()):
    from transformers import Trainer, TrainingArguments

    from diet.model.encoders import load_encoder

    model = load_encoder("tiny", CLASSES, 0)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=BATCH, num_train_epochs=EPOCHS, learning_rate=2e-3, seed=0,
                             bf16=precision == "bf16", fp16=precision == "fp16", report_to="none", save_strategy="no",
                             logging_strategy="no", disable_tqdm=True)
    Trainer(model=model, args=args, train_dataset=Dataset(rows()), callbacks=list(callbacks)).train()
    return {k: v.detach().float().cpu() for k, v in model.state_dict().items()}


def largest_difference(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_the_callback_under_mixed_precision_scores_like_diet_and_leaves_the_training_alone(precision, tmp_path):
    pytest.importorskip("accelerate", reason="the Trainer needs accelerate")
    from transformers import TrainerCallback

    from diet.integrations import ScoresCallback
    from diet.integrations.data import encoded_from_dataset
    from diet.model.config import TrainConfig
    from diet.model.encoders import load_encoder
    from diet.scores.registry import score_examples

    class Snapshots(TrainerCallback):
        def __init__(self):
            self.states = {}

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            self.states[state.global_step] = {k: v.detach().float().cpu().clone() for k, v in model.state_dict().items()}

        on_step_end = on_train_begin

    class Draws(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            torch.rand(1, device="cuda")

    callback, snapshots = ScoresCallback(Dataset(rows()), SCORES, ["0", "1ep", "2ep"], verbose=False), Snapshots()
    scored = train(tmp_path / "scored", precision, [callback, snapshots])
    data = encoded_from_dataset(rows())
    table = callback.table
    assert table.steps == [0, 8, 16]
    for step in table.steps:
        model = load_encoder("tiny", CLASSES, 0)
        model.load_state_dict(snapshots.states[step])
        want = score_examples(model.eval(), data, SCORES, TrainConfig(device="cpu"), progress=False)
        for name in SCORES:
            got = table.mean(name, step).reindex(data.ids).to_numpy()
            np.testing.assert_allclose(got, want[name], rtol=REL, atol=ABS, err_msg=f"{precision} {name}@{step}")
    plain, drawn = train(tmp_path / "plain", precision), train(tmp_path / "drawn", precision, [Draws()])
    moved = largest_difference(plain, drawn)
    print(f"\n{precision}: weights with the callback vs without: {largest_difference(plain, scored):.2e}; one drawn number: {moved:.2e}")
    assert moved > MOVED, "the control did not move the training: the check below would see nothing"
    assert largest_difference(plain, scored) <= SAME
