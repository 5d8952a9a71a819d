"""How the book names each score: a short label for figures and tables, and the words a sentence uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoreName:
    label: str  # legends, axes, table rows: "GraNd (head)"
    words: str  # inside a sentence: "head GraNd"


NAMES = {
    "el2n": ScoreName("EL2N", "EL2N"),
    "grand_head": ScoreName("GraNd (head)", "head GraNd"),
    "grand_full": ScoreName("GraNd (all weights)", "GraNd over all weights"),
    "loss": ScoreName("loss", "the loss"),
    "forgetting": ScoreName("forgetting", "forgetting"),
    "low_confidence": ScoreName("low confidence", "low confidence"),
    "variability": ScoreName("variability", "variability"),
    "neg_aum": ScoreName("−AUM", "−AUM"),
}


def label(name: str) -> str:
    """A score's label in figures; any other name (a baseline such as "random") as it is."""
    return NAMES[name].label if name in NAMES else name


def in_words(name: str) -> str:
    """A score's name inside a sentence; any other name as it is."""
    return NAMES[name].words if name in NAMES else name
