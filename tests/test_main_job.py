"""`diet run` on the smoke-sized model: its table, its figure, and a reading that agrees with the numbers it prints."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest

from diet.stats.one_class import CHANCE_MARGIN
from diet.cli.main import main
from diet.paper.evidence import Evidence
from diet.paper.main_report import reading_lines, summarize
from diet.runs.store import Store
from tests._predictions import LABELS, stored_runs

SMOKE = ["run", "--preset", "smoke", "--n-train", "80", "--n-test", "48"]
ROW = re.compile(r"^  (\S.*?)\s+(\d[\d,]*)  (\d\.\d{4})(?: ± (\d\.\d{4}))?\s+\[(\d\.\d{3}), (\d\.\d{3})\]\s+((?:\s*\d+%)+)\s+(\d\.\d\d)(  one-class model: says nothing)?$")
ITEM = re.compile(r"(.+?) \(([+-]\d\.\d{4}) \[([+-]\d\.\d{3}), ([+-]\d\.\d{3})\]\)(?:; |$)")
SLACK = 2e-4  # the printed numbers are rounded to 4 decimals (intervals to 3)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = tmp_path_factory.mktemp("main") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):  # not a terminal: plain progress lines
        code = main([*SMOKE, "--seeds", "0", "1", "--out", str(out)])
    assert code == 0, stderr.getvalue()
    return out, stdout.getvalue(), stderr.getvalue()


def parse(text: str) -> tuple[dict, float, dict]:
    """Printed rows {name: (kept, mean, sd, shares, tv, (low, high))}, the majority-class rate, and the training mix row."""
    rows, flags, train = {}, {}, None
    for line in text.splitlines():
        if line.startswith("  (training set)"):
            train = [int(p.rstrip("%")) / 100 for p in line.split()[2:-1]]
            continue
        match = ROW.match(line)
        if match:
            name, kept, mean, sd, low, high, shares, tv, flag = match.groups()
            rows[name] = (int(kept.replace(",", "")), float(mean), float(sd) if sd else None, [int(p.rstrip("%")) / 100 for p in shares.split()],
                          float(tv), (float(low), float(high)))
            flags[name] = bool(flag)
    majority = float(re.search(r"a one-class model scores (\d\.\d{4})", text).group(1))
    for name, flagged in flags.items():  # a selection at the majority-class rate is marked as saying nothing
        assert flagged == (rows[name][1] <= majority + 0.01), f"{name}: one-class mark {flagged} does not match its accuracy"
    return rows, majority, train


def test_main_job_prints_every_selection_with_its_class_mix(job):
    out, text, _ = job
    rows, majority, train = parse(text)
    assert list(rows) == ["full data", "random 70%", "el2n top 70%", "grand_head top 70%", "el2n top 70% per class", "el2n ranks 20-90%"]
    assert rows["full data"][0] == 80 and all(r[0] in (56, 57) for name, r in rows.items() if name != "full data")
    for name, (_, mean, sd, shares, tv, (low, high)) in rows.items():
        assert sd is not None, f"{name}: two seeds give a spread"
        assert low - SLACK <= mean <= high + SLACK and high - low >= 0.05, f"{name}: 48 test examples give a wide interval around the mean"
        assert abs(sum(shares) - 1) <= 0.03, name
        assert abs(tv - 0.5 * sum(abs(s - t) for s, t in zip(shares, train))) <= 0.025, f"{name}: TV {tv} does not match its class mix"
    assert rows["full data"][4] == 0 and rows["el2n top 70% per class"][4] <= 0.02
    assert "mean ± sd over retraining seeds [0, 1], and its 95% interval (test examples and seeds resampled)" in text
    figure = out / "comparison.png"
    assert f"figure: {figure}" in text and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000
    accuracy = pd.read_csv(out / "accuracy.csv")
    assert len(accuracy) == 12 and set(accuracy["selection"]) == set(rows) and accuracy["run"].nunique() == 12
    assert "deeper: the book's chapters" in text


def check_reading(reading: str, rows: dict, majority: float) -> dict:
    """Every sentence of a reading against the numbers of `rows` (as `parse` gives them); {selection: where it was placed}."""
    lines = reading.splitlines()
    against = re.fullmatch(r"  against (random 70%) \((\d\.\d{4}) ± (\d\.\d{4})\), the difference with its 95% interval \(test examples and seeds "
                           r"resampled together\); below or above random only where the interval excludes 0\. (.*)\.", lines[0])
    assert against, lines[0]
    random = rows["random 70%"]
    placed = {}
    for where, listed in re.findall(r"(below|within noise|above|no signal, both one-class): (.*?)(?:\. |$)", against.group(4)):
        for name, diff, low, high in ITEM.findall(listed):
            placed[name] = where
            d, low, high = rows[name][1] - random[1], float(low), float(high)
            assert abs(d - float(diff)) <= SLACK, f"{name}: printed difference {diff}, table says {d:+.4f}"
            assert low - 1e-3 <= float(diff) <= high + 1e-3, f"{name}: the difference lies in its interval"
            if where == "below":
                assert high < 0, name
            elif where == "above":
                assert low > 0, name
            elif where == "within noise":
                assert low <= 0 <= high, name
            else:
                assert max(rows[name][1], random[1]) <= majority + CHANCE_MARGIN + SLACK, name
    assert set(placed) == set(rows) - {"random 70%"}, "every selection is placed once against random"
    narrow = re.fullmatch(r"  these intervals are wide \(half-width about (\d\.\d{3}) on ([\d,]+) test examples, with (\d+) seeds; most of it from "
                          r"the (test examples|seeds)\): a larger test set \(--n-test\) and more seeds \(--seeds 0 1 2 \.\.\.\) narrow them\.", lines[1])
    assert narrow, lines[1]
    one_class = [name for name, row in rows.items() if row[1] <= majority + CHANCE_MARGIN + SLACK]
    mix_line = 2
    if one_class:
        assert lines[2] == f"  one-class models (every run at the test set's majority-class rate, {majority:.4f}, or below): {'; '.join(one_class)}."
        mix_line = 3
    else:
        assert not any("one-class models" in line for line in lines)
    mix = lines[mix_line]
    tops = {n: r for n, r in rows.items() if " top " in n and "per class" not in n}
    others = {n: r for n, r in rows.items() if n not in tops and n != "full data"}
    if max(r[4] for r in tops.values()) >= max(r[4] for r in others.values()):
        most = re.search(r"the plain top-k is the most imbalanced selection \((.+?): TV (\d\.\d\d)", mix)
        assert most and rows[most.group(1)][4] == float(most.group(2)) == max(r[4] for r in tops.values()), mix
    else:
        assert "is no more imbalanced than the other selections" in mix, mix
    top = rows["el2n top 70%"][1]
    if placed["el2n top 70%"] == "below":  # the branch the numbers call for, asserted either way
        gap = random[1] - top
        recovers = re.findall(r"\(([^(]+?), TV (\d\.\d\d)\) recovers (-?\d+)% of that gap", mix)
        assert [name for name, _, _ in recovers] == ["el2n top 70% per class", "el2n ranks 20-90%"], mix
        for name, tv, share in recovers:
            assert rows[name][4] == float(tv) and abs(int(share) - 100 * (rows[name][1] - top) / gap) <= 2, f"{name}: recovers {share}%"
    else:
        assert "el2n top 70% is not below random beyond the noise" in mix and "recovers" not in mix, mix
    assert lines[mix_line + 1].startswith("  deeper: the book's chapters")
    return placed


def test_reading_agrees_with_the_printed_numbers(job):
    _, text, _ = job
    rows, majority, _ = parse(text)
    placed = check_reading(text.split("\nreading:\n", 1)[1].split("\n\nfigure:", 1)[0], rows, majority)
    # the tiny random BERT of the smoke preset learns nothing: every model is a one-class model, and the reading says so
    assert set(placed.values()) == {"no signal, both one-class"}


def test_progress_is_one_line_per_stage_off_a_terminal(job):
    _, _, err = job
    lines = [line for line in err.splitlines() if line.startswith(("scoring", "retraining"))]
    assert lines[0] == "scoring (el2n, grand_head at 1ep): 2 fine-tuning runs"
    assert "retraining (6 selections x 2 seeds): 12 runs" in lines
    assert lines[-1].startswith("retraining (6 selections x 2 seeds): 12/12 runs done in")
    assert "\r" not in err and "it/s" not in err  # no tqdm bars in a log


def test_a_resumed_run_with_one_seed_says_there_is_no_spread(job, capsys):
    out, _, _ = job
    assert main([*SMOKE, "--seeds", "0", "--out", str(out)]) == 0  # every run is stored: loads only
    captured = capsys.readouterr()
    rows, _, _ = parse(captured.out)
    assert "test accuracy (1 seed: no spread)" in captured.out and len(rows) == 6 and all(r[2] is None for r in rows.values())
    assert ("1 seed: no spread over seeds, so no selection can be told apart from random 70% (rerun with --seeds 0 1 2); "
            "differences to it with their 95% intervals over the test examples alone: full data (+0.0000 [") in captured.out
    assert "retraining (6 selections x 1 seed): 6/6 runs done in" in captured.err and "0/1" not in captured.err


def test_reading_rule_on_known_numbers(tmp_path):
    """The reading's wording follows the numbers, in every branch: below, within noise and above random by the interval,
    the one-class models, the most imbalanced selection and the share of the gap recovered."""
    store = Store(tmp_path)
    runs = {"full data": ("full", "", [0.86, 0.88]), "random 70%": ("random", "", [0.85, 0.87]), "el2n top 70%": ("top", "el2n", [0.25, 0.25]),
            "grand_head top 70%": ("top", "grand_head", [0.95, 0.96]), "el2n top 70% per class": ("per class", "el2n", [0.84, 0.86]),
            "el2n ranks 20-90%": ("skip top", "el2n", [0.73, 0.75])}
    tv = {"full data": 0.0, "random 70%": 0.02, "el2n top 70%": 0.3, "grand_head top 70%": 0.25, "el2n top 70% per class": 0.0, "el2n ranks 20-90%": 0.1}
    frames = [stored_runs(store, name, values, seed=i).assign(selection=name, kind=kind, score=score, n_train=70, tv_distance=tv[name])
              for i, (name, (kind, score, values)) in enumerate(runs.items())]
    acc = pd.concat(frames, ignore_index=True)
    evidence = Evidence.of(store, LABELS, [acc])
    summary = summarize(acc)
    lines = reading_lines(acc, summary, 0.25, evidence)
    rows = {name: (70, r["mean"], r["sd"], [], tv[name], (np.nan, np.nan)) for name, r in summary.iterrows()}
    placed = check_reading("\n".join(f"  {line}" for line in lines), rows, 0.25)
    assert placed == {"full data": "within noise", "el2n top 70%": "below", "grand_head top 70%": "above",
                      "el2n top 70% per class": "within noise", "el2n ranks 20-90%": "below"}
    assert "explains most of the loss" in lines[3]
    # without stored predictions the same numbers are read by the seed rule, and the reading says so
    old = reading_lines(acc.drop(columns="run"), summary, 0.25)
    assert "a difference counts only beyond the larger seed sd (the seed rule" in old[0] and "intervals are wide" not in "".join(old)
