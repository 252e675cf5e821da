"""The colours of the app's charts in its two themes, light and dark (the device's setting).

Every figure is built once, in the light theme's colours, which this module holds (the
builders in :mod:`skindx.datasets.figures` and :mod:`skindx.reports.figures` read them), and
:func:`in_dark` maps each of them to the colour that takes its place on the dark theme's
background: one set of builders, and one cache of built figures, serve both themes. Plotly is
imported only to draw a figure, so a page that draws no chart (the probability bars) can use
the colours without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The light theme (.streamlit/config.toml [theme.light]): every chart text at least 4.5:1
# (WCAG AA) on the white chart. Streamlit's chart theme, which only fills what a figure leaves
# unset, drew axis and tick labels in rgb(128,132,149), 3.7:1. The title in the theme's
# textColor.
TITLE_TEXT = "#141414"
CHART_TEXT = "#4d4d4d"  # 8.5:1
CHART_BACKGROUND = "white"
GRID = "#e3e3e3"
# Heat maps print a figure in every cell, in TITLE_TEXT: "Blues" only up to a middle blue, on
# which that text keeps 5.4:1 (plotly's own choice, white text on darker blues, reads poorly).
HEAT_SCALE = [[0.0, "#f7fbff"], [1.0, "#4292c6"]]
# The probability bars: the top diagnoses in the theme's blue, the rest muted, on a track.
HIGHLIGHT = "#1f5fa8"
MUTED = "#a9b4c2"
TRACK = "#eef1f5"
MALIGNANT_COLOUR = "#b23a48"
BENIGN_COLOUR = "#3c8d5a"

# The dark theme ([theme.dark]), and what each light colour becomes there. Text keeps 4.5:1 or
# more on DARK_BACKGROUND (the heat maps' on the lighter end of their scale); the dark theme's
# own text colour on a heat map's lightest cell 6.4:1. Data colours too dark to tell from the
# background (under 2.5:1) take a lighter shade of their hue.
DARK_BACKGROUND = "#0e1117"
DARK_TEXT = "#fafafa"
DARK_COLOURS = {
    TITLE_TEXT: DARK_TEXT,
    CHART_TEXT: "#c8c8c8",
    CHART_BACKGROUND: DARK_BACKGROUND,
    GRID: "#30333b",
    HEAT_SCALE[0][1]: "#162130",
    HEAT_SCALE[-1][1]: "#2b5f8e",
    HIGHLIGHT: "#5b9bd5",
    MUTED: "#5e6a78",
    TRACK: "#262730",
    MALIGNANT_COLOUR: "#e06c7a",
    BENIGN_COLOUR: "#5fbf80",
    # The statistics' confirmation and dataset colours (plotly's "Safe" palette).
    "#1f4e79": "#4f86bf",
    "rgb(51, 34, 136)": "rgb(136, 119, 221)",
    "#332288": "#8877dd",
    "rgb(136, 34, 85)": "rgb(204, 85, 136)",
    "rgb(102, 17, 0)": "rgb(187, 85, 51)",
}


def colour(light: str, dark: bool) -> str:
    """``light``'s colour in the dark theme when ``dark``, else ``light`` itself."""
    return DARK_COLOURS.get(light, light) if dark else light


def in_dark(figure: Any) -> Any:
    """A plotly figure (or its dict) as a new figure in the dark theme's colours: every colour
    the figure sets (a property whose name says colour, a colour scale included) that the
    light theme uses is swapped for its dark one. Text and numbers are left as they are, and
    so is ``figure`` (the light one, which a cache may hold)."""
    import plotly.graph_objects as go

    as_dict = figure if isinstance(figure, dict) else figure.to_dict()
    # A figure, not its dict: Streamlit refuses a dict without traces (a chart with nothing to
    # show), and would validate the dict again.
    return go.Figure(_recoloured(as_dict, False))


def _recoloured(value: Any, is_colour: bool) -> Any:
    if isinstance(value, dict):
        return {key: _recoloured(item, is_colour or "color" in key) for key, item in value.items()}
    if isinstance(value, (list, tuple)):  # traces, annotations, a colour scale's stops
        return [_recoloured(item, is_colour) for item in value]
    if not is_colour:
        return value
    if isinstance(value, str):
        return DARK_COLOURS.get(value, value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "OU":
        return np.array(_recoloured(value.tolist(), True), dtype=object)
    return value
