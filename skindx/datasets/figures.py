"""The statistics figures: one plotly figure per chart, drawn from the chart's table; the
lessons' share bars in the same style; the text colours every chart of the app uses."""

from __future__ import annotations

import copy
import math
import re
import textwrap
from collections.abc import Iterable, Mapping

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from skindx.datasets.metadata import DATASETS, SITES
from skindx.datasets.names import (
    UPLOAD_DATASET,
    chart_text,
    dataset_order,
    diagnosis_name,
    diagnosis_order,
    ordered,
)
from skindx.datasets.summary import AGE_BIN_WIDTH, GROUP_LABELS
from skindx.datasets.tables import MIN_IMAGES_FOR_SHARE, enough_for_shares, group_column
from skindx.datasets.themes import CHART_BACKGROUND, CHART_TEXT, GRID, HEAT_SCALE, TITLE_TEXT
from skindx.taxonomy import CODES

_PALETTE = px.colors.qualitative.Safe
DATASET_COLORS: dict[str, str] = {
    name: color for name, color in zip((*DATASETS, UPLOAD_DATASET), _PALETTE, strict=False)
}
MALIGNANCY_COLORS = {"malignant": "#c0392b", "benign": "#5d9c59", "unknown": "#b0b0b0"}
SEX_COLORS = {"female": "#aa4499", "male": "#3366aa", "unknown": "#b0b0b0"}
# Not the datasets' colours, which the other charts give a meaning; unknown grey throughout.
CONFIRMATION_COLORS = {
    "histopathology": "#1f4e79",
    "confocal": "#4a90c2",
    "consensus": "#9ecae1",
    "follow-up": "#e69f00",
    "unknown": "#b0b0b0",
}


# Pixel sizes the layout reserves. Legend rows are counted at a phone's plot width, so the
# legend fits there too (a wider screen leaves a little space under it).
_TITLE_PX = 40
_LEGEND_ROW_PX = 24
_LEGEND_ITEM_PX = 40  # a legend entry's symbol and gaps
_CHAR_PX = 7  # a legend or rotated tick label's character, generously
_Y_CHAR_PX = 5  # a y tick label's character, in plotly's smaller tick font
_PHONE_PX = 324  # a phone's chart less the margins
_AXIS_TITLE_PX = 30
_PANEL_TITLE_PX = 28
_TICKS_PX = 24  # a row of horizontal numeric tick labels
_ROW_PX = 34  # a diagnosis's row: a name wrapped onto two lines fits
_BAR_PX = 15  # a bar that carries its value in plotly's 12 px text
_AGE_PANEL_PX = 130  # an age panel's plot area
_AGE_TITLE_LINE_PX = 17  # a line of an age panel's title (13 px text)


def _named(table: pd.DataFrame, column: str = "diagnosis") -> pd.DataFrame:
    """The table with its diagnosis codes replaced by their names, for a chart."""
    names = {value: diagnosis_name(value) for value in table[column].unique()}
    return table.assign(**{column: table[column].map(names)})


def _name_order(values: Iterable[str]) -> list[str]:
    return [diagnosis_name(code) for code in diagnosis_order(values)]


def _colors(
    values: Iterable[str], known: dict[str, str] = DATASET_COLORS, spare: list[str] | None = None
) -> dict[str, str]:
    """A colour per value: its own in ``known``, else the next ``spare`` one (by default the
    palette's colours the datasets leave, then pastels)."""
    extra = iter(spare or _PALETTE[len(DATASET_COLORS) :] + px.colors.qualitative.Pastel)
    return {name: known.get(name) or next(extra) for name in dict.fromkeys(values)}


def _legend_rows(fig: go.Figure) -> int:
    """Rows the horizontal legend wraps onto on a phone (0: no legend). Plotly wraps it at the
    plot area's width, which the y tick labels narrow."""
    names = dict.fromkeys(t.name for t in fig.data if t.showlegend is not False and t.name)
    labels = [text for axis in fig.select_yaxes() for text in axis.ticktext or ()]
    labels = labels or [
        str(y) for t in fig.data if getattr(t, "orientation", None) == "h" for y in t.y
    ]
    chars = max((len(line) for label in labels for line in label.split("<br>")), default=6)
    width = _PHONE_PX - _Y_CHAR_PX * chars - _AXIS_TITLE_PX
    rows, used = 0, width
    for name in names:
        item = _LEGEND_ITEM_PX + _CHAR_PX * len(name)
        if used + item > width:
            rows, used = rows + 1, 0
        used += item
    return rows


def _layout(
    fig: go.Figure, title: str, plot_px: int, *, bottom_px: int = 50, panel_title_px: int = 0
) -> go.Figure:
    """Title, then the legend under it, then the plot area of plot_px (and any panel title).

    The legend sits in the top margin, never among the x tick labels or axis titles: a legend
    placed at a fraction of the plot's height below it lands on whatever labels are that long.
    The margins are fixed in pixels, so panel gaps computed from plot_px stay what they say.

    The settings go into the figure's dict, from which one new figure is made: plotly checks
    a dict once, where each of the many ``update_*`` calls this took (every axis and
    annotation of the figure's panels) had spent most of the charts' building time. The new
    figure has no subplot grid (``row=``, ``col=``): nothing is added to a chart after this."""
    legend_px = _LEGEND_ROW_PX * _legend_rows(fig)
    top_px = _TITLE_PX + legend_px + panel_title_px
    height = top_px + plot_px + bottom_px
    # Not to_dict, which writes number arrays as base64 (a dict, then, in the new figure's x).
    # No template: the new figure takes plotly's default, the one px and go.Figure gave this
    # one, without checking it again (the template's checks took 40% of a simple chart's time).
    layout = {k: v for k, v in fig.layout.to_plotly_json().items() if k != "template"}
    figure = {"data": [trace.to_plotly_json() for trace in fig.data], "layout": layout}
    _merge(
        layout,
        {
            "title": {
                "text": title,
                "x": 0,
                "xanchor": "left",
                "y": 1,
                "yanchor": "top",
                "pad": {"t": 12},
            },
            "legend": {
                "orientation": "h",
                "xref": "container",  # the figure's width, not the plot's beside long labels
                "x": 0,
                "yref": "container",
                "yanchor": "top",
                "y": 1 - _TITLE_PX / height,
            },
            "margin": {"l": 10, "r": 24, "t": top_px, "b": bottom_px},  # r: room for "100%"
            "height": height,
        },
    )
    for annotation in layout.get("annotations", ()):
        annotation["text"] = annotation["text"].split("=")[-1]
    # No legend title: px names it after the colour's column. Left out, not set to None, which
    # left an empty "title" the figure lost in st.cache_data's pickling: the page's first
    # visitor got figures whose JSON differed from the kept ones, and plotly drew them again.
    layout["legend"].pop("title", None)
    # Long tick labels (diagnosis names, sites) get the room they need instead of being cut.
    _readable_dict(figure, {"automargin": True})
    return go.Figure(figure)


def _merge(into: dict, settings: Mapping) -> None:
    """Settings merged into a figure's dict as plotly's ``update`` would: dicts key by key."""
    for key, value in settings.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


# What readable sets, on the layout, every axis, every annotation and the bars' and heat maps'
# values.
_READABLE_LAYOUT = {
    "font": {"color": CHART_TEXT},
    "title": {"font": {"color": TITLE_TEXT}},
    "legend": {"font": {"color": CHART_TEXT}},
    "hoverlabel": {"bgcolor": CHART_BACKGROUND, "font": {"color": TITLE_TEXT}},
    "paper_bgcolor": CHART_BACKGROUND,
    "plot_bgcolor": CHART_BACKGROUND,
}
_READABLE_AXIS = {
    "tickfont": {"color": CHART_TEXT},
    "title": {"font": {"color": CHART_TEXT}},
    "gridcolor": GRID,
    "zerolinecolor": GRID,
}
_READABLE_ANNOTATION = {"font": {"color": TITLE_TEXT}}
_READABLE_TRACE = {"textfont": {"color": TITLE_TEXT}}
_VALUED_TRACES = ("bar", "heatmap")
_AXIS_KEY = re.compile(r"[xy]axis\d*")


def readable(fig: go.Figure) -> go.Figure:
    """Every text of the figure in a colour of at least 4.5:1 on its white background, set on
    the figure itself so that no theme's fainter default applies: the app's every chart, not
    only these (:mod:`skindx.reports.figures` too). Bar values and heat-map cells in
    :data:`TITLE_TEXT` (:data:`HEAT_SCALE` keeps it at 5.4:1 or more)."""
    fig.update_layout(_READABLE_LAYOUT)
    fig.update_xaxes(_READABLE_AXIS)
    fig.update_yaxes(_READABLE_AXIS)
    fig.update_annotations(_READABLE_ANNOTATION)
    fig.update_traces(_READABLE_TRACE, selector=lambda trace: trace.type in _VALUED_TRACES)
    return fig


def _readable_dict(figure: dict, axis: Mapping) -> None:
    """:func:`readable`'s settings (and ``axis``'s on every axis) in a figure's dict."""
    layout = figure["layout"]
    _merge(layout, _READABLE_LAYOUT)
    for key in {"xaxis", "yaxis", *filter(_AXIS_KEY.fullmatch, layout)}:
        _merge(layout.setdefault(key, {}), {**axis, **_READABLE_AXIS})
    for annotation in layout.get("annotations", ()):
        _merge(annotation, _READABLE_ANNOTATION)
    for trace in figure["data"]:
        if trace.get("type") in _VALUED_TRACES:
            _merge(trace, _READABLE_TRACE)


NO_MATCH_TEXT = "No images match the filters"
TOO_FEW_TEXT = f"Fewer than {MIN_IMAGES_FOR_SHARE} images of each diagnosis: too few for a share"


def _empty_figure(title: str, text: str = NO_MATCH_TEXT) -> go.Figure:
    fig = go.Figure()
    # Centred on the figure: the hidden axes' 0.5 sat at the left.
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, 180, bottom_px=10)


def _shares_or_empty(table: pd.DataFrame, title: str) -> tuple[pd.DataFrame, go.Figure | None]:
    """A per-diagnosis share table without the diagnoses too small for a share (see
    :func:`~skindx.datasets.tables.enough_for_shares`), and the empty figure to draw instead
    where nothing is left: no image matched the filters, or none had enough images."""
    if table.empty:
        return table, _empty_figure(title)
    kept = enough_for_shares(table)
    return kept, _empty_figure(title, TOO_FEW_TEXT) if kept.empty else None


def _wrapped(name: str) -> str:
    """A diagnosis name broken over lines, so the y axis labels leave a phone room for bars."""
    return "<br>".join(textwrap.wrap(name, 20, break_long_words=False, break_on_hyphens=False))


def _diagnosis_axis(fig: go.Figure, names: list[str], **where: int) -> None:
    """Diagnoses down the y axis, in the taxonomy's order from the top, names wrapped."""
    fig.update_yaxes(
        categoryorder="array",
        categoryarray=names,
        tickmode="array",
        tickvals=names,
        ticktext=[_wrapped(name) for name in names],
        autorange="reversed",
        **where,
    )


def _rotated_px(labels: Iterable[str]) -> int:
    """Height of the longest of these tick labels drawn at 45 degrees."""
    return int(_CHAR_PX * max(len(label) for label in labels) * math.sin(math.pi / 4)) + 16


def _panels(names: list[str], rows: list[int], gap_px: int) -> tuple[go.Figure, int]:
    """One panel per dataset, stacked, each as tall as its diagnoses, gap_px between panels
    for the upper panel's x tick labels and the lower panel's title; and the plot's height."""
    heights = [_ROW_PX * n for n in rows]
    plot_px = sum(heights) + gap_px * (len(names) - 1)
    fig = make_subplots(
        rows=len(names),
        cols=1,
        subplot_titles=names,
        row_heights=heights,
        # No gap under a lone panel: one diagnosis's 34 px is less than gap_px, and plotly
        # refuses a spacing over 1 (an upload of one diagnosis, shown alone, raised).
        vertical_spacing=gap_px / plot_px if len(names) > 1 else 0,
    )
    # Dataset names left-aligned over their own panel, like the chart's title.
    fig.update_annotations(x=0, xanchor="left", font_size=14)
    return fig, plot_px


def diagnosis_figure(table: pd.DataFrame, *, percent: bool = False, log: bool = False) -> go.Figure:
    """Grouped horizontal bars: images (or % of each dataset) per diagnosis, a colour per dataset.
    Diagnosis names down the y axis stay readable on a phone, where rotated ones were cut."""
    title = "Diagnoses" + (" (% of each dataset)" if percent else " (images)")
    if table.empty:
        return _empty_figure(title)
    value = "percent" if percent else "images"
    names = _name_order(table["diagnosis"])
    fig = px.bar(
        _named(table),
        x=value,
        y="diagnosis",
        color="dataset",
        orientation="h",
        barmode="group",
        color_discrete_map=_colors(table["dataset"]),
        hover_data={"images": ":,", "percent": ":.1f"},
        log_x=log,
        labels={"percent": "% of dataset", "images": "images", "diagnosis": ""},
    )
    _diagnosis_axis(fig, names)
    per_diagnosis = max(_ROW_PX, 8 + 7 * table["dataset"].nunique())
    return _layout(fig, title, per_diagnosis * len(names))


def share_bars(
    shares: Mapping[str, Mapping[str, float]],
    title: str,
    axis_title: str,
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """Grouped horizontal bars of percentages, ``shares[series][row]``, each bar labelled with
    its value, rows top-down in first-seen order: a lesson's chart in this page's style (a
    dataset's colour from ``colors``, else :data:`DATASET_COLORS` or a spare one)."""
    rows = list(dict.fromkeys(row for column in shares.values() for row in column))
    palette = _colors(shares, {**DATASET_COLORS, **(colors or {})})
    fig = go.Figure()
    for name, column in shares.items():
        values = [column.get(row) for row in rows]
        fig.add_bar(
            x=values,
            y=rows,
            name=chart_text(name),
            orientation="h",
            marker_color=palette[name],
            text=["" if value is None else f"{value:.1f}%" for value in values],
            textposition="outside",
            constraintext="none",  # plotly shrank a value to its bar's thickness, unreadably
            cliponaxis=False,
            hovertemplate=f"{chart_text(name)}: %{{x:.1f}}%<extra>%{{y}}</extra>",
        )
    top = max((v for column in shares.values() for v in column.values()), default=100)
    fig.update_layout(barmode="group", showlegend=len(shares) > 1)
    fig.update_xaxes(title_text=axis_title, ticksuffix="%", range=[0, 1.18 * top])
    fig.update_yaxes(
        tickmode="array",
        tickvals=rows,
        ticktext=[_wrapped(row) for row in rows],
        autorange="reversed",
        showgrid=False,  # a line per row ran between a row's bars
    )
    per_row = max(_ROW_PX, 12 + _BAR_PX * len(shares))  # each bar as tall as its value
    return _layout(fig, title, per_row * len(rows))


def malignancy_figure(table: pd.DataFrame) -> go.Figure:
    """Stacked horizontal bars: malignant / benign / unknown share per dataset."""
    title = "Benign or malignant (% of images)"
    if table.empty:
        return _empty_figure(title)
    fig = px.bar(
        table,
        x="percent",
        y="dataset",
        color="malignancy",
        orientation="h",
        color_discrete_map=MALIGNANCY_COLORS,
        hover_data={"images": ":,", "percent": ":.1f"},
        labels={"percent": "% of images", "dataset": ""},
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, 50 * table["dataset"].nunique())


def age_figure(table: pd.DataFrame) -> go.Figure:
    """Age distribution per diagnosis (% of that diagnosis), a panel per diagnosis.

    Each panel's y axis fits its own data (a diagnosis with one image at 100% had flattened
    every other panel), and a line breaks at an empty age bin rather than inventing values.
    A diagnosis with too few images in a dataset for a share is left out (see
    :func:`~skindx.datasets.tables.enough_for_shares`)."""
    title = "Age by diagnosis (% of its images, 5-year bins)"  # short enough for a phone
    table, empty = _shares_or_empty(table, title)
    if empty is not None:
        return empty
    names = _name_order(table["diagnosis"])
    n_rows = math.ceil(len(names) / 2)
    # Wrapped panel titles: two long names side by side ran into each other on a phone; the
    # gap above each row of panels holds the tallest of them.
    wrapped = {name: _wrapped(name) for name in names}
    title_px = _AGE_TITLE_LINE_PX * max(text.count("<br>") + 1 for text in wrapped.values()) + 8
    gap_px = _TICKS_PX + title_px  # every panel's own age labels, then the next one's title
    plot_px = _AGE_PANEL_PX * n_rows + gap_px * (n_rows - 1)
    fig = px.line(
        _named(_with_gaps(table)),
        x="age",
        y="percent",
        color="dataset",
        facet_col="diagnosis",
        facet_col_wrap=2,
        facet_row_spacing=gap_px / plot_px if n_rows > 1 else 0.03,
        facet_col_spacing=0.1,  # room for the right-hand panels' own y tick labels
        markers=True,
        color_discrete_map=_colors(table["dataset"]),
        category_orders={"diagnosis": names},
        hover_data={"images": ":,"},
        labels={"percent": "", "age": "age"},
    )
    fig.update_traces(connectgaps=False)
    fig.update_xaxes(showticklabels=True, dtick=20)
    fig.update_yaxes(
        matches=None, showticklabels=True, rangemode="tozero", ticksuffix="%", nticks=4
    )
    fig.for_each_annotation(
        lambda a: a.update(text=wrapped.get(a.text.split("=")[-1], a.text), font_size=13)
    )
    return _layout(fig, title, plot_px, panel_title_px=title_px)


def _with_gaps(table: pd.DataFrame) -> pd.DataFrame:
    """The age table with a row of NaN for each empty bin inside a line's age range, so plotly
    breaks the line there instead of joining its neighbours (20 → 40 drew values for 25–35)."""
    lines = []
    for (dataset, code), part in table.groupby(["dataset", "diagnosis"], sort=False):
        bins = range(int(part["age"].min()), int(part["age"].max()) + 1, AGE_BIN_WIDTH)
        full = part.set_index("age").reindex(bins).rename_axis("age").reset_index()
        lines.append(full.assign(dataset=dataset, diagnosis=code))
    return pd.concat(lines, ignore_index=True)


def _stacked_by_diagnosis(
    table: pd.DataFrame, column: str, title: str, colors: dict[str, str] | None = None
) -> go.Figure:
    """Stacked horizontal bars of column's share within each diagnosis, a panel per dataset.

    Each panel names its own diagnoses on its own y axis: the datasets do not share them, and
    a panel's rotated x labels used to be drawn over the next panel. A diagnosis with too few
    images in a dataset for a share is left out (2 of 2 images read as "100% male")."""
    table, empty = _shares_or_empty(table, title)
    if empty is not None:
        return empty
    order = _name_order(table["diagnosis"])
    table = _named(table)
    colors = _colors(table[column], colors or {}, px.colors.qualitative.Pastel)
    names = dataset_order(table["dataset"])
    parts = [table[table["dataset"] == name] for name in names]
    rows = [part["diagnosis"].nunique() for part in parts]
    fig, plot_px = _panels(names, rows, _TICKS_PX + _PANEL_TITLE_PX)
    shown: set[str] = set()
    bars_of: list[go.Bar] = []  # added at once: each add_trace took plotly's checks again
    rows_of: list[int] = []
    for row, part in enumerate(parts, start=1):
        for value in colors:
            bars = part[part[column] == value]
            if bars.empty:
                continue
            bars_of.append(
                go.Bar(
                    x=bars["percent"],
                    y=bars["diagnosis"],
                    orientation="h",
                    name=value,
                    legendgroup=value,
                    showlegend=value not in shown,
                    marker_color=colors[value],
                    customdata=bars["images"],
                    hovertemplate=f"%{{y}}: %{{x:.1f}}% {value} (%{{customdata:,}} images)"
                    "<extra></extra>",
                )
            )
            rows_of.append(row)
            shown.add(value)
    fig.add_traces(bars_of, rows=rows_of, cols=1)
    for row, part in enumerate(parts, start=1):
        present = set(part["diagnosis"])
        _diagnosis_axis(fig, [name for name in order if name in present], row=row, col=1)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(range=[0, 100], ticksuffix="%")
    return _layout(fig, title, plot_px, bottom_px=_TICKS_PX + 10, panel_title_px=_PANEL_TITLE_PX)


def sex_figure(table: pd.DataFrame) -> go.Figure:
    """Stacked bars: sex within each diagnosis, a panel per dataset."""
    return _stacked_by_diagnosis(table, "sex", "Sex by diagnosis (%)", SEX_COLORS)


def confirmation_figure(table: pd.DataFrame) -> go.Figure:
    """Stacked bars: how each diagnosis was confirmed, a panel per dataset."""
    title = "How each diagnosis was confirmed (%)"
    return _stacked_by_diagnosis(table, "confirmation", title, CONFIRMATION_COLORS)


def site_figure(table: pd.DataFrame) -> go.Figure:
    """Heat map per dataset: % of each diagnosis's images at each body site.

    Diagnoses down each panel's own y axis; the sites, which the datasets share, in the same
    columns of every panel, labelled at 45 degrees in a gap computed from their length. A
    diagnosis with too few images in a dataset for a share is left out."""
    title = "Body site by diagnosis (% of each diagnosis)"
    table, empty = _shares_or_empty(table, title)
    if empty is not None:
        return empty
    names = dataset_order(table["dataset"])
    sites = ordered(table["site"].unique(), SITES)
    label_px = _rotated_px(sites)
    parts = [table[table["dataset"] == name] for name in names]
    rows = [part["diagnosis"].nunique() for part in parts]
    fig, plot_px = _panels(names, rows, label_px + _PANEL_TITLE_PX)
    maps = [_heatmap(part, sites) for part in parts]
    fig.add_traces(maps, rows=list(range(1, len(maps) + 1)), cols=1)  # at once, checked once
    for row, heatmap in enumerate(maps, start=1):
        _diagnosis_axis(fig, list(heatmap.y), row=row, col=1)
    fig.update_xaxes(tickangle=-45, categoryorder="array", categoryarray=sites)
    # Every cell prints its %, so no colour bar takes a phone's width to say it again.
    fig.update_layout(
        coloraxis={"colorscale": HEAT_SCALE, "cmin": 0, "cmax": 100, "showscale": False}
    )
    return _layout(fig, title, plot_px, bottom_px=label_px + 10, panel_title_px=_PANEL_TITLE_PX)


def _heatmap(part: pd.DataFrame, sites: list[str]) -> go.Heatmap:
    """One dataset's heat map: % of each diagnosis's images (rows) at each site (columns)."""
    z = part.pivot(index="diagnosis", columns="site", values="percent")
    counts = part.pivot(index="diagnosis", columns="site", values="images")
    codes = diagnosis_order(z.index)
    z = z.reindex(index=codes, columns=sites)
    counts = counts.reindex(index=codes, columns=sites)
    return go.Heatmap(
        z=z.fillna(0).to_numpy(),
        x=list(z.columns),
        y=[diagnosis_name(code) for code in z.index],
        customdata=counts.fillna(0).astype(int).to_numpy(),
        text=z.round(0).fillna(0).astype(int).to_numpy(),
        texttemplate="%{text}",
        textfont_color=TITLE_TEXT,
        hovertemplate="%{y} at %{x}: %{z:.1f}% (%{customdata:,} images)<extra></extra>",
        coloraxis="coloraxis",
    )


def group_size_figure(table: pd.DataFrame, level: str = "lesion") -> go.Figure:
    """Bars: % of images by how many images their lesion (patient) has."""
    column = group_column(level)
    title = f"Images by how many images their {level} has (%)"
    if table.empty:
        return _empty_figure(title)
    fig = px.bar(
        table,
        x=column,
        y="percent",
        color="dataset",
        barmode="group",
        color_discrete_map=_colors(table["dataset"]),
        category_orders={column: list(GROUP_LABELS)},
        hover_data={"images": ":,", "percent": ":.1f"},
        labels={column: f"images of the same {level}", "percent": "% of images"},
    )
    # The labels "1"…"5" look like numbers: without a categorical axis plotly draws a numeric
    # one (1.5…5.5) on which "6-10", "11-20", "21-50" and "51+" have no place.
    groups = [label for label in GROUP_LABELS if label in set(table[column])]
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=groups)
    return _layout(fig, title, 300)


def imbalance_figure(table: pd.DataFrame) -> go.Figure:
    """Bars per dataset: accuracy vs balanced accuracy of always answering the commonest class."""
    title = "Always answering the commonest class"
    if table.empty:
        return _empty_figure(title)
    long = table.melt(
        id_vars=["dataset", "majority_class"],
        value_vars=["accuracy", "balanced_accuracy"],
        var_name="metric",
        value_name="score",
    )
    long["metric"] = long["metric"].str.replace("_", " ")
    long["majority_class"] = long["majority_class"].map(diagnosis_name)
    long["score"] = 100 * long["score"]
    fig = px.bar(
        long,
        x="dataset",
        y="score",
        color="metric",
        barmode="group",
        hover_data={"majority_class": True},
        labels={"score": "%", "dataset": "", "majority_class": "commonest class"},
        color_discrete_map={"accuracy": "#999933", "balanced accuracy": "#332288"},
    )
    fig.update_yaxes(range=[0, 100])
    # A dataset with fewer of the model's classes says so under its bars: ISIC 2020's 33% read
    # as a flaw in the sum where it is 1/3, over the 3 classes it holds.
    fig.update_xaxes(
        tickvals=list(table["dataset"]),
        ticktext=[
            name if n == len(CODES) else f"{name}<br>({n} of {len(CODES)} classes)"
            for name, n in zip(table["dataset"], table["n_classes"], strict=True)
        ],
    )
    return _layout(fig, title, 300, bottom_px=46)
