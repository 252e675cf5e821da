"""skindx.datasets statistics: the summary, its cube and filters, tables, figures and takeaways."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from skindx.datasets.figures import (
    TOO_FEW_TEXT,
    age_figure,
    confirmation_figure,
    diagnosis_figure,
    group_size_figure,
    imbalance_figure,
    malignancy_figure,
    sex_figure,
    site_figure,
)
from skindx.datasets.filters import (
    Filters,
    apply_filters,
    combine_cubes,
    filter_options,
    keeps_everything,
)
from skindx.datasets.metadata import MetadataError, read_metadata
from skindx.datasets.names import UPLOAD_DATASET, diagnosis_name
from skindx.datasets.summary import (
    AGE_BIN_WIDTH,
    CUBE_DIMS,
    GROUP_LABELS,
    SCHEMA_VERSION,
    SUMMARY_PATH,
    SummaryError,
    cube_frame,
    load_summary,
    summarize,
    write_summary,
)
from skindx.datasets.tables import (
    MIN_IMAGES_FOR_SHARE,
    age_table,
    balanced_accuracy_example,
    confirmation_table,
    diagnosis_table,
    enough_for_shares,
    group_size_table,
    imbalance_table,
    malignancy_table,
    overview_table,
    sex_table,
    site_table,
    too_few_for_shares,
)
from skindx.datasets.takeaways import (
    age_takeaway,
    confirmation_takeaway,
    diagnosis_takeaway,
    filters_line,
    group_size_takeaway,
    imbalance_takeaway,
    malignancy_takeaway,
    sex_takeaway,
    site_takeaway,
    too_few_note,
)
from skindx.datasets.uploads import (
    FEW_IMAGES,
    few_images_note,
    images_read,
    summarize_files,
    summarize_files_checked,
    summarize_upload,
    unknown_value_notes,
    unrecognised_notes,
    upload_notes,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PATHS = [
    DATA / "ham10000" / "HAM10000_metadata.csv",
    DATA / "isic2018_test" / "ISIC2018_Task3_Test_GroundTruth.csv",
    DATA / "isic_metadata" / "ISIC_2019_Training_GroundTruth.csv",
    DATA / "isic_metadata" / "ISIC_2020_Training_GroundTruth.csv",
]

HAM_COUNTS = {
    "nv": 6705,
    "mel": 1113,
    "bkl": 1099,
    "bcc": 514,
    "akiec": 327,
    "vasc": 142,
    "df": 115,
}
TEST_COUNTS = {"nv": 909, "bkl": 217, "mel": 171, "bcc": 93, "df": 44, "akiec": 43, "vasc": 35}

SMALL = b"""lesion_id,image_id,dx,dx_type,age,sex,localization
L1,I1,nv,follow_up,40,female,back
L1,I2,nv,follow_up,40,female,back
L2,I3,mel,histo,62,male,face
L3,I4,mel,histo,,male,unknown
L4,I5,bcc,histo,71,female,face
L5,I6,nv,consensus,23,,lower extremity
L6,I7,bkl,histo,58,male,chest
L6,I8,bkl,histo,58,male,chest
L6,I9,bkl,histo,58,male,chest
"""


@pytest.fixture(scope="module")
def summary() -> dict:
    return load_summary()


@pytest.fixture(scope="module")
def cube(summary: dict) -> pd.DataFrame:
    return cube_frame(summary)


@pytest.fixture(scope="module")
def small_frame() -> pd.DataFrame:
    return read_metadata(SMALL)


# --------------------------------------------------------------------------------------------
# The bundled summary (no shared data needed)


def test_bundled_summary_structure(summary: dict) -> None:
    assert summary["schema_version"] == SCHEMA_VERSION
    assert list(summary["datasets"]) == ["HAM10000", "ISIC 2018 test", "ISIC 2019", "ISIC 2020"]
    assert summary["cube"]["dims"] == list(CUBE_DIMS)
    assert SUMMARY_PATH.stat().st_size < 2 * 1024 * 1024
    json.dumps(summary)  # JSON-serialisable as loaded


def test_bundled_summary_holds_no_per_image_rows() -> None:
    text = SUMMARY_PATH.read_text()
    for prefix in ('"ISIC_00', '"HAM_', '"HAMTEST_', '"BCN_', '"IP_'):
        assert prefix not in text


def test_bundled_documented_counts(summary: dict) -> None:
    ham = summary["datasets"]["HAM10000"]
    assert ham["diagnosis_counts"] == HAM_COUNTS
    assert (ham["n_images"], ham["n_lesions"]) == (10015, 7470)
    assert summary["datasets"]["ISIC 2018 test"]["diagnosis_counts"] == TEST_COUNTS
    isic2020 = summary["datasets"]["ISIC 2020"]
    assert (isic2020["n_images"], isic2020["n_patients"]) == (33126, 2056)
    assert isic2020["malignant_counts"]["malignant"] == 584
    assert summary["datasets"]["ISIC 2019"]["n_images"] == 25331


def _check_cube_matches_tables(summary: dict, cube: pd.DataFrame) -> None:
    """The per-dataset tables (computed from the frame) equal what the cube yields."""
    diagnoses = diagnosis_table(cube)
    sexes = sex_table(cube)
    sites = site_table(cube)
    confirmations = confirmation_table(cube)
    ages = age_table(cube)
    malignancy = malignancy_table(cube)
    for name, data in summary["datasets"].items():
        assert cube.loc[cube["dataset"] == name, "images"].sum() == data["n_images"]
        mine = diagnoses[diagnoses["dataset"] == name].set_index("diagnosis")["images"]
        assert mine.to_dict() == data["diagnosis_counts"]
        mine = malignancy[malignancy["dataset"] == name].set_index("malignancy")["images"]
        assert mine.to_dict() == data["malignant_counts"]
        for table, column, key in (
            (sexes, "sex", "sex_by_diagnosis"),
            (sites, "site", "site_by_diagnosis"),
            (confirmations, "confirmation", "confirmation_by_diagnosis"),
        ):
            part = table[table["dataset"] == name]
            nested: dict[str, dict[str, int]] = {}
            for row in part.itertuples():
                nested.setdefault(row.diagnosis, {})[getattr(row, column)] = row.images
            assert nested == data[key], (name, key)
        histogram = data["age_histogram"]
        part = ages[ages["dataset"] == name]
        for code, counts in histogram["by_diagnosis"].items():
            mine = part[part["diagnosis"] == code].set_index("age")["images"]
            expected = {b: n for b, n in zip(histogram["bins"], counts, strict=True) if n}
            assert mine.to_dict() == expected, (name, code)


def test_bundled_cube_matches_tables(summary: dict, cube: pd.DataFrame) -> None:
    _check_cube_matches_tables(summary, cube)


def test_bundled_images_per_lesion(summary: dict, cube: pd.DataFrame) -> None:
    ham = summary["datasets"]["HAM10000"]["images_per_lesion"]
    assert sum(ham.values()) == 7470
    assert sum(int(k) * n for k, n in ham.items()) == 10015
    table = group_size_table(cube[cube["dataset"] == "HAM10000"], "lesion")
    images = table.set_index("lesion_images")["images"]
    assert images["1"] == ham["1"]
    assert images["2"] == 2 * ham["2"]
    assert images["3"] == 3 * ham["3"]


def test_balanced_accuracy_example(summary: dict) -> None:
    example = balanced_accuracy_example(summary)
    assert example["majority_class"] == "nv"
    assert example["accuracy"] == pytest.approx(6705 / 10015)
    assert example["balanced_accuracy"] == pytest.approx(1 / 7)
    assert example["n_classes"] == 7
    with pytest.raises(ValueError, match="no labelled images"):
        balanced_accuracy_example(summary, dataset="nowhere")


def test_summarize_small(small_frame: pd.DataFrame) -> None:
    summary = summarize(small_frame)
    data = summary["datasets"]["HAM10000"]
    assert data["n_images"] == 9
    assert data["n_lesions"] == 6
    assert data["n_patients"] is None
    assert data["diagnosis_counts"] == {"bcc": 1, "bkl": 3, "mel": 2, "nv": 3}
    assert data["malignant_counts"] == {"malignant": 3, "benign": 6}
    assert data["images_per_lesion"] == {"1": 4, "2": 1, "3": 1}
    assert data["sex_by_diagnosis"]["nv"] == {"female": 2, "unknown": 1}
    assert data["site_by_diagnosis"]["bkl"] == {"torso": 3}
    assert data["confirmation_by_diagnosis"]["nv"] == {"follow-up": 2, "consensus": 1}
    histogram = data["age_histogram"]
    assert histogram["bins"] == list(range(0, 75, 5))
    assert histogram["by_diagnosis"]["mel"][12] == 1  # 62 → the 60–64 bin
    assert histogram["unknown_by_diagnosis"]["mel"] == 1
    _check_cube_matches_tables(summary, cube_frame(summary))


def test_summarize_rejects_bad_frames() -> None:
    with pytest.raises(ValueError, match="missing column"):
        summarize(pd.DataFrame({"image_id": ["a"]}))
    with pytest.raises(ValueError, match="empty"):
        summarize(read_metadata(SMALL).iloc[:0])


def test_write_and_load_round_trip(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    summary = summarize(small_frame)
    path = write_summary(summary, tmp_path / "sub" / "summary.json")
    assert load_summary(path) == json.loads(json.dumps(summary))
    assert not list(path.parent.glob("*.partial"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "not found"),
        ("{not json", "not a readable JSON summary"),
        ('{"a": 1}', "not a statistics summary"),
        ('{"schema_version": 99, "datasets": {}, "cube": {}}', "schema version 99"),
    ],
)
def test_load_summary_errors(content: str | None, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SummaryError, match=expected):
        load_summary(path)


def test_summarize_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = summarize_upload(SMALL, "mine.csv")
    assert list(summary["datasets"]) == [UPLOAD_DATASET]
    with pytest.raises(MetadataError, match=r"mine\.csv: not a recognised"):
        summarize_upload(b"a,b\n1,2\n", "mine.csv")
    monkeypatch.setenv("SKINDX_MAX_UPLOAD_MB", "0")
    with pytest.raises(MetadataError, match="the limit is 0 MB"):
        summarize_upload(SMALL, "mine.csv")


def test_upload_values_the_page_does_not_know_count_as_unknown() -> None:
    """The walk-through's dx=foo, sex=robot, localization=moon were read silently, and the
    overview counted "foo" as a diagnosis."""
    data = b"image_id,dx,sex,localization\n" + b"".join(
        b"I%d,foo,robot,moon\n" % i for i in range(3)
    )
    summary = summarize_upload(data, "baddx3.csv")
    assert unrecognised_notes(summary) == [
        "3 rows have a diagnosis skindx does not know (foo); they are counted as unknown.",
        "3 rows have a sex skindx does not know (robot); they are counted as unknown.",
        "3 rows have a body site skindx does not know (moon); they are counted as unknown.",
    ]
    overview = overview_table(summary).iloc[0]
    assert overview["diagnoses"] == 0 and overview["unknown diagnosis %"] == 100
    upload = cube_frame(summary)
    assert set(upload["diagnosis"]) == set(upload["sex"]) == set(upload["site"]) == {"unknown"}
    one = summarize_upload(b"image_id,dx,dx_type\nI1,nv,zz\n", "one.csv")
    assert unrecognised_notes(one) == [
        "1 row has a confirmation method skindx does not know (zz); it is counted as unknown."
    ]
    assert images_read("one.csv", one) == "one.csv: 1 image read."
    assert images_read("baddx3.csv", summary) == "baddx3.csv: 3 images read."
    many = b"image_id,dx\n" + b"".join(b"I%d,x%d\n" % (i, i) for i in range(7))
    assert "(x0, x1, x2, x3, x4 and 2 more)" in unrecognised_notes(summarize_upload(many))[0]
    assert unrecognised_notes(summarize_upload(SMALL)) == []


def test_summarize_files_pairs_2019_metadata(tmp_path: Path) -> None:
    (tmp_path / "gt.csv").write_text("image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC\nI1,1,0,0,0,0,0,0,0\n")
    (tmp_path / "meta.csv").write_text("image,age_approx,anatom_site_general,sex\nI1,50,,male\n")
    summary = summarize_files([tmp_path / "gt.csv", tmp_path / "meta.csv"])
    assert list(summary["datasets"]) == ["ISIC 2019"]
    assert summary["datasets"]["ISIC 2019"]["sex_by_diagnosis"] == {"mel": {"male": 1}}
    assert summary["sources"] == ["gt.csv", "meta.csv"]
    with pytest.raises(MetadataError, match="no metadata CSV"):
        summarize_files([])
    # The metadata's values skindx does not know are its ground truth's, read once with it.
    (tmp_path / "meta.csv").write_text("image,age_approx,anatom_site_general,sex\nI1,50,,robot\n")
    summary, unrecognised = summarize_files_checked([tmp_path / "gt.csv", tmp_path / "meta.csv"])
    assert unrecognised == {tmp_path / "gt.csv": {"sex": {"robot": 1}}}
    assert unknown_value_notes(unrecognised[tmp_path / "gt.csv"]) == [
        "1 row has a sex skindx does not know (robot); it is counted as unknown."
    ]
    assert summary["datasets"]["ISIC 2019"]["sex_by_diagnosis"] == {"mel": {"unknown": 1}}


# --------------------------------------------------------------------------------------------
# Filters: exact on the cube, checked against the frame


FILTER_CASES = [
    Filters(),
    Filters(sexes=("male",)),
    Filters(sites=("head/neck", "torso")),
    Filters(diagnoses=("mel", "bkl")),
    Filters(age_range=(40, 60)),
    Filters(age_range=(55, 55), sexes=("male", "female"), diagnoses=("bkl", "mel")),
]


def _filter_frame(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    if filters.sexes:
        keep &= frame["sex"].isin(filters.sexes)
    if filters.sites:
        keep &= frame["site"].isin(filters.sites)
    if filters.diagnoses:
        keep &= frame["diagnosis"].isin(filters.diagnoses)
    if filters.age_range:
        low, high = filters.age_range
        keep &= (frame["age"] >= low) & (frame["age"] < high + AGE_BIN_WIDTH)
    return frame[keep]


@pytest.mark.parametrize("filters", FILTER_CASES)
def test_filters_are_exact(small_frame: pd.DataFrame, filters: Filters) -> None:
    cube = cube_frame(summarize(small_frame))
    view = apply_filters(cube, filters)
    expected = _filter_frame(small_frame, filters)["diagnosis"].value_counts().to_dict()
    assert diagnosis_table(view).set_index("diagnosis")["images"].to_dict() == expected


def test_age_filter_bins_and_unknown_ages(small_frame: pd.DataFrame) -> None:
    cube = cube_frame(summarize(small_frame))
    view = apply_filters(cube, Filters(age_range=(42, 62)))
    assert sorted(view["age"].unique()) == [40.0, 55.0, 60.0]
    assert view["age"].notna().all()


def test_filters_on_bundled_cube(summary: dict, cube: pd.DataFrame) -> None:
    women = apply_filters(cube, Filters(sexes=("female",)))
    for name, data in summary["datasets"].items():
        expected = sum(d.get("female", 0) for d in data["sex_by_diagnosis"].values())
        assert women.loc[women["dataset"] == name, "images"].sum() == expected
    ham = apply_filters(cube, Filters(datasets=("HAM10000",), diagnoses=("mel",)))
    assert ham["images"].sum() == 1113
    assert apply_filters(cube, Filters(diagnoses=("nothing",))).empty


def test_filter_options(cube: pd.DataFrame) -> None:
    options = filter_options(cube)
    assert options["datasets"][0] == "HAM10000"
    assert options["diagnoses"][:7] == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert options["diagnoses"][-1] == "unknown"
    assert options["age"] == (0, 90)
    assert options["sexes"] == ["female", "male", "unknown"]


def test_combine_cubes_puts_the_upload_first(cube: pd.DataFrame) -> None:
    upload = cube_frame(summarize_upload(SMALL))
    both = combine_cubes(cube, upload)
    assert filter_options(both)["datasets"][0] == UPLOAD_DATASET
    assert both["images"].sum() == cube["images"].sum() + 9


# --------------------------------------------------------------------------------------------
# Figures and takeaways

TABLES = {
    "diagnosis": (diagnosis_table, diagnosis_figure, diagnosis_takeaway),
    "malignancy": (malignancy_table, malignancy_figure, malignancy_takeaway),
    "age": (age_table, age_figure, age_takeaway),
    "sex": (sex_table, sex_figure, sex_takeaway),
    "site": (site_table, site_figure, site_takeaway),
    "confirmation": (
        confirmation_table,
        confirmation_figure,
        confirmation_takeaway,
    ),
    "imbalance": (imbalance_table, imbalance_figure, imbalance_takeaway),
}


@pytest.mark.parametrize("name", list(TABLES))
def test_every_chart_builds_and_says_something(name: str, cube: pd.DataFrame) -> None:
    table_of, figure_of, takeaway_of = TABLES[name]
    table = table_of(cube)
    figure = figure_of(table)
    assert isinstance(figure, go.Figure)
    assert len(figure.data) > 0
    assert takeaway_of(table).endswith(".")
    empty = table.iloc[:0]
    assert isinstance(figure_of(empty), go.Figure)
    assert takeaway_of(empty)


@pytest.mark.parametrize("level", ["lesion", "patient"])
def test_group_size_chart(level: str, cube: pd.DataFrame) -> None:
    table = group_size_table(cube, level)
    assert not table.empty
    assert isinstance(group_size_figure(table, level), go.Figure)
    assert f"by {level}_id" in group_size_takeaway(table, level)
    with pytest.raises(ValueError, match="Received: level='image'"):
        group_size_table(cube, "image")


@pytest.mark.parametrize("level", ["lesion", "patient"])
def test_group_size_axis_is_categorical(level: str, cube: pd.DataFrame) -> None:
    """Issue #27: plotly read "1"…"5" as numbers, so "6-10" … "51+" had no place on the axis."""
    table = group_size_table(cube, level)
    figure = group_size_figure(table, level)
    axis = figure.layout.xaxis
    assert axis.type == "category"
    groups = [g for g in GROUP_LABELS if g in set(table[f"{level}_images"])]
    assert list(axis.categoryarray) == groups
    assert {"6-10", "11-20", "21-50"} <= set(groups)  # the groups that used to vanish
    drawn = {x for trace in figure.data for x in trace.x}
    assert drawn == set(groups)


def test_charts_name_the_diagnoses(cube: pd.DataFrame) -> None:
    names = [diagnosis_name(code) for code in ("akiec", "bcc", "bkl", "mel", "nv")]
    assert names == [
        "Actinic keratosis",
        "Basal cell carcinoma",
        "Benign keratosis",
        "Melanoma",
        "Melanocytic nevus",
    ]
    for figure in (
        diagnosis_figure(diagnosis_table(cube)),
        sex_figure(sex_table(cube)),
        site_figure(site_table(cube)),
        confirmation_figure(confirmation_table(cube)),
    ):
        shown = {str(y) for trace in figure.data for y in trace.y}  # names down the y axis
        assert "Melanoma" in shown
        assert not shown & {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}
    age = age_figure(age_table(cube))
    assert "Melanoma" in {a.text for a in age.layout.annotations}
    # Values from an upload are drawn as text: plotly's tags made inert.
    assert diagnosis_name('<a href="https://x">y</a>') == '&lt;a href="https://x"&gt;y&lt;/a&gt;'


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'image_id,dx,age\nI1,"nv,40\nI2,mel,50\n', "quotation mark"),
        (b"image_id,dx,age\nI1,nv\nI2,mel,50,4,5,6\n", "Line 3 of mine.csv has 6 values"),
    ],
)
def test_csv_parse_errors_are_plain(data: bytes, expected: str) -> None:
    with pytest.raises(MetadataError) as caught:
        summarize_upload(data, "mine.csv")
    message = str(caught.value)
    assert expected in message
    assert "tokenizing" not in message and "C error" not in message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_unicode_uploads_are_read(encoding: str) -> None:
    summary = summarize_upload(SMALL.decode().encode(encoding), "mine.csv")
    assert summary["datasets"][UPLOAD_DATASET]["n_images"] == 9
    with pytest.raises(MetadataError, match="UTF-16 text but cannot be decoded"):
        summarize_upload(b"\xff\xfe" + b"i\x00d\x00\x00\xd8", "mine.csv")


def test_percent_and_log_diagnosis_figure(cube: pd.DataFrame) -> None:
    table = diagnosis_table(cube)
    assert diagnosis_figure(table, log=True).layout.xaxis.type == "log"  # horizontal bars
    percent = diagnosis_figure(table, percent=True)
    ham = next(trace for trace in percent.data if trace.name == "HAM10000")
    assert np.isclose(sum(ham.x), 100)


def test_percentages_sum_to_100(cube: pd.DataFrame) -> None:
    for table_of, within in (
        (diagnosis_table, ["dataset"]),
        (sex_table, ["dataset", "diagnosis"]),
        (site_table, ["dataset", "diagnosis"]),
    ):
        sums = table_of(cube).groupby(within)["percent"].sum()
        assert np.allclose(sums, 100)


def test_takeaways_are_computed_from_the_data(cube: pd.DataFrame) -> None:
    ham = apply_filters(cube, Filters(datasets=("HAM10000",)))
    text = diagnosis_takeaway(diagnosis_table(ham))
    assert f"{100 * 6705 / 10015:.1f}%" in text
    assert f"{6705 / 115:,.0f}×" in text
    both = apply_filters(cube, Filters(datasets=("HAM10000", "ISIC 2020")))
    text = diagnosis_takeaway(diagnosis_table(both))
    assert f"Melanoma is {100 * 1113 / 10015:.1f}% of HAM10000" in text
    assert f"{100 * 584 / 33126:.1f}% of ISIC 2020" in text
    women = apply_filters(ham, Filters(sexes=("female",)))
    assert diagnosis_takeaway(diagnosis_table(women)) != diagnosis_takeaway(diagnosis_table(ham))
    text = imbalance_takeaway(imbalance_table(ham))
    assert "66.9%" in text and "1/7" in text and "14.3%" in text


def test_takeaways_say_when_a_filter_leaves_one_value(cube: pd.DataFrame) -> None:
    """The walk-through's female + torso: the site takeaway said 100.0% on the torso, the sex
    one "too few images" of 13,866; each now says its dimension was narrowed to one value."""
    filters = Filters(sexes=("female",), sites=("torso",))
    view = apply_filters(cube, filters)
    assert view["images"].sum() == 13866
    site = site_takeaway(site_table(view), filters)
    assert site == "Only torso images are selected, so there is no site comparison."
    sex = sex_takeaway(sex_table(view), filters)
    assert sex == "Only images of women are selected, so there is no comparison of the sexes."
    one = Filters(diagnoses=("bcc",), age_range=(40, 40))
    view = apply_filters(cube, one)
    assert diagnosis_takeaway(diagnosis_table(view), one) == (
        "Only basal cell carcinoma (bcc) images are selected, so there is no comparison of "
        "diagnoses."
    )
    assert "100.0%" not in malignancy_takeaway(malignancy_table(view), one)
    assert age_takeaway(age_table(view), one) == (
        "Only ages 40–44 are selected, so there is no age comparison."
    )
    assert "1/1" not in imbalance_takeaway(imbalance_table(view), one)
    # Without the filters the same one-value tables are still not reported as a 100% finding.
    assert "100.0%" not in diagnosis_takeaway(diagnosis_table(view))
    assert "100.0%" not in site_takeaway(site_table(apply_filters(cube, filters)))


def test_takeaways_say_the_figures_are_among_the_selected_values(cube: pd.DataFrame) -> None:
    filters = Filters(
        diagnoses=("bcc", "mel", "nv"), age_range=(40, 60), sites=("torso", "head/neck")
    )
    view = apply_filters(cube, filters)
    assert "of the selected diagnoses" in diagnosis_takeaway(diagnosis_table(view), filters)
    assert "of the selected diagnoses" in malignancy_takeaway(malignancy_table(view), filters)
    assert "In HAM10000, among ages 40–64," in age_takeaway(age_table(view), filters)
    site = site_takeaway(site_table(view), filters)
    assert (
        site.startswith("Among the selected sites, the torso") and "at the selected sites" in site
    )
    imbalance = imbalance_takeaway(imbalance_table(view), filters)
    assert "the 2 other selected classes" in imbalance and "1/3" in imbalance
    # Unfiltered, no takeaway speaks of a selection.
    unfiltered = [
        diagnosis_takeaway(diagnosis_table(cube)),
        site_takeaway(site_table(cube)),
        age_takeaway(age_table(cube)),
        sex_takeaway(sex_table(cube)),
    ]
    assert not [text for text in unfiltered if "selected" in text]


ZERO_SHARE = re.compile(r"(?<![\d.])0\.0%")  # "0.0%", not the end of "100.0%"


def _all_takeaways(view: pd.DataFrame) -> list[str]:
    texts = [
        diagnosis_takeaway(diagnosis_table(view)),
        malignancy_takeaway(malignancy_table(view)),
        imbalance_takeaway(imbalance_table(view)),
        age_takeaway(age_table(view), min_images=1),
        sex_takeaway(sex_table(view), min_images=1),
        site_takeaway(site_table(view), min_images=1),
        confirmation_takeaway(confirmation_table(view)),
    ]
    return texts + [
        group_size_takeaway(group_size_table(view, level), level) for level in ("lesion", "patient")
    ]


def test_takeaways_name_an_upload_as_a_reader_would(cube: pd.DataFrame) -> None:
    """The walk-through: "the Your data images", "of Your data images", "In Your data"."""
    upload = cube_frame(summarize_upload(SMALL, "mine.csv"))
    for datasets in ((UPLOAD_DATASET,), (UPLOAD_DATASET, "HAM10000")):
        view = apply_filters(combine_cubes(cube, upload), Filters(datasets=datasets))
        texts = _all_takeaways(view)
        assert not [text for text in texts if "Your data" in text and text[:9] != "Your data"]
        assert not [text for text in texts if ZERO_SHARE.search(text)]
        joined = " ".join(texts)
        assert "In your data, " in joined and "your images shown" in joined
    view = apply_filters(combine_cubes(cube, upload), Filters(datasets=(UPLOAD_DATASET,)))
    assert (
        malignancy_takeaway(malignancy_table(view)) == "33.3% of your images shown are malignant."
    )


def test_takeaways_print_no_zero_share_and_skip_unknown_ones(cube: pd.DataFrame) -> None:
    """One melanoma among 3,000 images was "0.0%"; an upload of unknown diagnoses was "0.0%
    malignant" and "0.0% melanoma", as if it held only benign lesions."""
    rows = [f"I{i},{'mel' if i == 0 else 'nv'},histo" for i in range(3000)]
    tiny = summarize_upload(("image_id,dx,dx_type\n" + "\n".join(rows)).encode(), "tiny.csv")
    view = apply_filters(combine_cubes(cube, cube_frame(tiny)), Filters(datasets=(UPLOAD_DATASET,)))
    diagnosis = diagnosis_takeaway(diagnosis_table(view))
    assert "nevus (nv) is >99.9% of the images" in diagnosis and "(mel) (<0.1%)" in diagnosis
    assert not [text for text in _all_takeaways(view) if ZERO_SHARE.search(text)]
    unknown = summarize_upload(b"image_id,dx\nI1,foo\nI2,foo\n", "foo.csv")
    both = Filters(datasets=(UPLOAD_DATASET, "HAM10000"))
    view = apply_filters(combine_cubes(cube, cube_frame(unknown)), both)
    diagnosis = diagnosis_takeaway(diagnosis_table(view))
    assert "100.0% of your images have no specific diagnosis" in diagnosis
    assert "Melanoma is" not in diagnosis  # no melanoma share for images of unknown diagnosis
    assert malignancy_takeaway(malignancy_table(view)) == (
        "19.5% of the HAM10000 images shown are malignant."
    )
    alone = apply_filters(combine_cubes(cube, cube_frame(unknown)), Filters((UPLOAD_DATASET,)))
    assert malignancy_takeaway(malignancy_table(alone)) == ""  # nothing to say: page shows none


# A walk-through upload: 2 melanomas of men aged 80 were charted as "100% male", "100% aged 80".
TINY = b"""lesion_id,image_id,dx,dx_type,age,sex,localization
L1,I1,mel,histo,80,male,back
L2,I2,mel,histo,80,male,back
L3,I3,bcc,histo,70,female,face
L4,I4,nv,follow_up,40,female,trunk
L5,I5,nv,follow_up,45,male,trunk
L6,I6,nv,histo,35,female,lower extremity
L7,I7,nv,histo,50,male,trunk
L8,I8,nv,histo,55,female,trunk
"""
PER_DIAGNOSIS = {
    "age": (age_table, age_figure, age_takeaway),
    "sex": (sex_table, sex_figure, sex_takeaway),
    "site": (site_table, site_figure, site_takeaway),
    "confirmation": (confirmation_table, confirmation_figure, confirmation_takeaway),
}


def _charted(figure: go.Figure) -> set[str]:
    """The diagnosis names a per-diagnosis figure draws (its y values, or its panel titles)."""
    names = {str(y) for trace in figure.data if trace.y is not None for y in trace.y}
    titles = {a.text.replace("<br>", " ") for a in figure.layout.annotations}
    return names | titles


@pytest.fixture(scope="module")
def tiny_view(cube: pd.DataFrame) -> pd.DataFrame:
    upload = cube_frame(summarize_upload(TINY, "tiny.csv"))
    return apply_filters(combine_cubes(cube, upload), Filters(datasets=(UPLOAD_DATASET,)))


@pytest.mark.parametrize("name", list(PER_DIAGNOSIS))
def test_too_few_images_for_a_share_are_not_charted(name: str, tiny_view: pd.DataFrame) -> None:
    table_of, figure_of, _ = PER_DIAGNOSIS[name]
    table = table_of(tiny_view)
    # The table keeps every count; the chart leaves out melanoma (2) and bcc (1), keeps nv (5).
    assert set(table["diagnosis"]) == {"mel", "bcc", "nv"}
    small = too_few_for_shares(table)
    assert small[["diagnosis", "images"]].values.tolist() == [["bcc", 1], ["mel", 2]]
    assert set(enough_for_shares(table)["diagnosis"]) == {"nv"}
    charted = _charted(figure_of(table))
    assert diagnosis_name("nv") in charted
    assert not {diagnosis_name("mel"), diagnosis_name("bcc")} & charted
    assert too_few_note(table) == (
        f"Not charted, fewer than {MIN_IMAGES_FOR_SHARE} images each (too few for a share; the "
        "table has their counts): in your data, basal cell carcinoma (bcc) n = 1 and melanoma "
        "(mel) n = 2."
    )
    # Only diagnoses too small to chart: the figure says so, not "No images match".
    only_small = table_of(tiny_view[tiny_view["diagnosis"] != "nv"])
    texts = [a.text for a in figure_of(only_small).layout.annotations]
    assert texts == [TOO_FEW_TEXT]


@pytest.mark.parametrize("name", list(PER_DIAGNOSIS))
def test_the_big_datasets_charts_lose_only_their_tiny_diagnoses(
    name: str, cube: pd.DataFrame
) -> None:
    """HAM10000 and the others chart as before: only ISIC 2020's two diagnoses of one image
    each ("100% aged 55") are left out, and named under the chart."""
    table = PER_DIAGNOSIS[name][0](cube)
    small = too_few_for_shares(table)
    assert small[["dataset", "diagnosis", "images"]].values.tolist() == [
        ["ISIC 2020", "atypical melanocytic proliferation", 1],
        ["ISIC 2020", "cafe-au-lait macule", 1],
    ]
    tiny = (table["dataset"] == "ISIC 2020") & table["diagnosis"].isin(small["diagnosis"])
    pd.testing.assert_frame_equal(enough_for_shares(table), table[~tiny].reset_index(drop=True))
    assert (
        "in ISIC 2020, atypical melanocytic proliferation n = 1 and cafe-au-lait macule n = 1"
        in (too_few_note(table))
    )
    assert too_few_note(table[table["dataset"] == "HAM10000"]) == ""


@pytest.mark.parametrize("name", ["sex", "site", "confirmation"])
def test_one_diagnosis_shown_alone_gets_its_panel(name: str) -> None:
    """An upload of 5 nevi, shown alone: plotly refused the panel gap ("Vertical spacing must
    be between 0 and 1") under a lone panel shorter than the gap."""
    rows = b"".join(b"I%d,nv,male,back,histo\n" % i for i in range(MIN_IMAGES_FOR_SHARE))
    upload = summarize_upload(b"image_id,dx,sex,localization,dx_type\n" + rows)
    table_of, figure_of, _ = PER_DIAGNOSIS[name]
    assert diagnosis_name("nv") in _charted(figure_of(table_of(cube_frame(upload))))


def test_takeaways_draw_nothing_from_too_few_images(tiny_view: pd.DataFrame) -> None:
    """ "For melanoma and BCC it is 100.0%" came from 3 images."""
    texts = {
        name: takeaway(table(tiny_view)) for name, (table, _, takeaway) in PER_DIAGNOSIS.items()
    }
    assert not [text for text in texts.values() if "100.0%" in text or "100%" in text]
    assert "For melanoma and BCC" not in texts["confirmation"]
    three = tiny_view[tiny_view["diagnosis"] != "nv"]
    assert confirmation_takeaway(confirmation_table(three)) == (
        "In your data, 3 of the images have a recorded method: too few for a share."
    )
    mel = Filters(datasets=(UPLOAD_DATASET,), diagnoses=("mel",))
    one = confirmation_takeaway(confirmation_table(apply_filters(three, mel)), mel)
    assert one == (
        "In your data, 2 of the melanoma (mel) images have a recorded method: too few for a share."
    )


def test_overview_table(summary: dict) -> None:
    table = overview_table(summary).set_index("dataset")
    assert table.loc["HAM10000", "lesions"] == 7470
    assert pd.isna(table.loc["ISIC 2020", "lesions"])
    assert table.loc["ISIC 2020", "melanoma %"] == round(100 * 584 / 33126, 1)


# --------------------------------------------------------------------------------------------
# The shared CSVs: the bundled summary is current, and its numbers equal raw pandas counts


@pytest.fixture(scope="module")
def rebuilt() -> dict:
    if not DATA.is_dir():
        pytest.skip("shared ISIC data not in ../shared/data")
    return summarize_files(PATHS)


@pytest.mark.data
@pytest.mark.data
def test_bundled_summary_is_current(rebuilt: dict, summary: dict) -> None:
    assert json.loads(json.dumps(rebuilt)) == summary


@pytest.mark.data
@pytest.mark.data
def test_summary_against_raw_csvs(rebuilt: dict) -> None:
    datasets = rebuilt["datasets"]
    ham = pd.read_csv(PATHS[0])
    assert datasets["HAM10000"]["diagnosis_counts"] == ham["dx"].value_counts().to_dict()
    assert datasets["HAM10000"]["n_lesions"] == ham["lesion_id"].nunique() == 7470
    sizes = ham["lesion_id"].value_counts().value_counts()
    assert datasets["HAM10000"]["images_per_lesion"] == {str(k): v for k, v in sizes.items()}
    male = ham[ham["sex"] == "male"]["dx"].value_counts()
    got = {c: d.get("male", 0) for c, d in datasets["HAM10000"]["sex_by_diagnosis"].items()}
    assert got == male.reindex(list(got), fill_value=0).to_dict()
    mel_ages = ham.loc[ham["dx"] == "mel", "age"]
    histogram = datasets["HAM10000"]["age_histogram"]
    row = histogram["by_diagnosis"]["mel"]
    assert row[histogram["bins"].index(60)] == ((mel_ages >= 60) & (mel_ages < 65)).sum()
    assert histogram["unknown_by_diagnosis"]["mel"] == mel_ages.isna().sum()
    histo = ham[ham["dx_type"] == "histo"]["dx"].value_counts()
    confirmed = datasets["HAM10000"]["confirmation_by_diagnosis"]
    assert {c: d.get("histopathology", 0) for c, d in confirmed.items()} == histo.to_dict()

    test = pd.read_csv(PATHS[1])
    assert datasets["ISIC 2018 test"]["diagnosis_counts"] == test["dx"].value_counts().to_dict()
    assert datasets["ISIC 2018 test"]["n_lesions"] == test["lesion_id"].nunique()

    truth = pd.read_csv(PATHS[2])
    one_hot = truth.drop(columns="image").sum().astype(int)
    counts_2019 = datasets["ISIC 2019"]["diagnosis_counts"]
    for column, code in (("MEL", "mel"), ("NV", "nv"), ("BCC", "bcc"), ("AK", "akiec")):
        assert counts_2019[code] == one_hot[column]
    assert counts_2019["scc"] == one_hot["SCC"]
    meta = pd.read_csv(DATA / "isic_metadata" / "ISIC_2019_Training_Metadata.csv")
    assert datasets["ISIC 2019"]["n_lesions"] == meta["lesion_id"].nunique()
    assert datasets["ISIC 2019"]["n_images_without_lesion_id"] == meta["lesion_id"].isna().sum()

    isic2020 = pd.read_csv(PATHS[3])
    data_2020 = datasets["ISIC 2020"]
    assert data_2020["n_patients"] == isic2020["patient_id"].nunique()
    assert data_2020["malignant_counts"]["malignant"] == int(isic2020["target"].sum())
    assert data_2020["diagnosis_counts"]["unknown"] == (isic2020["diagnosis"] == "unknown").sum()
    per_patient = isic2020["patient_id"].value_counts().value_counts()
    assert data_2020["images_per_patient"] == {str(k): v for k, v in sorted(per_patient.items())}


@pytest.mark.data
@pytest.mark.data
def test_filters_against_raw_csv(rebuilt: dict) -> None:
    ham = pd.read_csv(PATHS[0])
    torso = ["back", "trunk", "chest", "abdomen"]
    keep = (
        (ham["sex"] == "female")
        & ham["localization"].isin(torso)
        & (ham["age"] >= 40)
        & (ham["age"] < 65)
    )
    expected = ham.loc[keep, "dx"].value_counts().to_dict()
    filters = Filters(
        datasets=("HAM10000",), age_range=(40, 60), sexes=("female",), sites=("torso",)
    )
    view = apply_filters(cube_frame(rebuilt), filters)
    assert diagnosis_table(view).set_index("diagnosis")["images"].to_dict() == expected


def test_phone_tables_use_words_short_numbers_and_hyphenable_long_words(cube: pd.DataFrame) -> None:
    from skindx.datasets.tables import confirmation_table, imbalance_table, phone_table

    imbalance = phone_table(imbalance_table(cube))
    assert list(imbalance.columns) == ["dataset", "majority class", "accuracy", "balanced accuracy"]
    assert imbalance["accuracy"].str.fullmatch(r"\d{1,3}%").all()
    confirmation = phone_table(confirmation_table(cube))
    assert confirmation["percent"].str.fullmatch(r"\d{1,3}\.\d%").all()
    assert "histopa\u00adthology" in set(confirmation["confirmation"])
    assert confirmation["images"].tolist() == confirmation_table(cube)["images"].tolist()


def test_keeps_everything_is_the_page_as_it_opens() -> None:
    """The Statistics page keeps the charts of its opening view for every session: every
    dataset, in any order, and no other filter."""
    options = {"datasets": ["HAM10000", "ISIC 2019"], "age": (0, 85)}
    assert keeps_everything(Filters(datasets=("ISIC 2019", "HAM10000")), options)
    assert keeps_everything(Filters(), options)
    assert not keeps_everything(Filters(datasets=("HAM10000",)), options)
    for narrowed in (
        {"age_range": (40, 60)},
        {"sexes": ("female",)},
        {"sites": ("back",)},
        {"diagnoses": ("mel",)},
    ):
        every = Filters(datasets=("HAM10000", "ISIC 2019"), **narrowed)
        assert not keeps_everything(every, options)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # ISIC 2019's metadata CSV: ages, sexes and sites, its diagnoses only in its ground truth
        (
            b"image,age_approx,anatom_site_general,sex\nI1,40,head/neck,male\n",
            "No image in this file has a diagnosis, so the charts count all its images as "
            "“unknown”.",
        ),
        (b"image_id,dx\nI1,nv\nI2,mel\n", "No image in this file has an age, a sex or a body site"),
        (b"image_id,dx,age,sex,localization\nI1,nv,,,\n", "No image in this file has an age,"),
    ],
)
def test_upload_notes_say_what_a_file_gives_for_no_image(data: bytes, expected: str) -> None:
    """The walk-through: ISIC 2019's metadata CSV, or a file without age and sex columns, read
    as "25,331 images read." and drew charts all "unknown", as if the page were at fault."""
    notes = upload_notes(summarize_upload(data, "mine.csv"))
    n = summarize_upload(data, "mine.csv")["datasets"]["Your data"]["n_images"]
    assert len(notes) == 2 and notes[0].startswith(expected)
    assert notes[1] == few_images_note(n)  # and, last, how rough so few images' shares are


def test_upload_notes_leave_given_values_to_their_own_note() -> None:
    """A diagnosis "foo" is given, though unknown: its note says so, not "has no diagnosis"."""
    data = b"image_id,dx,age,sex,localization\nI1,foo,40,male,back\n"
    assert upload_notes(summarize_upload(data, "mine.csv")) == [
        "1 row has a diagnosis skindx does not know (foo); it is counted as unknown.",
        few_images_note(1),
    ]
    assert upload_notes(summarize_upload(SMALL, "mine.csv")) == [
        few_images_note(SMALL.count(b"\n") - 1)
    ]


def test_a_small_upload_says_its_shares_are_rough() -> None:
    """The walk-through: a class's file of a dozen rows drew percentages beside the datasets'
    as if they meant as much; one image there is 8 points of a share."""
    rows = "".join(f"I{i},{'mel' if i < 4 else 'nv'},40,male,back\n" for i in range(12))
    data = ("image_id,dx,age,sex,localization\n" + rows).encode()
    assert upload_notes(summarize_upload(data, "class.csv")) == [
        "With only 12 images, the shares (percentages) in the charts are rough: one image more "
        "or less moves a share by about 8 points, and chance alone can move one by up to about "
        "28 points either way. Compare them with the datasets' with care."
    ]
    assert few_images_note(1).startswith("With only 1 image, ")
    assert "chance" not in few_images_note(9)  # the margin's formula means little below 10
    assert few_images_note(FEW_IMAGES - 1).endswith(
        "up to about 10 points either way. " + "Compare them with the datasets' with care."
    )
    assert few_images_note(FEW_IMAGES) == few_images_note(0) == ""


def test_imbalance_chart_names_a_dataset_short_of_classes(cube: pd.DataFrame) -> None:
    """The walk-through: ISIC 2020's 33% "balanced accuracy of always answering the commonest
    class" beside HAM10000's 14% read as a fault; it is 1/3, over the 3 classes it holds."""
    figure = imbalance_figure(imbalance_table(cube))
    labels = dict(zip(figure.layout.xaxis.tickvals, figure.layout.xaxis.ticktext, strict=True))
    assert labels["HAM10000"] == "HAM10000"
    assert labels["ISIC 2020"] == "ISIC 2020<br>(3 of 7 classes)"


def test_filters_line_names_what_narrows_the_page() -> None:
    """The walk-through: filters set in their closed box were out of sight, on a projector or
    on coming back to the page, while every chart followed them."""
    assert filters_line(Filters(datasets=("HAM10000",))) == ""
    narrowed = Filters(age_range=(40, 60), sexes=("female",), diagnoses=("mel", "nv"))
    assert filters_line(narrowed) == (
        "Filtered to ages 40–64 · female · melanoma (mel), melanocytic nevus (nv)"
    )
