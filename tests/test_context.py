"""Clinical context (age, sex, body site): normalisation, likelihood tables, fusion, and its
use through the Predictor, the CLI and evaluation."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import add_test_context

from skindx.diagnosis.context import (
    AGE_EDGES,
    Context,
    ContextError,
    apply_context,
    fit_context,
    fit_tables,
    fit_weight,
    fuse,
    log_likelihoods,
)
from skindx.taxonomy import CODES, ISIC2018_COLUMNS, SITES

MEL, NV = CODES.index("mel"), CODES.index("nv")


def test_context_normalises_synonyms_and_blanks():
    assert Context("45", "F", "back") == Context(45.0, "female", "torso")
    assert Context(None, "unknown", " ") == Context()
    assert not Context().given and Context(site="face").site == "head/neck"
    assert Context(float("nan")).age is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"age": -3}, "between 0 and 120"),
        ({"age": "forty"}, "number of years"),
        ({"sex": "x"}, "female, male"),
        ({"site": "elbow pit"}, "torso"),
    ],
)
def test_bad_context_is_one_clear_message(fields, message):
    with pytest.raises(ContextError, match=message):
        Context(**fields)


def _frame(rows):
    return pd.DataFrame(rows, columns=["image_id", "lesion_id", "diagnosis", "age", "sex", "site"])


def test_tables_count_each_lesion_once_with_add_one_smoothing():
    rows = [
        # one melanoma lesion photographed three times, on the back of a 70-year-old man
        *[(f"i{k}", "L1", "mel", 70.0, "male", "torso") for k in range(3)],
        ("i3", "L2", "mel", 20.0, "female", "unknown"),
        ("i4", "L3", "nv", 20.0, "female", "lower extremity"),
    ]
    tables = fit_tables(_frame(rows))
    sex = np.exp(np.asarray(tables["sex"]))
    # melanoma: lesions L1 (male) and L2 (female), each once; +1 smoothing on both
    assert sex[:, MEL] == pytest.approx([2 / 4, 2 / 4], abs=1e-4)
    assert sex[:, NV] == pytest.approx([2 / 3, 1 / 3], abs=1e-4)
    site = np.exp(np.asarray(tables["site"]))
    # the unknown site of L2 is not counted: only L1's torso, over 6 sites + 1 lesion
    assert site[SITES.index("torso"), MEL] == pytest.approx(2 / 7, abs=1e-4)
    age = np.exp(np.asarray(tables["age"]))
    assert age.shape == (len(AGE_EDGES) + 1, len(CODES))
    assert np.allclose(age.sum(axis=0), 1.0, atol=1e-3)  # every class: a distribution


def test_log_likelihoods_sum_what_is_given_and_nothing_else():
    tables = fit_tables(_frame([("a", "A", "mel", 70.0, "male", "torso")]))
    sex_only, none = log_likelihoods(tables, [Context(sex="male"), Context()])
    assert sex_only == pytest.approx(np.asarray(tables["sex"])[1])
    assert not none.any()
    full = log_likelihoods(tables, [Context(70, "male", "torso")])[0]
    expected = sum(np.asarray(tables[k])[i] for k, i in (("age", 4), ("sex", 1), ("site", 3)))
    assert full == pytest.approx(expected)


def test_fusion_is_bayes_rule_and_weight_zero_is_the_image():
    p = np.array([[0.2, 0.8]])
    terms = np.log(np.array([[0.9, 0.1]]))
    assert fuse(p, terms, 0.0) == pytest.approx(p)
    # 0.2*0.9 : 0.8*0.1 = 0.18 : 0.08
    assert fuse(p, terms, 1.0) == pytest.approx(np.array([[0.18 / 0.26, 0.08 / 0.26]]))


def test_weight_fit_follows_how_informative_the_context_is():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 4000)
    image = np.full((4000, 2), 0.5)  # the image says nothing
    # a context value that equals the label 70% of the time; terms = log p(value | class)
    value = np.where(rng.random(4000) < 0.7, labels, 1 - labels)
    informative = np.log(np.where(value[:, None] == np.arange(2), 0.7, 0.3))
    assert fit_weight(image, labels, informative) == pytest.approx(1.0, abs=0.15)
    noise = informative[rng.permutation(4000)]
    assert fit_weight(image, labels, noise) < 0.1


def test_rows_without_context_keep_the_image_probabilities():
    section = {"tables": fit_tables(_frame([("a", "A", "mel", 70.0, "male", "torso")]))}
    section["weight"] = 0.7
    p = np.full((3, len(CODES)), 1 / len(CODES))
    fused, used = apply_context(section, p, [None, Context(), Context(sex="male")])
    assert used.tolist() == [False, False, True]
    assert fused[:2] == pytest.approx(p[:2]) and fused[2] != pytest.approx(p[2])
    assert fused.sum(axis=1) == pytest.approx(1.0)


def test_fit_context_records_tables_weight_and_its_own_triage():
    rng = np.random.default_rng(1)
    n = 400
    labels = rng.integers(0, len(CODES), n)
    old = labels == MEL  # melanoma patients are older here
    frame = _frame(
        [
            (f"i{k}", f"L{k}", CODES[y], 75.0 if o else 30.0, "male", "torso")
            for k, (y, o) in enumerate(zip(labels, old, strict=True))
        ]
    )
    image = np.full((n, len(CODES)), 1 / len(CODES))
    section, fused = fit_context(frame, frame, image, labels)
    assert section["weight"] > 0.5 and section["validation_share_given"] == 1.0
    assert section["thresholds"]["see_doctor"] <= section["thresholds"]["see_doctor_soon"]
    assert (fused.argmax(axis=1)[old] == MEL).all()
    json.dumps(section)  # goes into card.json as it is


# -- through the Predictor, the CLI and evaluation ----------------------------------------------
@pytest.fixture(scope="module")
def context_model(tiny_model_dir, tmp_path_factory):
    """The tiny test model with a context section that links old age to melanoma."""
    from skindx.model.bundle import load_model

    directory = tmp_path_factory.mktemp("context_model") / "model"
    return load_model(add_test_context(directory, tiny_model_dir))


def test_predictor_uses_context_only_when_given(context_model, lesion_image):
    from skindx.diagnosis.predict import Predictor

    predictor = Predictor(context_model)
    alone = predictor.predict(lesion_image)
    empty = predictor.predict(lesion_image, Context())
    assert empty.probabilities == alone.probabilities and not empty.context_used
    old = predictor.predict(lesion_image, Context(80, "male", "back"))
    assert old.context_used and old.to_dict()["context_used"] is True
    assert old.probabilities["mel"] > alone.probabilities["mel"]
    assert math.isclose(sum(old.probabilities.values()), 1.0, abs_tol=1e-9)
    batch = predictor.predict_batch([lesion_image] * 2, contexts=[None, Context(80)])
    # a batch of two may take other CPU kernels than one image: equal up to float rounding
    assert batch[0].probabilities == pytest.approx(dict(alone.probabilities), abs=1e-3)
    assert batch[1].context_used
    with pytest.raises(ValueError, match="contexts"):
        predictor.predict_batch([lesion_image], contexts=[])


def test_a_model_without_context_ignores_it(tiny_model, lesion_image):
    from skindx.diagnosis.predict import Predictor

    predictor = Predictor(tiny_model)
    assert not tiny_model.card.context
    given = predictor.predict(lesion_image, Context(80, "male", "torso"))
    assert not given.context_used
    assert given.probabilities == predictor.predict(lesion_image).probabilities


def test_cli_predict_with_context(context_model, tmp_path, capsys):
    from PIL import Image

    from skindx.cli import main

    image = tmp_path / "spot.png"
    Image.fromarray(np.full((60, 80, 3), 120, np.uint8)).save(image)
    args = ["predict", str(image), "--model", str(context_model.directory), "--json"]
    assert main([*args, "--age", "80", "--sex", "m", "--site", "back"]) == 0
    assert json.loads(capsys.readouterr().out)["context_used"] is True
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--age", "two hundred"])
    assert exit_info.value.code == 2
    assert "Age must be a number" in capsys.readouterr().err


@pytest.mark.data
def test_evaluate_with_context_reads_age_sex_site(
    shared_data, context_model, tiny_model, tmp_path, capsys
):
    from skindx.cli import main
    from skindx.evaluation.evaluate import evaluate_model

    test = shared_data / "isic2018_test"
    subset = pd.read_csv(test / "ISIC2018_Task3_Test_GroundTruth.csv").groupby("dx").head(2)
    labels = tmp_path / "labels.csv"
    subset.to_csv(labels, index=False)
    known = subset[["sex", "localization"]].replace("unknown", np.nan).notna()
    given = (known.any(axis=1) | subset["age"].notna()).mean()
    with_context = evaluate_model(context_model, test / "images", labels, with_context=True)
    assert with_context["n"] == 14
    assert with_context["context_given_share"] == pytest.approx(given, abs=1e-4)
    assert with_context["triage"]["threshold"] == 0.2
    assert with_context["dataset"].endswith("with age, sex and site")
    plain = evaluate_model(context_model, test / "images", labels)
    assert "context_given_share" not in plain
    # the metadata CSV also gives the figures by age band, sex, site and source collection
    sources = subset["dataset"].value_counts()
    for report in (plain, with_context):
        assert sum(row["n"] for row in report["subgroups"]["sex"]) == 14
        assert {"age", "sex", "site", "source"} == set(report["subgroups"])
        by_source = {row["group"]: row["n"] for row in report["subgroups"]["source"]}
        assert by_source == sources.to_dict()
    # a one-hot ground truth has no age, sex or site: one clear line, exit status 1
    one_hot = tmp_path / "one_hot.csv"
    columns = {ISIC2018_COLUMNS[c]: (subset["dx"] == c).astype(float) for c in CODES}
    pd.DataFrame({"image": subset["image_id"], **columns}).to_csv(one_hot, index=False)
    args = ["evaluate", "--model", str(context_model.directory), "--images", str(test / "images")]
    assert main([*args, "--labels", str(one_hot), "--with-context"]) == 1
    assert "needs a metadata CSV with age, sex and site" in capsys.readouterr().err
    # a model without a context section: one clear line, exit status 1
    code = main(["evaluate", "--model", str(tiny_model.directory), "--images",
                 str(test / "images"), "--labels", str(labels), "--with-context"])  # fmt: skip
    assert code == 1
