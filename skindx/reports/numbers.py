"""How the pages write a share for people: `percent` (0.4 → "40.0%", None → a dash)."""

from __future__ import annotations


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"
