"""How the pages write numbers for people: `percent` (0.4 → "40.0%", None → a dash) and
`counted` (1 → "1 photo", 3 → "3 photos")."""

from __future__ import annotations


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and the noun, singular for one (``plural`` where adding "s" is wrong)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
