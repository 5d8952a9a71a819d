"""One exception type for every problem a user can fix."""

from __future__ import annotations


class DietError(ValueError):
    """Bad input or state: the message says what was wrong and how to fix it."""


def did_you_mean(value: str, known: list[str] | tuple[str, ...]) -> str:
    """A short suffix listing the known choices, nearest first when one is close."""
    import difflib

    close = difflib.get_close_matches(value, list(known), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Known: {', '.join(sorted(known))}.{hint}"
