"""The Statistics page under AppTest: the bundled summary, filters, and uploaded CSVs.

Uploads go through AppTest's own ``file_uploader`` element (``set_value((name, bytes, mime))``),
which the installed streamlit provides, so the page's real upload path is exercised.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from skindx.datasets.charts import CHARTS

PAGE = Path(__file__).resolve().parents[1] / "pages" / "statistics.py"
TIMEOUT = 120
T = TypeVar("T")

UPLOAD = b"""lesion_id,image_id,dx,dx_type,age,sex,localization,dataset
HAM_0000118,ISIC_0027419,bkl,histo,80.0,male,scalp,vidir_modern
HAM_0000118,ISIC_0025030,bkl,histo,80.0,male,scalp,vidir_modern
HAM_0002761,ISIC_0029176,bkl,histo,60.0,male,face,vidir_modern
HAM_0003136,ISIC_0027008,nv,follow_up,45.0,male,trunk,vidir_molemax
HAM_0000871,ISIC_0029478,mel,consensus,,unknown,unknown,vidir_molemax
HAM_0004668,ISIC_0024480,nv,confocal,50.0,female,acral,vidir_molemax
"""


FORMULA = "=cmd|' /c calc'!A0"
IMAGE_MARKDOWN = "![t](https://example.org/p.png)"
HOSTILE = (
    "image_id,dx,age,sex\n"
    + "".join(f'I{i},"{FORMULA}",40,male\n' for i in range(4))
    + "".join(f"I{i + 10},{IMAGE_MARKDOWN},50,female\n" for i in range(2))
    + "".join(f"I{i + 20},nv,60,female\n" for i in range(3))
).encode()  # neither hostile value is a diagnosis the page knows: the warning quotes both


def _takeaways(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**Takeaway.**")]


def _over_tabs(at: AppTest, read: Callable[[AppTest], list[T]]) -> list[T]:
    """``read`` of every tab of charts in turn, each chosen as a person would (a tab sends its
    own charts only), in the page's order; the first tab chosen again at the end."""
    seen: list[T] = []
    labels = [tab.label for tab in at.tabs]
    assert len(labels) == 5, labels
    for label in labels:
        at.session_state["stats_tab"] = label
        at.run()
        assert not at.exception
        seen += read(at)
    at.session_state["stats_tab"] = labels[0]
    at.run()
    return seen


def _charts(at: AppTest) -> list:
    return list(at.get("plotly_chart"))


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def test_page_with_bundled_summary(app: AppTest) -> None:
    assert app.title[0].value == "ISIC dataset statistics"
    assert len(app.get("plotly_chart")) == 3  # the first tab's: diagnoses, malignancy, imbalance
    takeaways = _over_tabs(app, _takeaways)
    assert len(takeaways) == 9
    assert any("HAM10000" in t and "1/7" in t for t in takeaways)
    assert len(_over_tabs(app, lambda at: list(at.get("download_button")))) == 9
    assert app.multiselect(key="stats_datasets").value == [
        "HAM10000",
        "ISIC 2018 test",
        "ISIC 2019",
        "ISIC 2020",
    ]
    assert app.metric[0].value == f"{10015 + 1512 + 25331 + 33126:,}"
    overview = app.dataframe[0].value.set_index("dataset")
    assert overview.loc["HAM10000", "lesions"] == "7,470"
    assert overview.loc["ISIC 2020", "lesions"] == "—"  # not "None": ISIC 2020 has no lesion ids


def test_every_chart_is_in_a_tab_in_the_page_order(app: AppTest) -> None:
    """The charts are grouped in tabs, each sending its own charts only: every chart is in one
    tab, under its heading, in the order the page had them on one long page."""
    assert [tab.label for tab in app.tabs] == [
        "Diagnoses",
        "Age, sex",
        "Body site",
        "Confirmation",
        "Per lesion",
    ]
    ids = [chart.proto.id for chart in _over_tabs(app, _charts)]
    assert len(ids) == len(CHARTS)
    assert all(i.endswith(f"stats_chart_{key}") for i, key in zip(ids, CHARTS, strict=True))
    headings = _over_tabs(app, lambda at: [h.value for h in at.header])
    assert headings == [
        "Diagnoses",
        "Benign or malignant",
        "Why the model is judged by balanced accuracy",
        "Age by diagnosis",
        "Sex by diagnosis",
        "Body site by diagnosis",
        "How each diagnosis was confirmed",
        "Images per lesion and per patient",
    ]


def test_the_tab_shown_outlives_a_visit_to_another_page(app: AppTest) -> None:
    app.session_state["stats_tab"] = "Body site"
    app.run()
    del app.session_state["stats_tab"]  # Streamlit forgets a page's widgets while away
    app.run()
    assert not app.exception
    assert app.session_state["stats_tab"] == "Body site"
    assert [h.value for h in app.header] == ["Body site by diagnosis"]


def test_every_table_has_one_number_format_per_column(app: AppTest) -> None:
    """The walk-through: the overview showed "0" next to "81.9" in one column."""
    for key in CHARTS:  # every chart's table, opened (a closed one is not sent)
        app.session_state[f"stats_table_open_{key}"] = True
    app.run()
    assert not app.exception
    overview = json.loads(app.dataframe[0].proto.columns)
    for column in ("malignant %", "melanoma %", "unknown diagnosis %"):
        assert overview[column]["type_config"]["format"] == "%.1f"
    tables = [app.dataframe[0], *_over_tabs(app, lambda at: list(at.dataframe)[1:])]
    assert len(tables) == 1 + len(CHARTS)
    for table in tables:
        values = table.value
        configs = json.loads(table.proto.columns)
        floats = [c for c in values.columns if values[c].dtype.kind == "f"]
        assert floats
        assert all(configs[c]["type_config"].get("format") for c in floats), floats


def test_charts_hide_the_mode_bar(app: AppTest) -> None:
    """Plotly's toolbar, shown on a tap on a phone, was drawn over the charts' titles."""
    configs = [json.loads(chart.proto.config) for chart in _over_tabs(app, _charts)]
    assert len(configs) == 9
    assert all(config["displayModeBar"] is False for config in configs)


def test_widget_keys_are_prefixed(app: AppTest) -> None:
    widgets = [
        *app.multiselect,
        *app.slider,
        *app.toggle,
        *app.file_uploader,
        *_over_tabs(app, lambda at: list(at.get("download_button"))),
    ]
    keys = [widget.key for widget in widgets]
    assert len(keys) == len(set(keys)) == 4 + 1 + 2 + 1 + 9
    assert all(key and key.startswith("stats_") for key in keys), keys


def test_filters_update_every_chart(app: AppTest) -> None:
    before = _over_tabs(app, _takeaways)
    app.multiselect(key="stats_diagnosis").set_value(["mel", "nv"])
    app.multiselect(key="stats_sex").set_value(["female"])
    app.slider(key="stats_age").set_value((40, 60))
    app.run()
    assert not app.exception
    after = _over_tabs(app, _takeaways)
    assert len(after) == len(before)
    changed = [b != a for b, a in zip(before, after, strict=True)]
    assert sum(changed) >= 6, list(zip(before, after, strict=True))
    assert int(app.metric[0].value.replace(",", "")) < 10015


def test_takeaways_follow_the_filters(app: AppTest) -> None:
    """The walk-through: female + torso gave "100.0% ... on the torso" and "too few images"."""
    app.multiselect(key="stats_sex").set_value(["female"])
    app.multiselect(key="stats_site").set_value(["torso"])
    app.run()
    assert not app.exception
    assert app.metric[0].value == "13,866"
    takeaways = [_plain(t) for t in _over_tabs(app, _takeaways)]
    assert any(
        "Only torso images are selected, so there is no site comparison." in t for t in takeaways
    )
    assert any("Only images of women are selected" in t for t in takeaways)
    assert not [t for t in takeaways if "Too few" in t or "100.0% of" in t], takeaways
    app.multiselect(key="stats_site").set_value(["torso", "head/neck"])
    app.run()
    assert any("Among the selected sites" in t for t in map(_plain, _over_tabs(app, _takeaways)))


def test_toggles_and_dataset_choice(app: AppTest) -> None:
    app.toggle(key="stats_percent").set_value(True)
    app.multiselect(key="stats_datasets").set_value(["ISIC 2020"])
    app.run()
    assert not app.exception
    assert app.metric[0].value == "33,126"
    app.toggle(key="stats_percent").set_value(False)
    app.run()
    app.toggle(key="stats_log").set_value(True)
    app.run()
    assert not app.exception


def test_no_dataset_or_no_match(app: AppTest) -> None:
    app.multiselect(key="stats_diagnosis").set_value(["df"])
    app.multiselect(key="stats_site").set_value(["oral/genital"])
    app.multiselect(key="stats_datasets").set_value(["ISIC 2020"])
    app.run()
    assert not app.exception
    assert app.warning and "No images match" in app.warning[0].value
    app.multiselect(key="stats_datasets").set_value([])
    app.run()
    assert not app.exception
    assert "at least one dataset" in app.info[0].value


def test_upload_valid_csv(app: AppTest) -> None:
    app.file_uploader(key="stats_upload").set_value(("mine.csv", UPLOAD, "text/csv"))
    app.run()
    assert not app.exception
    assert not app.error
    assert "6 images read" in app.success[0].value
    assert "Your data" in app.multiselect(key="stats_datasets").value
    assert any("In your data, " in t for t in _over_tabs(app, _takeaways))
    app.multiselect(key="stats_datasets").set_value(["Your data"])
    app.run()
    assert not app.exception
    assert app.metric[0].value == "6"
    # The upload is named as a reader would ("your images"), never "the Your data images".
    takeaways = [_plain(t) for t in _takeaways(app)]
    assert "**Takeaway.** 16.7% of your images shown are malignant." in takeaways
    assert not [t for t in takeaways if "Your data" in t or re.search(r"(?<![\d.])0\.0%", t)]
    # The summary lives in this session only, keyed by the upload; never in st.cache_data.
    assert app.session_state["stats_upload_result"][1]["datasets"]["Your data"]["n_images"] == 6


def test_charts_of_an_upload_are_made_for_its_session_never_kept(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The charts of the page as it opens are kept across sessions (st.cache_data); with an
    upload, or a filter, every chart shown (the tab's) is made afresh from the session's own
    view."""
    import importlib

    module = importlib.import_module("skindx.datasets.charts")
    made: list[set[str]] = []
    real = module.chart

    def spy(key, view, *args, **options):  # type: ignore[no-untyped-def]
        made.append(set(view["dataset"]))
        return real(key, view, *args, **options)

    monkeypatch.setattr(module, "chart", spy)
    app.run()  # no upload: the kept charts, none made again
    assert made == []
    app.multiselect(key="stats_sex").set_value(["female"])
    app.run()  # a filter: this session's charts
    assert len(made) == len(app.get("plotly_chart")) == 3
    app.multiselect(key="stats_sex").set_value([])
    app.run()
    made.clear()
    app.file_uploader(key="stats_upload").set_value(("mine.csv", UPLOAD, "text/csv"))
    app.run()
    assert not app.exception
    assert len(made) == 3 and all("Your data" in shown for shown in made)
    _over_tabs(app, _charts)  # every other tab's charts, made as it is chosen
    assert len(made) == len(CHARTS) and all("Your data" in shown for shown in made)


def test_upload_with_values_the_page_does_not_know(app: AppTest) -> None:
    """The walk-through: dx=foo, sex=robot, localization=moon gave "3 images read." alone, and
    the overview counted 3 diagnoses, 0% unknown."""
    data = b"image_id,dx,sex,localization\n" + b"".join(
        b"I%d,foo,robot,moon\n" % i for i in range(3)
    )
    app.file_uploader(key="stats_upload").set_value(("baddx3.csv", data, "text/csv"))
    app.run()
    assert not app.exception
    assert not app.error
    assert _plain(app.success[0].value) == "baddx3.csv: 3 images read."
    warnings = [_plain(w.value) for w in app.warning]
    assert (
        "3 rows have a diagnosis skindx does not know (foo); they are counted as unknown."
        in warnings
    )
    assert any("a sex skindx does not know (robot)" in w for w in warnings)
    assert any("a body site skindx does not know (moon)" in w for w in warnings)
    overview = app.dataframe[0].value.set_index("dataset")
    assert overview.loc["Your data", "diagnoses"] == 0
    assert overview.loc["Your data", "unknown diagnosis %"] == 100
    # Alone, such an upload has no known malignancy: no "0.0% malignant" takeaway, none at all.
    app.multiselect(key="stats_datasets").set_value(["Your data"])
    app.run()
    assert not [t for t in _takeaways(app) if "malignant" in t]
    app.file_uploader(key="stats_upload").set_value(
        ("one.csv", b"image_id,dx\nI1,nv\n", "text/csv")
    )
    app.run()
    assert _plain(app.success[0].value) == "one.csv: 1 image read."
    assert [_plain(w.value) for w in app.warning] == [  # nothing unknown; nothing but dx given
        "No image in this file has an age, a sex or a body site, so the charts count all its "
        "images as “unknown”.",
        "With only 1 image, the shares (percentages) in the charts are rough: one image more or "
        "less moves a share by about 100 points. Compare them with the datasets' with care.",
    ]


def test_upload_with_an_unusable_age_warns_and_shows_the_charts(app: AppTest) -> None:
    """The walk-through: one age "forty" refused the whole file ("'age' must be numeric"),
    where a sex "robot" was only counted as unknown."""
    data = b"image_id,dx,age,sex\nI1,nv,forty,male\nI2,mel,300,female\nI3,nv,-5,male\n"
    data += b"I4,bcc,55,female\n"
    app.file_uploader(key="stats_upload").set_value(("ages.csv", data, "text/csv"))
    app.run()
    assert not app.exception
    assert not app.error
    assert _plain(app.success[0].value) == "ages.csv: 4 images read."
    assert [_plain(w.value) for w in app.warning] == [
        "No image in this file has a body site, so the charts count all its images as “unknown”.",
        "3 rows have an age that is not a number from 0 to 120 (forty, 300, -5); "
        "they are counted as unknown.",
        "With only 4 images, the shares (percentages) in the charts are rough: one image more "
        "or less moves a share by about 25 points. Compare them with the datasets' with care.",
    ]
    assert "Your data" in app.multiselect(key="stats_datasets").value
    assert len(_over_tabs(app, _charts)) == 9


def test_diagnoses_with_too_few_images_are_named_not_charted(app: AppTest) -> None:
    """The walk-through: an upload's 2 melanomas of men aged 80 read "100% male", "100% aged
    80" beside HAM10000's thousands. They are left out of the share charts and named."""
    data = b"image_id,dx,dx_type,age,sex,localization\n" + b"".join(
        b"I%d,%s,histo,%d,%s,back\n" % (i, dx, age, sex)
        for i, (dx, age, sex) in enumerate(
            [(b"mel", 80, b"male"), (b"mel", 80, b"male"), (b"df", 50, b"female")]
            + [(b"nv", 30 + 5 * i, b"female" if i % 2 else b"male") for i in range(5)]
        )
    )
    app.file_uploader(key="stats_upload").set_value(("tiny.csv", data, "text/csv"))
    app.run()
    app.multiselect(key="stats_datasets").set_value(["Your data"])
    app.run()
    assert not app.exception
    notes = [_plain(c.value) for c in _over_tabs(app, _notes)]
    assert len(notes) == 4  # age, sex, body site, confirmation
    assert all(
        note.endswith("in your data, dermatofibroma (df) n = 1 and melanoma (mel) n = 2.")
        for note in notes
    )
    charts = {c.proto.id: c.proto.spec for c in _over_tabs(app, _charts)}
    sex = next(spec for key, spec in charts.items() if "stats_chart_sex" in key)
    assert "Melanocytic nevus" in sex and "Melanoma" not in sex  # nevi: 5 images, charted
    takeaways = " ".join(_plain(t) for t in _over_tabs(app, _takeaways))
    assert "For melanoma and BCC" not in takeaways  # was "100.0%", from 2 melanomas
    assert "Too few images of known sex and diagnosis for a comparison." in takeaways


def _notes(at: AppTest) -> list:
    return [c for c in at.caption if c.value.startswith("Not charted")]


def test_the_bundled_charts_name_their_one_image_diagnoses(app: AppTest) -> None:
    notes = [_plain(c.value) for c in _over_tabs(app, _notes)]
    assert len(notes) == 4
    assert "in ISIC 2020, atypical melanocytic proliferation n = 1 and cafe-au-lait" in notes[0]


def test_upload_stays_selected_on_the_next_interaction(app: AppTest) -> None:
    """Issue #27: "Your data" was shown but not selected, and the next rerun dropped it."""
    app.multiselect(key="stats_datasets").set_value(["HAM10000", "ISIC 2020"])
    app.run()
    app.file_uploader(key="stats_upload").set_value(("mine.csv", UPLOAD, "text/csv"))
    app.run()
    assert not app.exception
    chosen = ["Your data", "HAM10000", "ISIC 2020"]
    assert app.multiselect(key="stats_datasets").value == chosen  # the person's choice kept
    app.toggle(key="stats_log").set_value(True)
    app.run()
    assert app.multiselect(key="stats_datasets").value == chosen
    assert not [w for w in app.warning if "Session State" in w.value]
    app.file_uploader(key="stats_upload").set_value(None)
    app.run()
    assert not app.exception
    assert app.multiselect(key="stats_datasets").value == ["HAM10000", "ISIC 2020"]


def test_upload_in_utf16_is_read(app: AppTest) -> None:
    """Spreadsheets save "Unicode text" as UTF-16 (with a byte order mark, tab-separated)."""
    text = UPLOAD.decode().replace(",", "\t")
    app.file_uploader(key="stats_upload").set_value(("mine.txt", text.encode("utf-16"), "text/csv"))
    app.run()
    assert not app.exception
    assert not app.error
    assert "6 images read" in app.success[0].value


def test_unclosed_quote_gets_one_plain_sentence(app: AppTest) -> None:
    data = b'image_id,dx,age\nI1,"nv,40\nI2,mel,50\n'
    app.file_uploader(key="stats_upload").set_value(("quote.csv", data, "text/csv"))
    app.run()
    assert not app.exception
    message = _plain(app.error[0].value)
    assert "quotation mark" in message and "never closed" in message
    assert "tokenizing" not in message and "C error" not in message and "EOF" not in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence


def _plain(markdown: str) -> str:
    """What a person reads of an escaped markdown text."""
    return re.sub(r"\\(.)", r"\1", markdown)


@pytest.fixture
def csv_downloads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bytes of every CSV the page offers, as AppTest's media storage receives them."""
    seen: list[bytes] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):  # type: ignore[no-untyped-def]
        if mimetype == "text/csv":
            seen.append(bytes(path_or_data))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


def test_uploaded_values_stay_inert(app: AppTest, csv_downloads: list[bytes]) -> None:
    """Issue #28: a formula in a diagnosis reached the CSV downloads, and markdown in one was
    rendered (the browser fetched an outside image)."""
    csv_downloads.clear()
    app.file_uploader(key="stats_upload").set_value(("mine.csv", HOSTILE, "text/csv"))
    app.run()
    assert not app.exception
    assert len(_over_tabs(app, lambda at: list(at.get("download_button")))) == 9
    tables = [pd.read_csv(io.BytesIO(data), dtype=str) for data in csv_downloads]
    assert len(tables) >= 9
    cells = [str(v) for t in tables for v in [*t.columns, *t.to_numpy().ravel()]]
    risky = [c for c in cells if c.lstrip().startswith(("=", "+", "-", "@"))]
    assert not risky  # never where a spreadsheet would run it
    # Neither is a diagnosis the page knows: the warning quotes both, escaped, and the charts,
    # tables and takeaways count them as unknown.
    notes = [w.value for w in app.warning if "diagnosis skindx does not know" in w.value]
    assert len(notes) == 1
    assert FORMULA in _plain(notes[0]) and IMAGE_MARKDOWN in _plain(notes[0])
    assert "![" not in notes[0] and "](" not in notes[0]  # escaped: shown as text, not an image
    assert not [c for c in cells if FORMULA.lower() in c.lower() or "example.org" in c]
    markdown = [m.value for m in app.markdown] + [e.value for e in (*app.success, *app.warning)]
    assert not [m for m in markdown if "![" in m]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"foo,bar\n1,2\n", "none of its columns (foo, bar)"),
        (b"lesion_id,image_id,age\nL1,I1,40\n", "missing: dx"),
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
    ],
)
def test_upload_bad_csv(app: AppTest, data: bytes, expected: str) -> None:
    app.file_uploader(key="stats_upload").set_value(("bad.csv", data, "text/csv"))
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    assert expected in _plain(app.error[0].value)
    assert "bad.csv" in _plain(app.error[0].value)
    assert "Your data" not in app.multiselect(key="stats_datasets").options
    assert len(_over_tabs(app, _charts)) == 9  # the bundled charts still show


def test_page_source_rules() -> None:
    source = PAGE.read_text()
    assert "set_page_config" not in source
    assert source.count("st.cache_data") == 2  # the bundled summary and its charts only
    assert "to_csv" not in source  # every download through results.safe_csv
