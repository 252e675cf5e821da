"""How the pages and reports write numbers for people: `probability` (a model's answer:
0.694 → "69%", 0.004 → "<1%"), `percent` (a measured share: 0.4 → "40.0%", None → a dash) and
`counted` (1 → "1 photo", 3 → "3 photos")."""

from __future__ import annotations


def probability(value: float | None) -> str:
    """A model's probability as the public reads it, the same on every page and report: a
    whole percent ("69%"), with "<1%" and ">99%" where rounding would claim 0% or 100%."""
    if value is None:
        return "—"
    if 0 < value < 0.005:
        return "<1%"
    if 0.995 <= value < 1:
        return ">99%"
    return f"{100 * value:.0f}%"


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` (with thousands separators: "10,015") and the noun, singular for one
    (``plural`` where adding "s" is wrong)."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
