"""The Statistics page's figures are exactly what they were before their building was made
faster: every chart's JSON (what ``st.plotly_chart`` sends) for a few filters, with and without
an upload, under the diagnoses' toggles, and the lessons' share bars, against fingerprints
written by the earlier code (``python tests/test_walk_figures_speed.py --write``). Under
plotly's default template, as in the CLI and the reports, and Streamlit's, which importing
Streamlit makes the default, as in the app.

The digests were rewritten once since, on purpose: a chart's legend no longer carries an empty
``"title": {}``, which st.cache_data's pickling dropped, so that the figures a server builds for
its first visitor are the ones its cache gives every later visitor (every other byte as
before)."""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from pathlib import Path

import plotly.io as pio
import pytest
from streamlit.elements.lib import streamlit_plotly_theme

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from skindx.datasets import charts  # noqa: E402
from skindx.datasets.figures import share_bars  # noqa: E402
from skindx.datasets.filters import Filters, apply_filters, combine_cubes  # noqa: E402
from skindx.datasets.summary import cube_frame, load_summary  # noqa: E402
from skindx.datasets.uploads import summarize_upload  # noqa: E402

FINGERPRINTS = ROOT / "tests" / "data" / "figures_fingerprints.json"
FILTERS = {
    "all": Filters(),
    "female": Filters(sexes=("female",)),
    "ham_age": Filters(datasets=("HAM10000", "Your data"), age_range=(40, 60)),
    "face_mel": Filters(sites=("head/neck",), diagnoses=("mel", "nv", "bcc")),
    "nothing": Filters(sexes=("no such sex",)),
}
TOGGLES = {"plain": {}, "percent": {"percent": True}, "log": {"log": True}}
TEMPLATES = ("plotly", "streamlit")


def upload_csv(rows: int = 600) -> bytes:
    """An ISIC-format metadata CSV of ``rows`` images, built from fixed cycles (no data file, no
    randomness): several images per lesion, unknown ages, sexes and sites among them."""
    dx = ["nv", "nv", "nv", "mel", "bkl", "bcc", "akiec", "vasc", "df", "nv", "mel"]
    dx_type = ["histo", "follow_up", "consensus", "confocal"]
    sexes = ["female", "male", "male", "female", ""]
    sites = ["back", "face", "lower extremity", "trunk", "unknown", "scalp", "upper extremity"]
    lines = ["lesion_id,image_id,dx,dx_type,age,sex,localization"]
    for i in range(rows):
        age = "" if i % 13 == 0 else str(5 * (i * 7 % 17) + 10)
        lines.append(
            f"L{i // 3},I{i},{dx[i % len(dx)]},{dx_type[i % 4]},{age},"
            f"{sexes[i % 5]},{sites[i * 3 % len(sites)]}"
        )
    return ("\n".join(lines) + "\n").encode()


def _cubes() -> dict[str, object]:
    bundled = cube_frame(load_summary())
    upload = cube_frame(summarize_upload(upload_csv(), "mine.csv"))
    return {"bundled": bundled, "upload": combine_cubes(bundled, upload)}


def _digest(figure) -> str:
    """The figure's JSON, keys sorted (the order in which properties were set is no change)."""
    canonical = json.dumps(json.loads(pio.to_json(figure, engine="json")), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def fingerprints() -> dict[str, str]:
    """A digest of each figure's JSON, by template, data, filters, chart and toggles."""
    streamlit_plotly_theme.configure_streamlit_plotly_theme()  # Streamlit's template defined
    default = pio.templates.default
    try:
        digests = {}
        for template in TEMPLATES:
            pio.templates.default = template
            digests |= {f"{template}/{k}": v for k, v in _fingerprints().items()}
    finally:
        pio.templates.default = default
    return digests


def _fingerprints() -> dict[str, str]:
    digests = {}
    for data, cube in _cubes().items():
        for name, filters in FILTERS.items():
            view = apply_filters(cube, filters)
            for key in charts.CHARTS:
                for toggle, options in TOGGLES.items() if key == "diagnoses" else [("", {})]:
                    shown = charts.chart(key, view, filters, **options)
                    ident = "/".join(filter(None, (data, name, key, toggle)))
                    digests[ident] = shown and _digest(shown.figure)
    shares = {"HAM10000": {"Melanoma": 11.1, "Nevus": 66.9}, "Clinic": {"Nevus": 70.0}}
    digests["share_bars"] = _digest(share_bars(shares, "Shares", "% of images"))
    digests["share_bars/one"] = _digest(share_bars({"Mine": {"a": 5.0}}, "One", "%"))
    return digests


@pytest.fixture(scope="module")
def now() -> dict[str, str]:
    return fingerprints()


def test_the_cases_cover_the_charts(now: dict[str, str]) -> None:
    kept = json.loads(FINGERPRINTS.read_text())
    assert set(now) == set(kept)
    per_template = 2 * len(FILTERS) * (len(charts.CHARTS) + 2) + 2
    assert len(kept) == len(TEMPLATES) * per_template


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("data", ["bundled", "upload", "share_bars"])
def test_every_figure_is_unchanged(now: dict[str, str], template: str, data: str) -> None:
    kept = json.loads(FINGERPRINTS.read_text())
    mine = [ident for ident in kept if ident.startswith(f"{template}/{data}")]
    assert mine
    assert [ident for ident in mine if now[ident] != kept[ident]] == []


@pytest.mark.parametrize("key", charts.CHARTS)
def test_a_kept_chart_is_the_chart_built(key: str) -> None:
    """The page keeps its opening charts in st.cache_data, which pickles them: a figure that
    came back different (an empty legend title lost) was drawn again by plotly on the next
    run of a server's first visitor."""
    cube = _cubes()["upload"]
    view = apply_filters(cube, FILTERS["all"])
    built = charts.chart(key, view, FILTERS["all"])
    assert _digest(pickle.loads(pickle.dumps(built)).figure) == _digest(built.figure)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    FINGERPRINTS.write_text(json.dumps(fingerprints(), indent=1, sort_keys=True) + "\n")
