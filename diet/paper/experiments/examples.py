"""The highest-scored training examples, with the label the model predicts for them (figure 5's chapter)."""

from __future__ import annotations

import pandas as pd

from diet.data.fingerprint import split_fingerprint
from diet.paper.context import Context
from diet.runs.predictions import PredictionsRun


def predictions(ctx: Context) -> pd.Series:
    """Predicted label of every training example by the first scoring run at the final step (stored)."""
    p, seed, step = ctx.preset, ctx.preset.score_seeds[0], ctx.step(ctx.preset.final_step)
    config = {"task": ctx.task.name, "train": split_fingerprint(ctx.task.train), "model": p.model, "train_config": p.train.key(), "seed": seed, "step": step}
    job = PredictionsRun(ctx.task, p.model, seed, step, p.train, ctx.progress)
    frame = ctx.store.load_or_compute("train_predictions", config, job, job.placeholder)
    return frame.set_index("example_id")["predicted"]


def top_examples(ctx: Context, n: int = 10, scores=None) -> pd.DataFrame:
    """The `n` highest-scored training examples per score (final step, run-averaged).

    Columns: score, rank, example_id, value, gold, predicted, text. `predicted` comes from the
    first scoring run at the final step; gold != predicted marks an example the model gets wrong.
    """
    table = ctx.final_scores()
    step = ctx.step(ctx.preset.final_step)
    predicted = predictions(ctx)
    split = ctx.task.train
    position = {int(e): i for i, e in enumerate(split.ids)}
    names = ctx.task.label_names
    rows = []
    for name in scores or ctx.preset.scores:
        top = table.mean(name, step).sort_values(ascending=False, kind="stable").head(n)
        for rank, (example, value) in enumerate(top.items(), start=1):
            i = position[int(example)]
            text = split.text[i] if split.text_pair is None else f"{split.text[i]} ||| {split.text_pair[i]}"
            rows.append({"score": name, "rank": rank, "example_id": int(example), "value": value, "gold": names[split.labels[i]],
                         "predicted": names[int(predicted.loc[example])], "text": text})
    return pd.DataFrame(rows)
