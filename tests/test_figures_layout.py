"""Statistics figures' layout: panels, tick labels, legends and titles never drawn on each other.

The browser review found a panel's rotated x labels over the next panel and its title, and
legends on the x labels and axis titles; these check the layout properties that prevent it."""

from __future__ import annotations

import itertools

import pandas as pd
import plotly.graph_objects as go
import pytest
from contrast import contrast, luminance

from skindx.datasets import figures
from skindx.datasets.figures import (
    age_figure,
    confirmation_figure,
    diagnosis_figure,
    group_size_figure,
    imbalance_figure,
    malignancy_figure,
    sex_figure,
    site_figure,
)
from skindx.datasets.summary import cube_frame, load_summary
from skindx.datasets.tables import (
    age_table,
    confirmation_table,
    diagnosis_table,
    group_size_table,
    imbalance_table,
    malignancy_table,
    sex_table,
    site_table,
)
from skindx.datasets.themes import DARK_BACKGROUND, in_dark

PANELLED = {
    "sex": (sex_table, sex_figure),
    "site": (site_table, site_figure),
    "confirmation": (confirmation_table, confirmation_figure),
}
CHARTS = {
    **PANELLED,
    "diagnosis": (diagnosis_table, diagnosis_figure),
    "malignancy": (malignancy_table, malignancy_figure),
    "age": (age_table, age_figure),
    "imbalance": (imbalance_table, imbalance_figure),
    "group_size": (group_size_table, group_size_figure),
}


@pytest.fixture(scope="module")
def cube() -> pd.DataFrame:
    return cube_frame(load_summary())


def _plot_px(fig: go.Figure) -> int:
    return fig.layout.height - fig.layout.margin.t - fig.layout.margin.b


def _x_label_px(axis: go.layout.XAxis) -> float:
    """The height the axis's tick labels need: a line of numbers, or its rotated categories."""
    if axis.tickangle in (None, 0):
        return figures._TICKS_PX
    return figures._rotated_px(axis.categoryarray)


@pytest.mark.parametrize("name", list(PANELLED))
def test_each_panels_labels_sit_under_it_above_the_next_title(name: str, cube) -> None:
    table_of, figure_of = PANELLED[name]
    fig = figure_of(table_of(cube))
    plot_px = _plot_px(fig)
    panels = sorted(fig.select_yaxes(), key=lambda axis: -axis.domain[1])  # top first
    assert len(panels) == 4
    titles = {a.text: a for a in fig.layout.annotations}
    for upper, lower in itertools.pairwise(panels):
        gap_px = (upper.domain[0] - lower.domain[1]) * plot_px
        x_axis = fig.layout[f"xaxis{upper.anchor[1:]}"]
        assert gap_px >= _x_label_px(x_axis) + figures._PANEL_TITLE_PX - 0.5, (name, gap_px)
    # each dataset's name stands on top of its own panel, left-aligned like the chart's title
    datasets = ["HAM10000", "ISIC 2018 test", "ISIC 2019", "ISIC 2020"]
    for panel, dataset in zip(panels, datasets, strict=True):
        title = titles[dataset]
        assert title.y == pytest.approx(panel.domain[1]) and title.yanchor == "bottom"
        assert (title.x, title.xanchor) == (0, "left")


@pytest.mark.parametrize("name", list(PANELLED))
def test_panels_name_their_own_diagnoses_on_the_y_axis(name: str, cube) -> None:
    """Diagnosis names are horizontal y labels of their own panel, not rotated x labels: the
    datasets do not share diagnoses (ISIC 2020 has ones HAM10000 has not)."""
    table_of, figure_of = PANELLED[name]
    fig = figure_of(table_of(cube))
    drawn = {}
    for trace in fig.data:
        drawn.setdefault(trace.yaxis, set()).update(map(str, trace.y))
    for axis_name, names in drawn.items():
        axis = fig.layout[f"yaxis{axis_name[1:]}"]
        assert set(axis.tickvals) == names
        assert all(len(line) <= 20 for text in axis.ticktext for line in text.split("<br>"))
    assert "Unknown" in drawn["y4"]  # ISIC 2020's own
    assert "Unknown" not in drawn["y"]  # not HAM10000's
    # ISIC 2020's one image of it is too few for a share: not charted (named under the chart)
    assert not [names for names in drawn.values() if "Atypical melanocytic proliferation" in names]


def test_site_columns_are_the_same_sites_in_every_panel(cube) -> None:
    fig = site_figure(site_table(cube))
    columns = {tuple(trace.x) for trace in fig.data}
    assert len(columns) == 1 and "torso" in next(iter(columns))
    assert all(axis.tickangle == -45 for axis in fig.select_xaxes())


@pytest.mark.parametrize("name", [name for name in CHARTS if name != "site"])  # site: none
def test_legend_sits_between_the_title_and_the_plot(name: str, cube) -> None:
    """The legend hangs under the title in the top margin, never among the x tick labels or
    on an axis title below the plot; and the margin holds its rows as a phone wraps them."""
    table_of, figure_of = CHARTS[name]
    fig = figure_of(table_of(cube))
    legend, height = fig.layout.legend, fig.layout.height
    assert (legend.yref, legend.yanchor, legend.orientation) == ("container", "top", "h")
    legend_top_px = round((1 - legend.y) * height, 6)
    assert legend_top_px >= figures._TITLE_PX  # under the title
    rows = figures._legend_rows(fig)
    assert rows >= 1
    legend_bottom_px = legend_top_px + rows * figures._LEGEND_ROW_PX
    panel_title_px = figures._PANEL_TITLE_PX if fig.layout.annotations else 0
    assert legend_bottom_px + panel_title_px <= fig.layout.margin.t  # above the plot area
    assert fig.layout.title.yanchor == "top" and fig.layout.title.y == 1


def test_a_phones_legend_rows_are_counted(cube) -> None:
    assert figures._legend_rows(sex_figure(sex_table(cube))) == 2  # as a phone draws it
    assert figures._legend_rows(malignancy_figure(malignancy_table(cube))) == 1
    assert figures._legend_rows(site_figure(site_table(cube))) == 0  # no legend, no room


def test_age_panel_titles_are_wrapped(cube) -> None:
    fig = age_figure(age_table(cube))
    texts = {a.text for a in fig.layout.annotations}
    assert "Squamous cell<br>carcinoma" in texts  # beside "Vascular lesion"


def test_each_age_panel_fits_its_own_data(cube) -> None:
    """The walk-through: every panel ran 0–100% (two diagnoses of one image each are 100%), so
    the lines of the others, under 35%, lay flat. Each panel now autoranges from 0 and labels
    its own y axis; and those two, too few images for a share, are no longer charted."""
    fig = age_figure(age_table(cube))
    used = {trace.yaxis for trace in fig.data}  # the grid's tenth cell stays empty
    axes = [axis for axis in fig.select_yaxes() if f"y{axis.plotly_name[5:]}" in used]
    assert len(axes) == 9
    for axis in axes:
        assert axis.matches is None and axis.range is None  # autorange, per panel
        assert axis.rangemode == "tozero" and axis.showticklabels is True
        assert axis.ticksuffix == "%"
    assert all(axis.showticklabels is True for axis in fig.select_xaxes())


def test_age_rows_leave_room_for_two_line_titles(cube) -> None:
    """Two-line panel titles ("Squamous cell / carcinoma") crowded the panel above."""
    fig = age_figure(age_table(cube))
    plot_px = _plot_px(fig)
    lines = max(a.text.count("<br>") + 1 for a in fig.layout.annotations)
    assert lines == 2
    needed = figures._TICKS_PX + lines * figures._AGE_TITLE_LINE_PX  # the x labels, the title
    rows = sorted({axis.domain for axis in fig.select_yaxes()}, key=lambda d: -d[1])
    assert len(rows) == 5
    for upper, lower in itertools.pairwise(rows):
        assert (upper[0] - lower[1]) * plot_px >= needed - 0.5
    assert fig.layout.margin.t >= figures._TITLE_PX + lines * figures._AGE_TITLE_LINE_PX


def test_age_lines_break_at_empty_bins(cube) -> None:
    """ISIC 2018 test's vascular lesions: 2 images at 20–24, none until 40–44. The line ran
    straight from 20 to 40, as if 25–39 had values in between."""
    fig = age_figure(age_table(cube))
    trace = next(
        t
        for t in fig.data
        if t.name == "ISIC 2018 test" and _panel_title(fig, t) == "Vascular lesion"
    )
    points = dict(zip(trace.x, trace.y, strict=True))
    assert points[20] == pytest.approx(100 * 2 / 19, abs=0.01)
    assert all(pd.isna(points[age]) for age in (25, 30, 35))  # gaps, not values
    assert points[40] == pytest.approx(100 * 2 / 19, abs=0.01)
    assert trace.connectgaps is False
    assert trace.mode == "lines+markers"  # a lone bin still shows as its marker


def _panel_title(fig: go.Figure, trace: go.Scatter) -> str:
    """The title of the panel a trace is drawn in."""
    axis = fig.layout[f"xaxis{trace.xaxis[1:]}"]
    middle = sum(axis.domain) / 2
    y_axis = fig.layout[f"yaxis{trace.yaxis[1:]}"]
    return next(
        a.text
        for a in fig.layout.annotations
        if a.x == pytest.approx(middle) and a.y == pytest.approx(y_axis.domain[1])
    )


def test_contrast_helper_matches_the_walk_through() -> None:
    assert contrast("rgb(128,132,149)", "white") == pytest.approx(3.7, abs=0.05)
    assert contrast("#000000", "#ffffff") == pytest.approx(21)


def _text_colours(fig: go.Figure) -> dict[str, str | None]:
    """Every text colour the figure sets itself: Streamlit's chart theme fills only what a
    figure leaves unset, with its grey of 3.7:1."""
    layout = fig.layout
    colours = {
        "font": layout.font.color,
        "title": layout.title.font.color,
        "legend": layout.legend.font.color,
        "hover": layout.hoverlabel.font.color,
    }
    for axis in [*fig.select_xaxes(), *fig.select_yaxes()]:
        name = axis.plotly_name
        colours[f"{name} ticks"] = axis.tickfont.color
        colours[f"{name} title"] = axis.title.font.color
    for i, annotation in enumerate(layout.annotations):
        colours[f"annotation {i}"] = annotation.font.color
    return colours


def themed(fig: go.Figure, theme: str) -> go.Figure:
    """``fig`` as the app draws it in ``theme`` ("light" or "dark")."""
    return in_dark(fig) if theme == "dark" else fig


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("name", list(CHARTS))
@pytest.mark.parametrize("empty", [False, True], ids=["data", "empty"])
def test_chart_text_reaches_aacontrast(name: str, empty: bool, theme: str, cube) -> None:
    """The walk-through: axis and tick labels in rgb(128,132,149) on white, 3.7:1. In the
    dark theme every text reads on its background as well."""
    table_of, figure_of = CHARTS[name]
    table = table_of(cube)
    fig = themed(figure_of(table.iloc[:0] if empty else table), theme)
    background = "white" if theme == "light" else DARK_BACKGROUND
    assert fig.layout.paper_bgcolor == fig.layout.plot_bgcolor == background
    colours = _text_colours(fig)
    unset = [part for part, colour in colours.items() if colour is None]
    assert not unset, (name, unset)
    low = {part: c for part, c in colours.items() if contrast(c, background) < 4.5}
    assert not low, (name, low)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_heat_map_cells_read_on_their_darkest_colour(theme: str, cube) -> None:
    """Every heat map prints its figures in a set text colour that keeps 4.5:1 on the
    darkest colour of its scale (plotly's own white text on darker blues fell to about 3:1):
    the statistics' site map and the model card's confusion and context maps. In the dark
    theme, light text on the lightest colour of its darker scale."""
    import numpy as np

    from skindx.diagnosis.context import fit_tables
    from skindx.evaluation.evaluate import metrics_from_probabilities
    from skindx.reports.figures import confusion_figure, context_figure

    labels = np.arange(70) % 7
    metrics = metrics_from_probabilities(labels, np.eye(7)[labels] * 0.9 + 0.1 / 7, None)
    rows = [("a", "A", "mel", 80.0, "male", "torso"), ("b", "B", "nv", 20.0, "female", None)]
    frame = pd.DataFrame(rows, columns=["image_id", "lesion_id", "diagnosis", "age", "sex", "site"])
    built = {
        "site": site_figure(site_table(cube)),
        "confusion": confusion_figure(metrics),
        "context": context_figure({"tables": fit_tables(frame)}, "age"),
    }
    pick = min if theme == "light" else max  # the scale's end nearest the text's lightness
    for name, light in built.items():
        fig = themed(light, theme)
        maps = [trace for trace in fig.data if trace.type == "heatmap"]
        assert maps, name
        for trace in maps:
            scale = trace.colorscale or fig.layout.coloraxis.colorscale
            nearest = pick((colour for _, colour in scale), key=luminance)
            assert trace.textfont.color is not None, name
            assert contrast(trace.textfont.color, nearest) >= 4.5, name
