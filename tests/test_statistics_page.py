"""The Statistics page under AppTest: the bundled summary, filters, and uploaded CSVs.

Uploads go through AppTest's own ``file_uploader`` element (``set_value((name, bytes, mime))``),
which the installed streamlit provides, so the page's real upload path is exercised.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = Path(__file__).resolve().parents[1] / "pages" / "statistics.py"
TIMEOUT = 120

UPLOAD = b"""lesion_id,image_id,dx,dx_type,age,sex,localization,dataset
HAM_0000118,ISIC_0027419,bkl,histo,80.0,male,scalp,vidir_modern
HAM_0000118,ISIC_0025030,bkl,histo,80.0,male,scalp,vidir_modern
HAM_0002761,ISIC_0029176,bkl,histo,60.0,male,face,vidir_modern
HAM_0003136,ISIC_0027008,nv,follow_up,45.0,male,trunk,vidir_molemax
HAM_0000871,ISIC_0029478,mel,consensus,,unknown,unknown,vidir_molemax
HAM_0004668,ISIC_0024480,nv,confocal,50.0,female,acral,vidir_molemax
"""


def _takeaways(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**Takeaway.**")]


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def test_page_with_bundled_summary(app: AppTest) -> None:
    assert app.title[0].value == "ISIC dataset statistics"
    assert len(app.get("plotly_chart")) == 9
    takeaways = _takeaways(app)
    assert len(takeaways) == 9
    assert any("HAM10000" in t and "1/7" in t for t in takeaways)
    assert len(app.get("download_button")) == 9
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


def test_widget_keys_are_prefixed(app: AppTest) -> None:
    widgets = [
        *app.multiselect,
        *app.slider,
        *app.toggle,
        *app.file_uploader,
        *app.get("download_button"),
    ]
    keys = [widget.key for widget in widgets]
    assert len(keys) == 4 + 1 + 2 + 1 + 9
    assert all(key and key.startswith("stats_") for key in keys), keys


def test_filters_update_every_chart(app: AppTest) -> None:
    before = _takeaways(app)
    app.multiselect(key="stats_diagnosis").set_value(["mel", "nv"])
    app.multiselect(key="stats_sex").set_value(["female"])
    app.slider(key="stats_age").set_value((40, 60))
    app.run()
    assert not app.exception
    after = _takeaways(app)
    assert len(after) == len(before)
    changed = [b != a for b, a in zip(before, after, strict=True)]
    assert sum(changed) >= 6, list(zip(before, after, strict=True))
    assert int(app.metric[0].value.replace(",", "")) < 10015


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
    assert any("Your data" in t for t in _takeaways(app))
    app.multiselect(key="stats_datasets").set_value(["Your data"])
    app.run()
    assert not app.exception
    assert app.metric[0].value == "6"
    # The summary lives in this session only, keyed by the upload; never in st.cache_data.
    assert app.session_state["stats_upload_result"][1]["datasets"]["Your data"]["n_images"] == 6


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"foo,bar\n1,2\n", "none of its columns (foo, bar)"),
        (b"lesion_id,image_id,age\nL1,I1,40\n", "missing: dx"),
        (b"image_id,dx,age\nI1,nv,forty\n", "'age' must be numeric"),
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
    ],
)
def test_upload_bad_csv(app: AppTest, data: bytes, expected: str) -> None:
    app.file_uploader(key="stats_upload").set_value(("bad.csv", data, "text/csv"))
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    assert expected in app.error[0].value
    assert "bad.csv" in app.error[0].value
    assert "Your data" not in app.multiselect(key="stats_datasets").options
    assert len(app.get("plotly_chart")) == 9  # the bundled charts still show


def test_page_source_rules() -> None:
    source = PAGE.read_text()
    assert "set_page_config" not in source
    assert source.count("st.cache_data") == 1  # the bundled summary only
