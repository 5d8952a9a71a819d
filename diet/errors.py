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


def warn(message: str) -> None:
    """Tell the user something they should know but that does not stop the run (on stderr)."""
    import sys

    print(f"diet: warning: {message}", file=sys.stderr, flush=True)


def line_ranges(lines) -> str:
    """Line numbers as a compact list: [3, 4, 5, 9] -> '3-5, 9'."""
    numbers = sorted({int(n) for n in lines})
    parts, start = [], None
    for i, n in enumerate(numbers):
        start = n if start is None else start
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(parts)
