"""skindx.datasets.metadata: format detection, the readers, and malformed files."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skindx.datasets.csv_text import read_header
from skindx.datasets.metadata import (
    COLUMNS,
    CONFIRMATIONS,
    FORMATS,
    SEXES,
    SITES,
    VALUE_COLUMNS,
    MetadataError,
    detect_format,
    read_metadata,
    read_metadata_checked,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HAM_CSV = DATA / "ham10000" / "HAM10000_metadata.csv"
TEST_CSV = DATA / "isic2018_test" / "ISIC2018_Task3_Test_GroundTruth.csv"
GT_2019 = DATA / "isic_metadata" / "ISIC_2019_Training_GroundTruth.csv"
META_2019 = DATA / "isic_metadata" / "ISIC_2019_Training_Metadata.csv"
GT_2020 = DATA / "isic_metadata" / "ISIC_2020_Training_GroundTruth.csv"


# Real rows, copied from the shared CSVs (so these tests need no data).
HAM_ROWS = """lesion_id,image_id,dx,dx_type,age,sex,localization,dataset
HAM_0000118,ISIC_0027419,bkl,histo,80.0,male,scalp,vidir_modern
HAM_0000118,ISIC_0025030,bkl,histo,80.0,male,scalp,vidir_modern
HAM_0002730,ISIC_0026769,bkl,histo,80.0,male,scalp,vidir_modern
HAM_0001466,ISIC_0031633,bkl,histo,75.0,male,ear,vidir_modern
HAM_0002761,ISIC_0029176,bkl,histo,60.0,male,face,vidir_modern
HAM_0005132,ISIC_0025837,bkl,histo,70.0,female,back,vidir_modern
HAM_0003136,ISIC_0027008,nv,follow_up,45.0,male,trunk,vidir_molemax
HAM_0000871,ISIC_0029478,mel,consensus,,unknown,unknown,vidir_molemax
HAM_0004668,ISIC_0024480,nv,confocal,50.0,female,acral,vidir_molemax
"""
TEST_ROWS = """lesion_id,image_id,dx,dx_type,age,sex,localization,dataset
HAMTEST_0000000,ISIC_0034524,nv,follow_up,40.0,female,back,vidir_molemax
HAMTEST_0000001,ISIC_0034525,nv,histo,70.0,male,abdomen,rosendahl
HAMTEST_0000005,ISIC_0034529,mel,histo,,unknown,unknown,external
"""
GT_2019_ROWS = """image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK
ISIC_0000000,0.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0
ISIC_0000002,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0
ISIC_0000080_downsampled,0.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0
ISIC_0024329,0.0,0.0,0.0,1.0,0.0,0.0,0.0,0.0,0.0
ISIC_0053454,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,0.0
"""
META_2019_ROWS = """image,age_approx,anatom_site_general,lesion_id,sex
ISIC_0000000,55,anterior torso,,female
ISIC_0000002,60,upper extremity,,female
ISIC_0000080_downsampled,,,,
ISIC_0024329,75,lower extremity,HAM_0002954,female
ISIC_0053454,,head/neck,BCN_0003925,
"""
ROWS_2020 = (
    (
        "image_name,patient_id,sex,age_approx,anatom_site_general_challenge,"
        "diagnosis,benign_malignant,target\n"
    )
    + """ISIC_2637011,IP_7279968,male,45.0,head/neck,unknown,benign,0
ISIC_0015719,IP_3075186,female,45.0,upper extremity,unknown,benign,0
ISIC_0149568,IP_0962375,female,55.0,upper extremity,melanoma,malignant,1
ISIC_0074311,IP_2950485,female,40.0,lower extremity,nevus,benign,0
ISIC_0084270,IP_2950485,female,40.0,,lentigo NOS,benign,0
ISIC_0232101,IP_0962375,,,torso,seborrheic keratosis,benign,0
"""
)
ARCHIVE_ROWS = (
    "isic_id,attribution,diagnosis,diagnosis_confirm_type,benign_malignant,"
    "age_approx,sex,anatom_site_general,lesion_id,patient_id\n"
    "ISIC_0000001,Anon,basal cell carcinoma,histopathology,malignant,"
    "60,male,posterior torso,IL_1,IP_1\n"
    "ISIC_0000002,Anon,nevus,serial imaging showing no change,benign,"
    "35,female,lower extremity,IL_2,IP_1\n"
    "ISIC_0000003,Anon,squamous cell carcinoma,single image expert consensus,,"
    "80,,head/neck,IL_3,IP_2\n"
)


def _ids(frame: pd.DataFrame) -> dict[str, dict[str, object]]:
    return frame.set_index("image_id").to_dict("index")


# --------------------------------------------------------------------------------------------
# Format detection


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (
            ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization", "dataset"],
            "ham10000",
        ),
        (["image", "MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"], "isic2019"),
        (["image", "age_approx", "anatom_site_general", "lesion_id", "sex"], "isic2019_metadata"),
        (["image_name", "patient_id", "sex", "age_approx", "diagnosis", "target"], "isic2020"),
        (["isic_id", "diagnosis", "attribution"], "isic_archive"),
        ([" \ufeffImage_ID ", "DX", "extra"], "ham10000"),
    ],
)
def test_detect_format(columns: list[str], expected: str) -> None:
    assert detect_format(columns) == expected


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["lesion_id", "image_id", "age"], "missing: dx"),
        (["image_id", "foo", "bar"], "unexpected column(s): foo, bar"),
        (["image", "MEL", "NV"], "missing: bcc, ak, bkl, df, vasc, scc"),
        (["image_name", "target"], "ISIC 2020 training ground truth"),
        (["a", "b"], "none of its columns (a, b) is an ISIC metadata column"),
    ],
)
def test_detect_format_names_the_columns(columns: list[str], expected: str) -> None:
    with pytest.raises(MetadataError) as error:
        detect_format(columns)
    assert expected in str(error.value)


# --------------------------------------------------------------------------------------------
# Readers on real rows


def test_ham10000_rows() -> None:
    frame = read_metadata(HAM_ROWS.encode())
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 9
    assert set(frame["dataset"]) == {"HAM10000"}
    row = _ids(frame)["ISIC_0027419"]
    assert row["lesion_id"] == "HAM_0000118"
    assert row["diagnosis"] == "bkl"
    assert bool(row["malignant"]) is False  # bool(pd.NA) would raise
    assert row["age"] == 80.0
    assert (row["sex"], row["site"], row["confirmation"]) == ("male", "head/neck", "histopathology")
    mel = _ids(frame)["ISIC_0029478"]
    assert np.isnan(mel["age"])
    assert (mel["sex"], mel["site"], mel["confirmation"]) == ("unknown", "unknown", "consensus")
    assert bool(mel["malignant"]) is True
    sites = frame.set_index("image_id")["site"]
    assert sites["ISIC_0025837"] == "torso"  # back
    assert sites["ISIC_0027008"] == "torso"  # trunk
    assert sites["ISIC_0024480"] == "palms/soles"  # acral
    assert frame.set_index("image_id").loc["ISIC_0027008", "confirmation"] == "follow-up"
    assert frame.set_index("image_id").loc["ISIC_0024480", "confirmation"] == "confocal"
    assert frame["patient_id"].isna().all()


def test_isic2018_test_is_recognised_by_lesion_ids() -> None:
    frame = read_metadata(TEST_ROWS.encode())
    assert set(frame["dataset"]) == {"ISIC 2018 test"}
    assert read_metadata(TEST_ROWS.encode(), dataset="Mine")["dataset"].eq("Mine").all()


def test_isic2019_joined_with_metadata_bytes() -> None:
    frame = read_metadata(GT_2019_ROWS.encode(), metadata=META_2019_ROWS.encode())
    rows = _ids(frame)
    assert set(frame["dataset"]) == {"ISIC 2019"}
    assert rows["ISIC_0000000"]["diagnosis"] == "nv"
    assert rows["ISIC_0000000"]["site"] == "torso"
    assert rows["ISIC_0000000"]["age"] == 55.0
    assert pd.isna(rows["ISIC_0000000"]["lesion_id"])  # many ISIC 2019 rows have none
    assert rows["ISIC_0024329"]["diagnosis"] == "akiec"
    assert rows["ISIC_0024329"]["lesion_id"] == "HAM_0002954"
    assert rows["ISIC_0053454"]["diagnosis"] == "scc"
    assert bool(rows["ISIC_0053454"]["malignant"]) is True
    assert np.isnan(rows["ISIC_0053454"]["age"])  # BCN without an age
    assert rows["ISIC_0053454"]["sex"] == "unknown"
    assert rows["ISIC_0000080_downsampled"]["site"] == "unknown"
    assert set(frame["confirmation"]) == {"unknown"}


def test_isic2019_metadata_found_beside_the_ground_truth(tmp_path: Path) -> None:
    (tmp_path / "ISIC_2019_Training_GroundTruth.csv").write_text(GT_2019_ROWS)
    (tmp_path / "ISIC_2019_Training_Metadata.csv").write_text(META_2019_ROWS)
    frame = read_metadata(tmp_path / "ISIC_2019_Training_GroundTruth.csv")
    assert frame.set_index("image_id").loc["ISIC_0024329", "lesion_id"] == "HAM_0002954"


def test_isic2019_without_metadata_has_unknown_demographics() -> None:
    frame = read_metadata(GT_2019_ROWS.encode())
    assert frame["age"].isna().all()
    assert set(frame["sex"]) == {"unknown"}
    assert frame["diagnosis"].tolist() == ["nv", "mel", "nv", "akiec", "scc"]


def test_metadata_argument_is_only_for_isic2019() -> None:
    with pytest.raises(MetadataError, match="only for the ISIC 2019"):
        read_metadata(HAM_ROWS.encode(), metadata=META_2019_ROWS.encode())


def test_isic2020_rows() -> None:
    frame = read_metadata(ROWS_2020.encode())
    rows = _ids(frame)
    assert set(frame["dataset"]) == {"ISIC 2020"}
    assert rows["ISIC_2637011"]["diagnosis"] == "unknown"
    assert bool(rows["ISIC_2637011"]["malignant"]) is False  # benign_malignant says benign
    assert rows["ISIC_0149568"]["diagnosis"] == "mel"
    assert bool(rows["ISIC_0149568"]["malignant"]) is True
    assert rows["ISIC_0084270"]["diagnosis"] == "bkl"  # lentigo NOS
    assert rows["ISIC_0084270"]["site"] == "unknown"
    assert rows["ISIC_0232101"]["site"] == "torso"
    assert rows["ISIC_0232101"]["sex"] == "unknown"
    assert rows["ISIC_0074311"]["patient_id"] == "IP_2950485"
    assert frame["lesion_id"].isna().all()


def test_isic2020_target_is_used_without_benign_malignant() -> None:
    text = (
        ROWS_2020.replace(",benign_malignant", "")
        .replace(",benign,", ",")
        .replace(",malignant,", ",")
    )
    frame = read_metadata(text.encode())
    assert frame["malignant"].astype(bool).tolist() == [False, False, True, False, False, False]


def test_isic_archive_rows() -> None:
    frame = read_metadata(ARCHIVE_ROWS.encode())
    rows = _ids(frame)
    assert set(frame["dataset"]) == {"ISIC Archive"}
    assert rows["ISIC_0000001"]["diagnosis"] == "bcc"
    assert rows["ISIC_0000001"]["confirmation"] == "histopathology"
    assert rows["ISIC_0000002"]["confirmation"] == "follow-up"
    assert rows["ISIC_0000003"]["diagnosis"] == "scc"
    assert rows["ISIC_0000003"]["confirmation"] == "consensus"
    assert bool(rows["ISIC_0000003"]["malignant"]) is True


# --------------------------------------------------------------------------------------------
# Robustness


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda t: ("\ufeff" + t).encode("utf-8"), id="bom"),
        pytest.param(lambda t: t.replace(",", ";").encode(), id="semicolon"),
        pytest.param(lambda t: t.replace(",", "\t").encode(), id="tab"),
        pytest.param(lambda t: t.replace("\n", "\r\n").encode(), id="crlf"),
        pytest.param(lambda t: t.encode("latin-1"), id="latin-1"),
        pytest.param(
            lambda t: t.replace("\n", ",x\n").replace("dataset,x", "dataset,extra").encode(),
            id="extra-column",
        ),
        pytest.param(lambda t: t.upper().replace("HAM_", "HAM_").encode(), id="upper-case"),
        pytest.param(lambda t: ("\n\n" + t + "\n\n").encode(), id="blank-lines"),
    ],
)
def test_variants_read_alike(transform) -> None:
    expected = read_metadata(HAM_ROWS.encode())
    frame = read_metadata(transform(HAM_ROWS))
    assert frame["image_id"].str.upper().tolist() == expected["image_id"].tolist()
    assert frame["diagnosis"].tolist() == expected["diagnosis"].tolist()
    assert frame["site"].tolist() == expected["site"].tolist()
    assert frame["age"].fillna(-1).tolist() == expected["age"].fillna(-1).tolist()


def test_quoted_fields_and_spaces() -> None:
    text = 'image_id , dx ,age\n" ISIC_1 ",NV, 40\nISIC_2,"mel",\n'
    frame = read_metadata(text.encode())
    assert frame["image_id"].tolist() == ["ISIC_1", "ISIC_2"]
    assert frame["diagnosis"].tolist() == ["nv", "mel"]
    assert frame["age"].fillna(-1).tolist() == [40.0, -1]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: HAM_ROWS, id="text"),
        pytest.param(lambda: HAM_ROWS.encode(), id="bytes"),
        pytest.param(lambda: io.BytesIO(HAM_ROWS.encode()), id="binary-file"),
        pytest.param(lambda: io.StringIO(HAM_ROWS), id="text-file"),
        pytest.param(lambda: pd.read_csv(io.StringIO(HAM_ROWS)), id="dataframe"),
    ],
)
def test_source_kinds(make, tmp_path: Path) -> None:
    source = make()
    if isinstance(source, str):
        path = tmp_path / "meta.csv"
        path.write_text(source)
        source = str(path)
    frame = read_metadata(source)
    assert len(frame) == 9
    assert frame["age"].iloc[0] == 80.0


def test_value_vocabularies() -> None:
    frames = [
        read_metadata(HAM_ROWS.encode()),
        read_metadata(GT_2019_ROWS.encode(), metadata=META_2019_ROWS.encode()),
        read_metadata(ROWS_2020.encode()),
        read_metadata(ARCHIVE_ROWS.encode()),
    ]
    frame = pd.concat(frames)
    assert set(frame["sex"]) <= set(SEXES)
    assert set(frame["site"]) <= set(SITES)
    assert set(frame["confirmation"]) <= set(CONFIRMATIONS)
    assert frame["age"].dtype == float
    assert str(frame["malignant"].dtype) == "boolean"


def test_unknown_site_becomes_other() -> None:
    frame = read_metadata(b"image_id,dx,localization\nISIC_1,nv,buttock\nISIC_2,nv,\n")
    assert frame["site"].tolist() == ["other", "unknown"]


def test_large_file() -> None:
    n = 120_000
    rng = np.random.default_rng(0)
    codes = rng.choice(["nv", "mel", "bkl", "bcc"], size=n)
    frame = pd.DataFrame(
        {
            "lesion_id": [f"L{i // 2}" for i in range(n)],
            "image_id": [f"ISIC_{i:07d}" for i in range(n)],
            "dx": codes,
            "dx_type": "histo",
            "age": rng.integers(0, 18, size=n) * 5.0,
            "sex": rng.choice(["male", "female", ""], size=n),
            "localization": rng.choice(["back", "face", "unknown"], size=n),
        }
    )
    data = frame.to_csv(index=False).encode()
    started = time.perf_counter()
    result = read_metadata(data)
    assert time.perf_counter() - started < 30
    assert len(result) == n
    assert result["diagnosis"].value_counts().to_dict() == pd.Series(codes).value_counts().to_dict()


# --------------------------------------------------------------------------------------------
# Malformed files: (bytes, expected words in the one-line error)

MALFORMED = [
    pytest.param(b"", "is empty", id="empty"),
    pytest.param(b" \n\r\n\t\n", "is empty", id="blank"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "binary data", id="png"),
    pytest.param(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "binary data", id="jpeg"),
    pytest.param(bytes(range(1, 32)) * 40, "binary data", id="control-bytes"),
    pytest.param(b"PK\x03\x04" + bytes(40), "ZIP archive", id="zip"),
    pytest.param(b"\x1f\x8b\x08\x00" + bytes(20), "gzip file", id="gzip"),
    pytest.param(b"lesion_id,image_id,dx\n", "no data rows", id="header-only"),
    pytest.param(b"lesion_id,image_id,age\nL1,I1,40\n", "missing: dx", id="missing-dx"),
    pytest.param(b"foo,bar\n1,2\n", "none of its columns (foo, bar)", id="no-known-column"),
    pytest.param(
        GT_2019_ROWS.replace("ISIC_0000002,1.0", "ISIC_0000002,yes").encode(),
        "'mel' must be numeric, but holds 'yes' on data row(s) 2",
        id="one-hot-text",
    ),
    pytest.param(
        ROWS_2020.replace(",0\n", ",no\n", 1).encode(), "'target' must be numeric", id="target-text"
    ),
    # Each says what to do, not only what is wrong: a teacher's duplicated row was refused with
    # "image id 'I1' appears more than once (duplicates on data row(s) 1, 2)" and no way on.
    pytest.param(
        b"image_id,dx\nI1,nv\n,mel\n",
        "image id is blank on data row(s) 2: fill it in or remove those rows, then try again",
        id="blank-id",
    ),
    pytest.param(
        b"image_id,dx\nI1,nv\nI1,mel\n",
        "'I1' appears more than once (duplicates on data row(s) 1, 2): each image may appear "
        "only once, so remove the repeated rows and try again",
        id="duplicate-id",
    ),
    pytest.param(b'image_id,dx\nI1,nv,extra,more\nI2,"mel\n', "cannot be read as CSV", id="ragged"),
    # A JSON file (a model card renamed .csv) was refused with "line 73 has 3 values where the
    # header has 2", which sent a person looking for a bad line.
    pytest.param(
        b'\xef\xbb\xbf  {\n "name": "x",\n "a": [1, 2]\n}\n',
        "is a JSON file, not a CSV: export or save the metadata as CSV",
        id="json",
    ),
    pytest.param(b"<!DOCTYPE html>\n<html></html>\n", "is a web page (HTML), not a CSV", id="html"),
]


@pytest.mark.parametrize(("data", "expected"), MALFORMED)
def test_malformed(data: bytes, expected: str) -> None:
    with pytest.raises(MetadataError) as error:
        read_metadata(data)
    message = str(error.value)
    assert expected in message
    assert "\n" not in message.strip()


def test_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "clinic.csv"
    path.write_text("foo,bar\n1,2\n")
    with pytest.raises(MetadataError, match=r"^clinic\.csv: not a recognised"):
        read_metadata(path)
    with pytest.raises(MetadataError, match="cannot read"):
        read_metadata(tmp_path / "absent.csv")
    with pytest.raises(MetadataError, match="cannot read metadata from a int"):
        read_metadata(42)
    with pytest.raises(MetadataError, match="pass CSV text as bytes"):
        read_metadata(HAM_ROWS)


def test_formats_are_consistent() -> None:
    for fmt in FORMATS.values():
        assert detect_format(fmt.required) == fmt.key
        # The ISIC 2020 reader, shared with the Archive's, reads its confirmation column too.
        read = set(fmt.columns) | ({"diagnosis_confirm_type"} if fmt.key == "isic2020" else set())
        assert set(VALUE_COLUMNS[fmt.key].values()) <= read


def test_values_the_app_does_not_know_are_reported() -> None:
    data = (
        b"image_id,dx,dx_type,sex,localization\n"
        b"I1,foo,histo,robot,moon\nI2,foo,zz,Robot,moon\nI3,nv,,unknown,back\nI4,MEL,,F,\n"
    )
    frame, unrecognised = read_metadata_checked(data)
    assert unrecognised == {
        "diagnosis": {"foo": 2},
        "sex": {"robot": 1, "Robot": 1},
        "site": {"moon": 2},
        "confirmation": {"zz": 1},
    }
    assert frame.equals(read_metadata(data))
    for rows in (HAM_ROWS, ROWS_2020, ARCHIVE_ROWS):  # real rows: every value known
        assert read_metadata_checked(rows.encode())[1] == {}


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("image_id,dx,age", "I{i},nv,{age}"),
        ("image_name,diagnosis,age_approx", "I{i},nevus,{age}"),
        ("isic_id,diagnosis,age_approx", "I{i},nevus,{age}"),
        ("image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,age_approx", "I{i},0,1,0,0,0,0,0,0,{age}"),
    ],
    ids=["ham10000", "isic2020", "isic_archive", "isic2019"],
)
def test_an_unusable_age_is_unknown_and_reported(header: str, row: str) -> None:
    """ "forty" refused the whole file while a sex "robot" was only counted as unknown: an age
    that is no number from 0 to 120 is now unknown too, and reported with its rows."""
    ages = ["40", "forty", "unknown", "", "-5", "300", "forty", "55.0", "4_0"]
    lines = [header, *(row.format(i=i, age=age) for i, age in enumerate(ages))]
    frame, unrecognised = read_metadata_checked("\n".join(lines).encode())
    assert frame["age"].fillna(-1).tolist() == [40.0, -1, -1, -1, -1, -1, -1, 55.0, -1]
    # Blank and "unknown" say the age is unknown, as "unknown" does for a sex: not reported.
    assert unrecognised == {"age": {"forty": 2, "-5": 1, "300": 1, "4_0": 1}}


def test_a_file_with_no_usable_age_still_reads() -> None:
    frame, unrecognised = read_metadata_checked(b"image_id,dx,age\nI1,nv,old\nI2,mel,young\n")
    assert frame["age"].isna().all() and len(frame) == 2
    assert unrecognised == {"age": {"old": 1, "young": 1}}


# --------------------------------------------------------------------------------------------
# The real files, against counts pandas computes here


@pytest.mark.data
@pytest.mark.data
@pytest.mark.parametrize("path", [HAM_CSV, TEST_CSV], ids=["ham10000", "isic2018-test"])
def test_real_ham_format(path: Path) -> None:
    raw = pd.read_csv(path)
    frame = read_metadata(path)
    assert len(frame) == len(raw)
    assert frame["image_id"].tolist() == raw["image_id"].tolist()
    assert frame["lesion_id"].tolist() == raw["lesion_id"].tolist()
    assert frame["diagnosis"].value_counts().to_dict() == raw["dx"].value_counts().to_dict()
    assert frame["age"].isna().sum() == raw["age"].isna().sum()
    histo = (raw["dx_type"] == "histo").sum()
    assert (frame["confirmation"] == "histopathology").sum() == histo
    assert (frame["sex"] == "male").sum() == (raw["sex"] == "male").sum()


@pytest.mark.data
@pytest.mark.data
def test_real_ham10000_counts() -> None:
    frame = read_metadata(HAM_CSV)
    assert frame["diagnosis"].value_counts().to_dict() == {
        "nv": 6705,
        "mel": 1113,
        "bkl": 1099,
        "bcc": 514,
        "akiec": 327,
        "vasc": 142,
        "df": 115,
    }
    assert frame["lesion_id"].nunique() == 7470
    assert set(frame["dataset"]) == {"HAM10000"}
    assert set(read_metadata(TEST_CSV)["dataset"]) == {"ISIC 2018 test"}


@pytest.mark.data
@pytest.mark.data
def test_real_isic2019() -> None:
    truth = pd.read_csv(GT_2019)
    meta = pd.read_csv(META_2019)
    frame = read_metadata(GT_2019)  # metadata found beside it
    assert frame["image_id"].tolist() == truth["image"].tolist()
    one_hot = truth.drop(columns="image").sum().astype(int)
    counts = frame["diagnosis"].value_counts()
    for column, code in [("MEL", "mel"), ("NV", "nv"), ("AK", "akiec"), ("SCC", "scc")]:
        assert counts[code] == one_hot[column]
    assert frame["lesion_id"].isna().sum() == meta["lesion_id"].isna().sum()
    assert frame["age"].isna().sum() == meta["age_approx"].isna().sum()
    bcn = meta["lesion_id"].fillna("").str.startswith("BCN_")
    assert frame.loc[bcn.to_numpy(), "age"].isna().sum() == meta.loc[bcn, "age_approx"].isna().sum()
    assert set(frame["dataset"]) == {"ISIC 2019"}


@pytest.mark.data
@pytest.mark.data
def test_real_isic2020() -> None:
    raw = pd.read_csv(GT_2020)
    frame = read_metadata(GT_2020)
    assert len(frame) == 33126
    assert int(frame["malignant"].sum()) == int(raw["target"].sum()) == 584
    assert (frame["diagnosis"] == "mel").sum() == (raw["diagnosis"] == "melanoma").sum()
    assert frame["patient_id"].nunique() == raw["patient_id"].nunique()
    assert (frame["site"] == "torso").sum() == (
        raw["anatom_site_general_challenge"] == "torso"
    ).sum()


@pytest.mark.data
@pytest.mark.data
def test_read_header_of_real_files() -> None:
    assert read_header(GT_2019)[:3] == ["image", "mel", "nv"]
    assert detect_format(read_header(META_2019)) == "isic2019_metadata"
