"""WCAG 2 contrast of chart colours, for the tests that hold every chart text to AA (4.5:1)."""

from __future__ import annotations


def luminance(color: str) -> float:
    """WCAG relative luminance of a "#rrggbb", "rgb(r,g,b)" or "white" colour."""
    if color == "white":
        channels = [255, 255, 255]
    elif color.startswith("#"):
        channels = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    else:
        channels = [int(float(v)) for v in color[color.index("(") + 1 : -1].split(",")[:3]]
    linear = [
        c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
        for c in (v / 255 for v in channels)
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)
