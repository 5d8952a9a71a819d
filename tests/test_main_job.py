"""`diet run` on the smoke-sized model: its table, its figure, and a reading that agrees with the numbers it prints."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr, redirect_stdout

import pandas as pd
import pytest

from diet.claims import CHANCE_MARGIN
from diet.cli import main
from diet.main_report import reading_lines, summarize

SMOKE = ["run", "--preset", "smoke", "--n-train", "80", "--n-test", "48"]
ROW = re.compile(r"^  (\S.*?)\s+(\d[\d,]*)  (\d\.\d{4})(?: ± (\d\.\d{4}))?\s+((?:\s*\d+%)+)\s+(\d\.\d\d)(  one-class model: says nothing)?$")
SLACK = 2e-4  # the printed numbers are rounded to 4 decimals


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = tmp_path_factory.mktemp("main") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):  # not a terminal: plain progress lines
        code = main([*SMOKE, "--seeds", "0", "1", "--out", str(out)])
    assert code == 0, stderr.getvalue()
    return out, stdout.getvalue(), stderr.getvalue()


def parse(text: str) -> tuple[dict, float, dict]:
    """Printed rows {name: (kept, mean, sd, shares, tv)}, the majority-class rate, and the training mix row."""
    rows, flags, train = {}, {}, None
    for line in text.splitlines():
        if line.startswith("  (training set)"):
            train = [int(p.rstrip("%")) / 100 for p in line.split()[2:-1]]
            continue
        match = ROW.match(line)
        if match:
            name, kept, mean, sd, shares, tv, flag = match.groups()
            rows[name] = (int(kept.replace(",", "")), float(mean), float(sd) if sd else None, [int(p.rstrip("%")) / 100 for p in shares.split()], float(tv))
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
    for name, (_, _, sd, shares, tv) in rows.items():
        assert sd is not None, f"{name}: two seeds give a spread"
        assert abs(sum(shares) - 1) <= 0.03, name
        assert abs(tv - 0.5 * sum(abs(s - t) for s, t in zip(shares, train))) <= 0.025, f"{name}: TV {tv} does not match its class mix"
    assert rows["full data"][4] == 0 and rows["el2n top 70% per class"][4] <= 0.02
    assert "mean ± sd over retraining seeds [0, 1]" in text
    figure = out / "comparison.png"
    assert f"figure: {figure}" in text and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000
    accuracy = pd.read_csv(out / "accuracy.csv")
    assert len(accuracy) == 12 and set(accuracy["selection"]) == set(rows)
    assert "deeper: the book's chapters" in text


def test_reading_agrees_with_the_printed_numbers(job):
    _, text, _ = job
    rows, majority, _ = parse(text)
    reading = text.split("\nreading:\n", 1)[1]
    against = re.search(r"against (random 70%) \((\d\.\d{4}) ± (\d\.\d{4})\), a difference counts only beyond the larger seed sd\. (.*)\n", reading)
    assert against, reading
    random = rows["random 70%"]
    placed = {}
    for where, listed in re.findall(r"(below|within noise|above|no signal, both one-class): (.*?)(?:\. |\.$)", against.group(4)):
        for name, diff in re.findall(r"(.+?) \(([+-]\d\.\d{4})\)(?:; |$)", listed):
            placed[name] = where
            mean, sd = rows[name][1], rows[name][2]
            d, spread = mean - random[1], max(sd, random[2])
            assert abs(d - float(diff)) <= SLACK, f"{name}: printed difference {diff}, table says {d:+.4f}"
            if where == "below":
                assert d < -spread + SLACK, name
            elif where == "above":
                assert d > spread - SLACK, name
            elif where == "within noise":
                assert abs(d) <= spread + SLACK, name
            else:
                assert max(mean, random[1]) <= majority + CHANCE_MARGIN + SLACK, name
    assert set(placed) == set(rows) - {"random 70%"}, "every selection is placed once against random"
    one_class = re.search(r"one-class models \(every run at the test set's majority-class rate, (\d\.\d{4}), or below\): (.*)\.\n", reading)
    listed = set(one_class.group(2).split("; ")) if one_class else set()
    for name, row in rows.items():
        if row[1] > majority + CHANCE_MARGIN + SLACK:
            assert name not in listed, f"{name} averages {row[1]}, above the majority-class rate, yet is called one-class"
        if name in listed:
            assert row[1] <= majority + CHANCE_MARGIN + SLACK
    mix = re.search(r"class mix: (.*)\n", reading).group(1)
    most = re.search(r"the plain top-k is the most imbalanced selection \((.+?): TV (\d\.\d\d)", mix)
    if most:
        assert rows[most.group(1)][4] == float(most.group(2)) == max(r[4] for r in rows.values())
    recovers = re.findall(r"\((.+?), TV (\d\.\d\d)\) recovers (-?\d+)% of that gap", mix)
    top = rows["el2n top 70%"][1]
    if recovers:
        assert placed["el2n top 70%"] == "below"
        gap = random[1] - top
        for name, tv, share in recovers:
            assert rows[name][4] == float(tv)
            if gap >= 0.01:
                assert abs(int(share) - 100 * (rows[name][1] - top) / gap) <= 2, f"{name}: recovers {share}%"
    else:
        assert "el2n top 70% is not below random beyond the noise" in mix and placed["el2n top 70%"] != "below"


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
    assert "1 seed: no spread, so no selection can be told apart from random 70%" in captured.out
    assert "retraining (6 selections x 1 seed): 6/6 runs done in" in captured.err and "0/1" not in captured.err


def test_reading_rule_on_known_numbers():
    """The reading's wording follows the numbers: below, within noise and above random, and the share of the gap recovered."""
    runs = {"full data": ("full", "", [0.86, 0.88]), "random 70%": ("random", "", [0.85, 0.87]), "el2n top 70%": ("top", "el2n", [0.60, 0.62]),
            "grand_head top 70%": ("top", "grand_head", [0.90, 0.92]), "el2n top 70% per class": ("per class", "el2n", [0.84, 0.86]),
            "el2n ranks 20-90%": ("skip top", "el2n", [0.73, 0.75])}
    tv = {"full data": 0.0, "random 70%": 0.02, "el2n top 70%": 0.3, "grand_head top 70%": 0.25, "el2n top 70% per class": 0.0, "el2n ranks 20-90%": 0.1}
    acc = pd.DataFrame([{"selection": n, "kind": k, "score": s, "seed": i, "accuracy": a, "n_train": 70, "tv_distance": tv[n]}
                        for n, (k, s, values) in runs.items() for i, a in enumerate(values)])
    lines = reading_lines(acc, summarize(acc), majority=0.25)
    assert "below: el2n top 70% (-0.2500); el2n ranks 20-90% (-0.1200)" in lines[0]
    assert "within noise: full data (+0.0100); el2n top 70% per class (-0.0100)" in lines[0]
    assert "above: grand_head top 70% (+0.0500)" in lines[0]
    assert "(el2n top 70% per class, TV 0.00) recovers 96% of that gap" in lines[1]
    assert "(el2n ranks 20-90%, TV 0.10) recovers 52% of that gap" in lines[1] and "explains most of the loss" in lines[1]
    assert not any("one-class" in line for line in lines)
