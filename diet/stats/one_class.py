"""The one-class rule: an accuracy a model predicting a single class would reach says nothing.

One place for it: the CLI (`diet train`), `diet run`, the figures' sentences and the results
summary all judge a run by `is_one_class` and word it with `one_class_note`. A run is one-class
when the share of its most predicted test class is at least ONE_CLASS_SHARE (where the run
recorded it, column `top_share`), else when its accuracy is at most the test set's majority-class
rate + CHANCE_MARGIN (runs stored before `top_share` existed have only their accuracy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CHANCE_MARGIN = 0.01  # accuracy within this of the majority-class rate counts as a constant prediction
ONE_CLASS_SHARE = 0.95  # a run whose most predicted class takes this share of the test set predicts (nearly) one class
TOP_SHARE = "top_share"  # the column of a retraining frame with that share, where recorded


def class_shares(labels, num_labels: int) -> np.ndarray:
    """Each class's share of `labels` (class indices)."""
    labels = np.asarray(labels, dtype=np.int64)
    return np.bincount(labels, minlength=num_labels) / max(1, len(labels))


def majority_rate(labels, num_labels: int) -> float:
    """Share of the most frequent class: the accuracy of a model that always predicts it."""
    return float(class_shares(labels, num_labels).max())


def top_share(predictions, num_labels: int) -> float:
    """Share of the most predicted class among `predictions` (1.0: one class only)."""
    return majority_rate(predictions, num_labels)


def is_one_class(accuracy: float, majority: float, share: float | None = None) -> bool:
    """The rule for one run: `share` (its top predicted class's share) >= ONE_CLASS_SHARE where known,
    else accuracy <= majority + CHANCE_MARGIN."""
    if share is not None and not pd.isna(share):
        return bool(share >= ONE_CLASS_SHARE)
    return bool(accuracy <= majority + CHANCE_MARGIN)


def one_class_runs(frame: pd.DataFrame, majority: float) -> pd.Series:
    """`is_one_class` for every row of a retraining frame (columns accuracy and, where recorded, top_share)."""
    shares = frame[TOP_SHARE] if TOP_SHARE in frame else pd.Series(np.nan, index=frame.index)
    return pd.Series([is_one_class(a, majority, s) for a, s in zip(frame["accuracy"], shares)], index=frame.index, dtype=bool)


def all_one_class(accuracies, majority: float) -> bool:
    """True when there are runs and every one is at most the majority-class rate + CHANCE_MARGIN."""
    values = pd.Series(accuracies, dtype=float).dropna()
    return bool(len(values)) and bool(values.max() <= majority + CHANCE_MARGIN)


def one_class_note(frame: pd.DataFrame, test_labels, label_names) -> str:
    """'' when no run of `frame` is one-class; else a sentence saying which are, and what they score.

    Where a run's accuracy equals a class's share of the test set, the note names that class (the
    model most likely predicts only it).
    """
    shares = class_shares(test_labels, len(label_names))
    majority = float(shares.max())
    flags = one_class_runs(frame, majority)
    if not flags.any():
        return ""
    n_test = len(np.asarray(test_labels))
    guesses = []
    for acc in frame.loc[flags, "accuracy"]:
        match = [name for name, share in zip(label_names, shares) if abs(acc - share) < 0.5 / max(1, n_test)]
        guesses.append(f"{acc:.4f} = the share of {match[0]!r}" if match else f"{acc:.4f}")
    which = ("the run predicts" if len(flags) == 1 else "every run predicts") if flags.all() else f"{int(flags.sum())} of {len(flags)} runs predict"
    seeds = f" (seed{'s' if flags.sum() > 1 else ''} {', '.join(map(str, frame.loc[flags, 'seed']))})" if "seed" in frame and not flags.all() else ""
    return (f"ONE-CLASS MODEL: {which}{seeds} (nearly) one class ({'; '.join(guesses)}); the test set's majority-class "
            f"rate is {majority:.4f} ({label_names[int(shares.argmax())]!r}), so these accuracies say nothing. "
            "Train longer or with more updates (smaller --batch-size, larger --lr, more --epochs) or on more examples")
