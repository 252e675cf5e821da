"""skindx.datasets.stats: the summary, its cube and filters, tables, figures and takeaways."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from skindx.datasets import stats
from skindx.datasets.metadata import MetadataError, read_metadata

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
    return stats.load_summary()


@pytest.fixture(scope="module")
def cube(summary: dict) -> pd.DataFrame:
    return stats.cube_frame(summary)


@pytest.fixture(scope="module")
def small_frame() -> pd.DataFrame:
    return read_metadata(SMALL)


# --------------------------------------------------------------------------------------------
# The bundled summary (no shared data needed)


def test_bundled_summary_structure(summary: dict) -> None:
    assert summary["schema_version"] == stats.SCHEMA_VERSION
    assert list(summary["datasets"]) == ["HAM10000", "ISIC 2018 test", "ISIC 2019", "ISIC 2020"]
    assert summary["cube"]["dims"] == list(stats.CUBE_DIMS)
    assert stats.SUMMARY_PATH.stat().st_size < 2 * 1024 * 1024
    json.dumps(summary)  # JSON-serialisable as loaded


def test_bundled_summary_holds_no_per_image_rows() -> None:
    text = stats.SUMMARY_PATH.read_text()
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
    diagnoses = stats.diagnosis_table(cube)
    sexes = stats.sex_table(cube)
    sites = stats.site_table(cube)
    confirmations = stats.confirmation_table(cube)
    ages = stats.age_table(cube)
    malignancy = stats.malignancy_table(cube)
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
    table = stats.group_size_table(cube[cube["dataset"] == "HAM10000"], "lesion")
    images = table.set_index("lesion_images")["images"]
    assert images["1"] == ham["1"]
    assert images["2"] == 2 * ham["2"]
    assert images["3"] == 3 * ham["3"]


def test_balanced_accuracy_example(summary: dict) -> None:
    example = stats.balanced_accuracy_example(summary)
    assert example["majority_class"] == "nv"
    assert example["accuracy"] == pytest.approx(6705 / 10015)
    assert example["balanced_accuracy"] == pytest.approx(1 / 7)
    assert example["n_classes"] == 7
    with pytest.raises(ValueError, match="no labelled images"):
        stats.balanced_accuracy_example(summary, dataset="nowhere")


def test_summarize_small(small_frame: pd.DataFrame) -> None:
    summary = stats.summarize(small_frame)
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
    _check_cube_matches_tables(summary, stats.cube_frame(summary))


def test_summarize_rejects_bad_frames() -> None:
    with pytest.raises(ValueError, match="missing column"):
        stats.summarize(pd.DataFrame({"image_id": ["a"]}))
    with pytest.raises(ValueError, match="empty"):
        stats.summarize(read_metadata(SMALL).iloc[:0])


def test_write_and_load_round_trip(small_frame: pd.DataFrame, tmp_path: Path) -> None:
    summary = stats.summarize(small_frame)
    path = stats.write_summary(summary, tmp_path / "sub" / "summary.json")
    assert stats.load_summary(path) == json.loads(json.dumps(summary))
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
    with pytest.raises(stats.SummaryError, match=expected):
        stats.load_summary(path)


def test_summarize_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = stats.summarize_upload(SMALL, "mine.csv")
    assert list(summary["datasets"]) == [stats.UPLOAD_DATASET]
    with pytest.raises(MetadataError, match=r"mine\.csv: not a recognised"):
        stats.summarize_upload(b"a,b\n1,2\n", "mine.csv")
    monkeypatch.setenv("SKINDX_MAX_UPLOAD_MB", "0")
    with pytest.raises(MetadataError, match="the limit is 0 MB"):
        stats.summarize_upload(SMALL, "mine.csv")


def test_summarize_files_pairs_2019_metadata(tmp_path: Path) -> None:
    (tmp_path / "gt.csv").write_text("image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC\nI1,1,0,0,0,0,0,0,0\n")
    (tmp_path / "meta.csv").write_text("image,age_approx,anatom_site_general,sex\nI1,50,,male\n")
    summary = stats.summarize_files([tmp_path / "gt.csv", tmp_path / "meta.csv"])
    assert list(summary["datasets"]) == ["ISIC 2019"]
    assert summary["datasets"]["ISIC 2019"]["sex_by_diagnosis"] == {"mel": {"male": 1}}
    assert summary["sources"] == ["gt.csv", "meta.csv"]
    with pytest.raises(MetadataError, match="no metadata CSV"):
        stats.summarize_files([])


# --------------------------------------------------------------------------------------------
# Filters: exact on the cube, checked against the frame


FILTER_CASES = [
    stats.Filters(),
    stats.Filters(sexes=("male",)),
    stats.Filters(sites=("head/neck", "torso")),
    stats.Filters(diagnoses=("mel", "bkl")),
    stats.Filters(age_range=(40, 60)),
    stats.Filters(age_range=(55, 55), sexes=("male", "female"), diagnoses=("bkl", "mel")),
]


def _filter_frame(frame: pd.DataFrame, filters: stats.Filters) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    if filters.sexes:
        keep &= frame["sex"].isin(filters.sexes)
    if filters.sites:
        keep &= frame["site"].isin(filters.sites)
    if filters.diagnoses:
        keep &= frame["diagnosis"].isin(filters.diagnoses)
    if filters.age_range:
        low, high = filters.age_range
        keep &= (frame["age"] >= low) & (frame["age"] < high + stats.AGE_BIN_WIDTH)
    return frame[keep]


@pytest.mark.parametrize("filters", FILTER_CASES)
def test_filters_are_exact(small_frame: pd.DataFrame, filters: stats.Filters) -> None:
    cube = stats.cube_frame(stats.summarize(small_frame))
    view = stats.apply_filters(cube, filters)
    expected = _filter_frame(small_frame, filters)["diagnosis"].value_counts().to_dict()
    assert stats.diagnosis_table(view).set_index("diagnosis")["images"].to_dict() == expected


def test_age_filter_bins_and_unknown_ages(small_frame: pd.DataFrame) -> None:
    cube = stats.cube_frame(stats.summarize(small_frame))
    view = stats.apply_filters(cube, stats.Filters(age_range=(42, 62)))
    assert sorted(view["age"].unique()) == [40.0, 55.0, 60.0]
    assert view["age"].notna().all()


def test_filters_on_bundled_cube(summary: dict, cube: pd.DataFrame) -> None:
    women = stats.apply_filters(cube, stats.Filters(sexes=("female",)))
    for name, data in summary["datasets"].items():
        expected = sum(d.get("female", 0) for d in data["sex_by_diagnosis"].values())
        assert women.loc[women["dataset"] == name, "images"].sum() == expected
    ham = stats.apply_filters(cube, stats.Filters(datasets=("HAM10000",), diagnoses=("mel",)))
    assert ham["images"].sum() == 1113
    assert stats.apply_filters(cube, stats.Filters(diagnoses=("nothing",))).empty


def test_filter_options(cube: pd.DataFrame) -> None:
    options = stats.filter_options(cube)
    assert options["datasets"][0] == "HAM10000"
    assert options["diagnoses"][:7] == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert options["diagnoses"][-1] == "unknown"
    assert options["age"] == (0, 90)
    assert options["sexes"] == ["female", "male", "unknown"]


def test_combine_cubes_puts_the_upload_first(cube: pd.DataFrame) -> None:
    upload = stats.cube_frame(stats.summarize_upload(SMALL))
    both = stats.combine_cubes(cube, upload)
    assert stats.filter_options(both)["datasets"][0] == stats.UPLOAD_DATASET
    assert both["images"].sum() == cube["images"].sum() + 9


# --------------------------------------------------------------------------------------------
# Figures and takeaways

TABLES = {
    "diagnosis": (stats.diagnosis_table, stats.diagnosis_figure, stats.diagnosis_takeaway),
    "malignancy": (stats.malignancy_table, stats.malignancy_figure, stats.malignancy_takeaway),
    "age": (stats.age_table, stats.age_figure, stats.age_takeaway),
    "sex": (stats.sex_table, stats.sex_figure, stats.sex_takeaway),
    "site": (stats.site_table, stats.site_figure, stats.site_takeaway),
    "confirmation": (
        stats.confirmation_table,
        stats.confirmation_figure,
        stats.confirmation_takeaway,
    ),
    "imbalance": (stats.imbalance_table, stats.imbalance_figure, stats.imbalance_takeaway),
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
    table = stats.group_size_table(cube, level)
    assert not table.empty
    assert isinstance(stats.group_size_figure(table, level), go.Figure)
    assert f"by {level}_id" in stats.group_size_takeaway(table, level)
    with pytest.raises(ValueError, match="Received: level='image'"):
        stats.group_size_table(cube, "image")


@pytest.mark.parametrize("level", ["lesion", "patient"])
def test_group_size_axis_is_categorical(level: str, cube: pd.DataFrame) -> None:
    """Issue #27: plotly read "1"…"5" as numbers, so "6-10" … "51+" had no place on the axis."""
    table = stats.group_size_table(cube, level)
    figure = stats.group_size_figure(table, level)
    axis = figure.layout.xaxis
    assert axis.type == "category"
    groups = [g for g in stats.GROUP_LABELS if g in set(table[f"{level}_images"])]
    assert list(axis.categoryarray) == groups
    assert {"6-10", "11-20", "21-50"} <= set(groups)  # the groups that used to vanish
    drawn = {x for trace in figure.data for x in trace.x}
    assert drawn == set(groups)


def test_charts_name_the_diagnoses(cube: pd.DataFrame) -> None:
    names = [stats.diagnosis_name(code) for code in ("akiec", "bcc", "bkl", "mel", "nv")]
    assert names == [
        "Actinic keratosis",
        "Basal cell carcinoma",
        "Benign keratosis",
        "Melanoma",
        "Melanocytic nevus",
    ]
    for figure in (
        stats.diagnosis_figure(stats.diagnosis_table(cube)),
        stats.sex_figure(stats.sex_table(cube)),
        stats.site_figure(stats.site_table(cube)),
        stats.confirmation_figure(stats.confirmation_table(cube)),
    ):
        shown = {str(x) for trace in figure.data for x in trace.x}
        assert "Melanoma" in shown
        assert not shown & {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}
    age = stats.age_figure(stats.age_table(cube))
    assert "Melanoma" in {a.text for a in age.layout.annotations}
    # Values from an upload are drawn as text: plotly's tags made inert.
    assert (
        stats.diagnosis_name('<a href="https://x">y</a>') == '&lt;a href="https://x"&gt;y&lt;/a&gt;'
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'image_id,dx,age\nI1,"nv,40\nI2,mel,50\n', "quotation mark"),
        (b"image_id,dx,age\nI1,nv\nI2,mel,50,4,5,6\n", "Line 3 of mine.csv has 6 values"),
    ],
)
def test_csv_parse_errors_are_plain(data: bytes, expected: str) -> None:
    with pytest.raises(MetadataError) as caught:
        stats.summarize_upload(data, "mine.csv")
    message = str(caught.value)
    assert expected in message
    assert "tokenizing" not in message and "C error" not in message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_unicode_uploads_are_read(encoding: str) -> None:
    summary = stats.summarize_upload(SMALL.decode().encode(encoding), "mine.csv")
    assert summary["datasets"][stats.UPLOAD_DATASET]["n_images"] == 9
    with pytest.raises(MetadataError, match="UTF-16 text but cannot be decoded"):
        stats.summarize_upload(b"\xff\xfe" + b"i\x00d\x00\x00\xd8", "mine.csv")


def test_percent_and_log_diagnosis_figure(cube: pd.DataFrame) -> None:
    table = stats.diagnosis_table(cube)
    assert stats.diagnosis_figure(table, log=True).layout.yaxis.type == "log"
    percent = stats.diagnosis_figure(table, percent=True)
    ham = next(trace for trace in percent.data if trace.name == "HAM10000")
    assert np.isclose(sum(ham.y), 100)


def test_percentages_sum_to_100(cube: pd.DataFrame) -> None:
    for table_of, within in (
        (stats.diagnosis_table, ["dataset"]),
        (stats.sex_table, ["dataset", "diagnosis"]),
        (stats.site_table, ["dataset", "diagnosis"]),
    ):
        sums = table_of(cube).groupby(within)["percent"].sum()
        assert np.allclose(sums, 100)


def test_takeaways_are_computed_from_the_data(cube: pd.DataFrame) -> None:
    ham = stats.apply_filters(cube, stats.Filters(datasets=("HAM10000",)))
    text = stats.diagnosis_takeaway(stats.diagnosis_table(ham))
    assert f"{100 * 6705 / 10015:.1f}%" in text
    assert f"{6705 / 115:,.0f}×" in text
    both = stats.apply_filters(cube, stats.Filters(datasets=("HAM10000", "ISIC 2020")))
    text = stats.diagnosis_takeaway(stats.diagnosis_table(both))
    assert f"Melanoma is {100 * 1113 / 10015:.1f}% of HAM10000" in text
    assert f"{100 * 584 / 33126:.1f}% of ISIC 2020" in text
    women = stats.apply_filters(ham, stats.Filters(sexes=("female",)))
    assert stats.diagnosis_takeaway(stats.diagnosis_table(women)) != stats.diagnosis_takeaway(
        stats.diagnosis_table(ham)
    )
    text = stats.imbalance_takeaway(stats.imbalance_table(ham))
    assert "66.9%" in text and "1/7" in text and "14.3%" in text


def test_overview_table(summary: dict) -> None:
    table = stats.overview_table(summary).set_index("dataset")
    assert table.loc["HAM10000", "lesions"] == 7470
    assert pd.isna(table.loc["ISIC 2020", "lesions"])
    assert table.loc["ISIC 2020", "melanoma %"] == round(100 * 584 / 33126, 1)


# --------------------------------------------------------------------------------------------
# The shared CSVs: the bundled summary is current, and its numbers equal raw pandas counts


@pytest.fixture(scope="module")
def rebuilt() -> dict:
    if not DATA.is_dir():
        pytest.skip("shared ISIC data not in ../shared/data")
    return stats.summarize_files(PATHS)


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
    filters = stats.Filters(
        datasets=("HAM10000",), age_range=(40, 60), sexes=("female",), sites=("torso",)
    )
    view = stats.apply_filters(stats.cube_frame(rebuilt), filters)
    assert stats.diagnosis_table(view).set_index("diagnosis")["images"].to_dict() == expected
