"""The compute behind a context's figures, from the seconds each stored run recorded (the results summary's last table)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from diet.paper.claims import figure_tables
from diet.paper.context import Context
from diet.paper.experiments.noisy import noisy_scores
from diet.data.noise import flip_labels


def compute_cost(ctx: Context) -> pd.DataFrame:
    """Wall time behind each stage of this context's figures, from the seconds each stored run recorded.

    Rows: the scoring passes (time spent computing scores; the fine-tuning they ride on is not
    timed separately) and the retrainings of figures 1, 3, 4 and 5. A run shared by two figures
    (the top 70% of figures 3 and 4, random and full-data baselines) counts in each.
    Columns: stage, runs, core-minutes, seconds per run (mean).
    """
    tables, _ = figure_tables(ctx)  # only the figures whose notebooks ran: nothing is computed here
    scoring = {}
    if {"1", "2"} & set(tables):
        scoring["scoring passes, figures 1-2 (timing)"] = ctx.timing_scores()
    if {"3", "4"} & set(tables):
        scoring["scoring passes, figures 3-4 (final step)"] = ctx.final_scores()
    if "5" in tables:
        noisy, _ = flip_labels(ctx.task, ctx.preset.noise, seed=ctx.preset.data_seed)
        scoring["scoring passes, figure 5 (noisy labels)"] = noisy_scores(ctx, noisy)
    rows = []
    for stage, table in scoring.items():
        passes = table.frame.drop_duplicates(["run", "step"])["seconds"]
        rows.append({"stage": stage, "runs": len(passes), "seconds": passes.sum()})
    for figure in ("1", "3", "4", "5"):
        if figure in tables:
            runs = tables[figure]["seconds"].dropna()  # detection rows of figure 5 have none
            rows.append({"stage": f"retraining, figure {figure}", "runs": len(runs), "seconds": runs.sum()})
    out = pd.DataFrame(rows)
    out["core-minutes"] = (out["seconds"] / 60).round(1)
    out["seconds per run"] = (out["seconds"] / out["runs"].where(out["runs"] > 0)).round(1)
    out["ran on"] = ran_on(ctx)
    return out.drop(columns="seconds")


def ran_on(ctx: Context) -> str:
    """Where this context's runs ran, as its store's jobs log says: "NVIDIA H200, bf16 autocast", "cpu, float32"."""
    cfg = ctx.preset.train
    names = set()
    log = Path(ctx.store.root) / "jobs.jsonl"
    if cfg.device_type == "cuda" and log.is_file():
        for line in log.read_text().splitlines():
            device = json.loads(line).get("device") if line.strip() else None
            if device and device != "cpu":
                names.add(device)
    where = ", ".join(sorted(names)) or cfg.device_type
    return f"{where}, {cfg.precision}"
