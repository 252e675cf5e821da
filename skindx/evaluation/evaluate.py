"""Evaluation: the official ISIC 2018 scorer plus sensitivity, calibration and ROC figures."""

from __future__ import annotations

import tempfile
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from skindx.evaluation.metrics import (  # also re-exported
    INTERVAL_LEVEL,
    RESAMPLES,
    balanced_accuracy,
    balanced_accuracy_interval,
    expected_calibration_error,
    share_interval,
)
from skindx.files import atomic_path
from skindx.model.calibration import MALIGNANT_INDEX, malignant_probability
from skindx.taxonomy import (
    CODES,
    ISIC2018_COLUMNS,
    ISIC2018_HEADER,
    ISIC2019_COLUMNS,
    ISIC2020_DIAGNOSES,
    MALIGNANT_CODES,
)

MEL = CODES.index("mel")


def _roc_points(truth: np.ndarray, scores: np.ndarray, max_points: int = 60) -> dict[str, list]:
    fpr, tpr, _ = roc_curve(truth, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr))).astype(int))
    return {"fpr": np.round(fpr[keep], 4).tolist(), "tpr": np.round(tpr[keep], 4).tolist()}


def _safe_auc(truth: np.ndarray, scores: np.ndarray) -> float | None:
    if truth.min() == truth.max():
        return None
    return round(float(roc_auc_score(truth, scores)), 4)


def same_spot_figures(
    labels: np.ndarray, probabilities: np.ndarray, lesion_ids: Sequence[str]
) -> dict[str, Any]:
    """On the lesions with several images: balanced accuracy from one image per lesion (its
    first) and from the mean of all its images' probabilities, and how often the images of a
    lesion disagree on the top diagnosis (what combining photos of one spot is worth)."""
    groups: dict[str, list[int]] = {}
    for i, lesion in enumerate(lesion_ids):
        groups.setdefault(str(lesion), []).append(i)
    several = [rows for rows in groups.values() if len(rows) > 1]
    if not several:
        return {"n_lesions": 0}
    truth = np.array([labels[rows[0]] for rows in several])
    first = np.array([probabilities[rows[0]].argmax() for rows in several])
    combined = np.array([probabilities[rows].mean(axis=0).argmax() for rows in several])
    disagree = [len(set(probabilities[rows].argmax(axis=1))) > 1 for rows in several]
    return {
        "n_lesions": len(several),
        "n_images": sum(len(rows) for rows in several),
        "one_image_balanced_accuracy": balanced_accuracy(truth, first),
        "combined_balanced_accuracy": balanced_accuracy(truth, combined),
        "images_disagree": float(np.mean(disagree)),
    }


def metrics_from_probabilities(
    labels: np.ndarray,
    probabilities: np.ndarray,
    thresholds: dict[str, float] | None,
    lesions: np.ndarray | None = None,
) -> dict[str, Any]:
    """Every figure the card and the app show, from true labels and class probabilities;
    with ``lesions`` (a lesion id per image), the triage's melanoma sensitivity interval."""
    labels = np.asarray(labels)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, labels=range(len(CODES)))
    per_class, rocs = {}, {}
    for i, code in enumerate(CODES):
        truth = labels == i
        tp = matrix[i, i]
        fn = matrix[i].sum() - tp
        fp = matrix[:, i].sum() - tp
        tn = matrix.sum() - tp - fn - fp
        per_class[code] = {
            "n": int(truth.sum()),
            "sensitivity": round(float(tp / (tp + fn)), 4) if tp + fn else None,
            "specificity": round(float(tn / (tn + fp)), 4) if tn + fp else None,
            "auc": _safe_auc(truth, probabilities[:, i]),
        }
        if 0 < truth.sum() < len(truth):
            rocs[code] = _roc_points(truth, probabilities[:, i])
    ece, bins = expected_calibration_error(labels, probabilities)
    result: dict[str, Any] = {
        "n": len(labels),
        "accuracy": round(float((predicted == labels).mean()), 4),
        "balanced_accuracy": round(balanced_accuracy(labels, predicted), 4),
        "per_class": per_class,
        "melanoma_sensitivity": per_class["mel"]["sensitivity"],
        "ece": round(ece, 4),
        "reliability": bins,
        "confusion_matrix": matrix.tolist(),
        "classes": list(CODES),
        "roc": rocs,
    }
    is_malignant = np.isin(labels, MALIGNANT_INDEX)
    p_malignant = malignant_probability(probabilities)
    result["malignant_auc"] = _safe_auc(is_malignant, p_malignant)
    if thresholds:
        result["triage"] = triage_figures(labels, probabilities, thresholds["see_doctor"], lesions)
    return result


def triage_figures(
    labels, probabilities, see_doctor: float | np.ndarray, lesions: np.ndarray | None = None
) -> dict[str, Any]:
    """Sensitivity/specificity of the 'see a doctor' message; melanoma vs benign lesions.

    ``see_doctor``: the cut-off on the malignant probability, or one per image; ``lesions``:
    each image's lesion id, for the melanoma sensitivity's bootstrap interval (a target of
    the project's, so whether it is met within the test set's noise matters).
    """
    labels = np.asarray(labels)
    is_malignant = np.isin(labels, MALIGNANT_INDEX)
    flagged = malignant_probability(probabilities) >= see_doctor
    melanoma = labels == MEL
    benign = ~is_malignant

    def share(mask: np.ndarray, value: np.ndarray) -> float | None:
        return round(float(value[mask].mean()), 4) if mask.any() else None

    figures = {
        "threshold": round(float(see_doctor), 4) if np.ndim(see_doctor) == 0 else None,
        "malignant_sensitivity": share(is_malignant, flagged),
        "melanoma_sensitivity": share(melanoma, flagged),
        "benign_specificity": share(benign, ~flagged),
        "malignant_classes": list(MALIGNANT_CODES),
    }
    if lesions is not None and melanoma.any():
        low, high = share_interval(flagged[melanoma], np.asarray(lesions)[melanoma])
        figures["melanoma_sensitivity_interval"] = _interval(low, high, "lesions")
    return figures


SUBGROUP_MIN_IMAGES = 30  # smaller groups get a count only: their figures would be noise
SUBGROUP_MIN_EACH = 10  # malignant (benign) lesions needed for a sensitivity (specificity)
NOT_RECORDED = "not recorded"


def subgroup_metrics(
    labels, probabilities, contexts, see_doctor, in_domain=None, sources=None, lesions=None
) -> dict[str, list[dict]]:
    """Figures per age band, sex and body site: the disaggregated evaluation model cards ask
    for (Mitchell et al. 2019), so a group the model serves worse is visible.

    ``contexts``: each image's recorded age, sex and site (``None`` where the CSV gives none);
    ``see_doctor``: the triage cut-off, one number or one per image; ``in_domain``: whether
    the out-of-domain check accepted each image (adds the share, which tells a group from
    other acquisitions apart from one that is merely hard); ``sources``: each image's
    collection (the metadata's own ``dataset`` column), which adds a ``source`` grouping;
    ``lesions``: each image's lesion id, which the groups' bootstrap intervals resample whole.
    """
    from skindx.diagnosis.context import VARIABLES, value_label, value_labels

    labels, probabilities = np.asarray(labels), np.asarray(probabilities)
    cuts = np.broadcast_to(np.asarray(see_doctor, dtype=float), labels.shape)
    domain = None if in_domain is None else np.asarray(in_domain)

    def rows(names: list, order: list[str]) -> list[dict]:
        names = np.array([name or NOT_RECORDED for name in names], dtype=object)
        found = [name for name in [*order, NOT_RECORDED] if (names == name).any()]
        return [
            _group_row(name, labels, probabilities, cuts, domain, names == name, lesions)
            for name in found
        ]

    result = {
        variable: rows([c and value_label(variable, c) for c in contexts], value_labels(variable))
        for variable in VARIABLES
    }
    if sources is not None:  # the largest collection first
        counts = pd.Series([s for s in sources if s]).value_counts()
        result["source"] = rows(list(sources), list(counts.index))
    return result


def image_collections(frame: pd.DataFrame) -> dict[str, str] | None:
    """Each image's source collection from a normalised metadata frame (its ``collection``
    column); ``None`` where the file named none."""
    named = frame.dropna(subset=["collection"])
    return dict(zip(named["image_id"].astype(str), named["collection"], strict=True)) or None


def image_sources(frame: pd.DataFrame, image_ids: list[str]) -> list[str | None] | None:
    """The source collection of each of ``image_ids`` (``subgroup_metrics``' ``sources``);
    ``None`` where the file named none."""
    collections = image_collections(frame)
    return None if collections is None else [collections.get(i) for i in image_ids]


def _group_row(
    name, labels, probabilities, cuts, in_domain, inside, lesions=None
) -> dict[str, Any]:
    """One subgroup's row: counts always, figures from :data:`SUBGROUP_MIN_IMAGES` images
    (balanced accuracy with its bootstrap interval: small groups have wide ones)."""
    malignant = np.isin(labels[inside], MALIGNANT_INDEX)
    row = {"group": name, "n": int(inside.sum()), "n_malignant": int(malignant.sum())}
    if row["n"] < SUBGROUP_MIN_IMAGES:
        return row
    truth, guess = labels[inside], probabilities[inside].argmax(axis=1)
    triage = triage_figures(truth, probabilities[inside], cuts[inside])
    enough_malignant = row["n_malignant"] >= SUBGROUP_MIN_EACH
    enough_benign = row["n"] - row["n_malignant"] >= SUBGROUP_MIN_EACH
    row.update(
        accuracy=round(float((guess == truth).mean()), 4),
        balanced_accuracy=round(balanced_accuracy(truth, guess), 4),
        balanced_accuracy_interval=interval_record(
            truth, guess, None if lesions is None else np.asarray(lesions)[inside]
        ),
        classes_present=len(np.unique(truth)),
        malignant_sensitivity=triage["malignant_sensitivity"] if enough_malignant else None,
        benign_specificity=triage["benign_specificity"] if enough_benign else None,
    )
    if in_domain is not None:
        row["in_domain_share"] = round(float(np.mean(in_domain[inside])), 4)
    return row


def submission_frame(image_ids: list[str], probabilities: np.ndarray) -> pd.DataFrame:
    """``image`` + one probability column per class: the ISIC 2018 Task 3 CSV layout."""
    frame = pd.DataFrame(probabilities, columns=list(ISIC2018_HEADER))
    frame.insert(0, "image", list(image_ids))
    return frame


def official_isic2018_scores(
    image_ids: list[str], labels: np.ndarray, probabilities: np.ndarray
) -> dict[str, Any]:
    """Score with the official ``isic-challenge-scoring`` package (ISIC 2018 Task 3 format)."""
    from isic_challenge_scoring.classification import ClassificationMetric, ClassificationScore

    truth = submission_frame(image_ids, np.eye(len(CODES))[labels])
    prediction = submission_frame(image_ids, probabilities)
    with tempfile.TemporaryDirectory() as tmp:
        truth_path, prediction_path = Path(tmp, "truth.csv"), Path(tmp, "prediction.csv")
        truth.to_csv(truth_path, index=False)
        prediction.to_csv(prediction_path, index=False)
        with warnings.catch_warnings():  # the scorer calls pandas' deprecated applymap
            warnings.simplefilter("ignore", FutureWarning)
            score = ClassificationScore.from_file(
                truth_path, prediction_path, ClassificationMetric.BALANCED_ACCURACY
            )
    per_category = score.per_category
    return {
        "balanced_accuracy": round(float(score.overall), 4),
        "macro_auc": round(float(score.macro_average["auc"]), 4),
        "per_category": {
            code: {
                k: round(float(per_category.loc[ISIC2018_COLUMNS[code], k]), 4)
                for k in ("sensitivity", "specificity", "auc", "ap")
                if k in per_category.columns
            }
            for code in CODES
            if ISIC2018_COLUMNS[code] in per_category.index
        },
    }


class LabelError(ValueError):
    """A labels CSV with rows that cannot be scored; the message lists them (one line)."""


_LISTED_ROWS = 5  # bad rows named in the message; the rest are counted


def _outside_classes() -> frozenset[str]:
    """Diagnoses ISIC metadata names outside the seven classes (``scc``, ``unknown`` …): rows
    with them are left out and counted. Any other value is a mistake to report."""
    from skindx.datasets.metadata import ARCHIVE_DIAGNOSES

    named = {"scc", "unknown", *ISIC2019_COLUMNS.values(), *ISIC2020_DIAGNOSES.values()}
    return frozenset(named | set(ARCHIVE_DIAGNOSES.values())) - set(CODES)


@dataclass(frozen=True)
class EvaluationLabels:
    """The rows to score (``image_id, diagnosis`` in the seven classes) and the rows left
    out, counted by diagnosis."""

    table: pd.DataFrame
    left_out: dict[str, int]


def _one_hot_rows(labels_csv: str | Path) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    """The ISIC 2018 one-hot ground truth as ``image_id, diagnosis``, and its bad rows
    (line, image id, reason): blank, non-numeric, or not exactly one class marked."""
    from skindx.datasets.csv_text import read_table, source_name

    # read_table: any separator, BOM or spreadsheet encoding, as the metadata formats
    raw = read_table(labels_csv, source_name(labels_csv)).fillna("")
    columns = [column.lower() for column in ISIC2018_HEADER]
    text = raw[columns].apply(lambda column: column.str.strip())
    values = text.apply(pd.to_numeric, errors="coerce")
    bad, diagnoses = [], []
    for row, image_id in enumerate(raw["image"]):
        cells, numbers = text.iloc[row], values.iloc[row]
        wrong = [
            cell for cell, number in zip(cells, numbers, strict=True) if cell and number != number
        ]
        if not any(cells):
            reason = "the class columns are blank"
        elif wrong:
            reason = f"{wrong[0]!r} is not a number"
        elif numbers.isna().any():
            reason = "a class column is blank"
        elif not ((numbers == 1).sum() == 1 and ((numbers == 0) | (numbers == 1)).all()):
            reason = "not exactly one class is marked 1 (the others 0)"
        else:
            diagnoses.append(CODES[int(np.argmax(numbers.to_numpy()))])
            continue
        diagnoses.append("")
        bad.append((row + 2, image_id, reason))
    return pd.DataFrame({"image_id": raw["image"], "diagnosis": diagnoses}), bad


def check_labels(
    labels_csv: str | Path, images_dir: str | Path, frame: pd.DataFrame | None = None
) -> EvaluationLabels:
    """Read and check a labels CSV before any image is read.

    Raises :class:`LabelError` naming the rows that cannot be scored: an unknown diagnosis
    (``xyz``), a blank or non-numeric one-hot row, an image id that is blank or points outside
    ``images_dir`` (``../../..``). Rows with a diagnosis outside the seven classes that ISIC
    metadata uses (``scc``, ``unknown`` …) are left out and counted. ``frame`` is the CSV's
    normalised metadata where it is a metadata format (``None``: the one-hot ground truth).
    """
    if frame is None:
        table, bad = _one_hot_rows(labels_csv)
    else:
        table, bad = frame[["image_id", "diagnosis"]].astype({"image_id": str}), []
        known = set(CODES) | _outside_classes()
        pairs = zip(table["image_id"], table["diagnosis"], strict=True)
        for row, (image_id, code) in enumerate(pairs):
            if code not in known:
                bad.append((row + 2, image_id, f"unknown diagnosis {code!r}"))
    folder = Path(images_dir).resolve()
    first_row: dict[str, int] = {}  # a duplicate would count one image twice
    for row, image_id in enumerate(table["image_id"]):
        line = first_row.setdefault(str(image_id), row + 2)
        if not str(image_id).strip():
            bad.append((row + 2, image_id, "no image id"))
        elif not _inside(folder, str(image_id)):
            bad.append((row + 2, image_id, "the image id points outside --images"))
        elif line != row + 2:
            bad.append((row + 2, image_id, f"the same image as row {line}"))
    if bad:
        bad.sort()
        listed = "; ".join(
            f"row {line} ({image_id!r}): {reason}" for line, image_id, reason in bad[:_LISTED_ROWS]
        )
        more = f"; and {len(bad) - _LISTED_ROWS} more" if len(bad) > _LISTED_ROWS else ""
        rows = "row cannot" if len(bad) == 1 else "rows cannot"
        raise LabelError(
            f"{labels_csv}: {len(bad)} {rows} be scored: {listed}{more}. Correct them (a "
            "diagnosis outside the seven classes can be written 'unknown' to leave its row "
            "out) and run again."
        )
    inside = table["diagnosis"].isin(CODES)
    left_out = dict(Counter(table.loc[~inside, "diagnosis"]).most_common())
    return EvaluationLabels(table[inside].reset_index(drop=True), left_out)


def _inside(folder: Path, image_id: str) -> bool:
    try:
        return "\x00" not in image_id and (folder / image_id).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def evaluate_model(
    skin_model,
    images_dir: str | Path,
    labels_csv: str | Path,
    tta: bool | None = None,
    predictions_csv: str | Path | None = None,
    name: str = "ISIC 2018 Task 3 test",
    batch_size: int = 64,
    with_context: bool = False,
) -> dict[str, Any]:
    """Predict every labelled image and compute the full report (JSON-serialisable).

    ``with_context``: give the model each image's age, sex and body site from the labels
    CSV (a metadata format with those columns). Each image is then triaged with the cut-offs
    fitted for what it was given, as in the app, and the report records the share of images
    with any context given. Whenever the CSV records age, sex or site, the report also holds
    ``subgroups`` (:func:`subgroup_metrics`).
    """
    from skindx.datasets.labelled import labelled_paths
    from skindx.diagnosis.context import contexts_from_frame
    from skindx.diagnosis.predict import Predictor
    from skindx.images.loading import ImageRejected, load_image

    frame = _metadata_frame(labels_csv)  # age, sex and site, for --with-context and subgroups
    if with_context:
        _check_context(skin_model, frame)
    # Every row is checked before any image is read (LabelError lists the bad ones).
    checked = check_labels(labels_csv, images_dir, frame)
    recorded = {}
    if frame is not None:  # a metadata format: age, sex and site by image
        ids = frame["image_id"].astype(str)
        recorded = dict(zip(ids, contexts_from_frame(frame), strict=True))
    contexts = recorded if with_context else None
    table = checked.table
    predictor = Predictor(skin_model, tta=tta)
    paths, path_labels = labelled_paths(table, images_dir)
    found = {path.stem for path in paths}
    # Named, not only counted: a test set that silently lost images is another test set.
    not_found = [str(i) for i in table["image_id"] if str(i) not in found]
    unreadable: list[str] = []

    def load(path: Path) -> np.ndarray | None:
        try:
            return load_image(path, min_side=predictor.decode_side)
        except ImageRejected:
            unreadable.append(path.stem)
            return None

    ids, labels, probabilities, in_domain, used = [], [], [], [], []
    for start in range(0, len(paths), batch_size):  # decode one batch at a time
        loaded = [(i, load(paths[i])) for i in range(start, min(start + batch_size, len(paths)))]
        kept = [(i, pixels) for i, pixels in loaded if pixels is not None]
        given = None if contexts is None else [contexts.get(paths[i].stem) for i, _ in kept]
        predictions = predictor.predict_batch([pixels for _, pixels in kept], contexts=given)
        for (i, _), prediction in zip(kept, predictions, strict=True):
            ids.append(paths[i].stem)
            labels.append(int(path_labels[i]))
            probabilities.append([prediction.probabilities[c] for c in CODES])
            in_domain.append(prediction.in_domain)
            used.append(prediction.context_used)
    if not ids:
        raise ValueError(f"None of the images listed in {labels_csv} were found in {images_dir}.")
    labels_array, probs = np.asarray(labels), np.asarray(probabilities)
    lesions = lesion_ids(frame, ids)
    report = metrics_from_probabilities(labels_array, probs, skin_model.card.thresholds, lesions)
    report["balanced_accuracy_interval"] = interval_record(labels_array, probs.argmax(1), lesions)
    absent = [code for c, code in enumerate(CODES) if not (labels_array == c).any()]
    if absent:  # the official scorer fails on a class without any image
        report["official"] = {}
        report["official_skipped"] = f"no image of {', '.join(absent)}; it needs every class"
    else:
        report["official"] = official_isic2018_scores(ids, labels_array, probs)
    report.update(
        dataset=name + (", with age, sex and site" if with_context else ""),
        tta=predictor.tta,
        missing=len(not_found) + len(unreadable),
        not_found=not_found,
        unreadable=unreadable,
        left_out=checked.left_out,
        in_domain_share=round(float(np.mean(in_domain)), 4),
    )
    card = skin_model.card
    see_doctor = card.thresholds.get("see_doctor") if card.thresholds else None
    if with_context and see_doctor is not None:
        # each image is triaged by the cut-off fitted for what it was given (as in the app)
        see_doctor = card.see_doctor_cuts(used)
        report["triage"] = triage_figures(labels_array, probs, see_doctor, lesions)
        report["triage"]["threshold"] = round(card.triage_thresholds(True)["see_doctor"], 4)
        report["triage"]["threshold_without_context"] = round(card.thresholds["see_doctor"], 4)
    if with_context:
        report["context_given_share"] = round(float(np.mean(used)), 4)
    if recorded and see_doctor is not None:
        groups = [recorded.get(image_id) for image_id in ids]
        report["subgroups"] = subgroup_metrics(
            labels_array, probs, groups, see_doctor, in_domain, image_sources(frame, ids), lesions
        )
    if predictions_csv:  # whole or not at all: a Ctrl-C leaves the previous file
        with atomic_path(predictions_csv) as partial:
            submission_frame(ids, probs).to_csv(partial, index=False)
    return report


def lesion_ids(frame: pd.DataFrame | None, image_ids: list[str]) -> np.ndarray | None:
    """Each image's lesion id (the image's own id where none is recorded), or None without
    metadata: what a bootstrap resamples whole."""
    if frame is None or "lesion_id" not in frame or frame["lesion_id"].isna().all():
        return None  # no lesion recorded: the interval resamples images, and says so
    recorded = frame.assign(image_id=frame["image_id"].astype(str)).drop_duplicates("image_id")
    recorded = recorded.set_index("image_id")
    found = recorded["lesion_id"].reindex(image_ids)
    return np.where(found.notna(), found.astype(str), [f"image:{i}" for i in image_ids])


def interval_record(labels, predicted, groups: np.ndarray | None) -> dict[str, Any]:
    """The card's record of a balanced-accuracy bootstrap interval (:mod:`metrics`)."""
    low, high = balanced_accuracy_interval(labels, predicted, groups)
    return _interval(low, high, "images" if groups is None else "lesions")


def _interval(low: float, high: float, resampled: str) -> dict[str, Any]:
    return {
        "level": INTERVAL_LEVEL,
        "low": round(low, 4),
        "high": round(high, 4),
        "resampled": resampled,
        "resamples": RESAMPLES,
    }


def _metadata_frame(labels_csv: str | Path) -> pd.DataFrame | None:
    """The normalised metadata of a labels CSV, or ``None`` for the ISIC 2018 one-hot ground
    truth (which records no age, sex or site). Raises ``MetadataError`` saying what is wrong
    with any other file (empty, duplicate image ids, columns of no known format)."""
    from skindx.datasets.csv_text import read_header, source_name
    from skindx.datasets.metadata import MetadataError, detect_format, read_metadata

    header = read_header(labels_csv)
    try:
        detect_format(header)
    except MetadataError as error:
        name, one_hot = source_name(labels_csv), ", ".join(ISIC2018_HEADER)
        if not {column.lower() for column in ISIC2018_HEADER} <= set(header):
            raise MetadataError(
                f"{name}: {error}. A one-hot ground truth needs the columns image, {one_hot}"
            ) from None
        if "image" not in header:
            raise MetadataError(
                f"{name}: a one-hot ground truth needs an 'image' column beside {one_hot}; "
                f"columns found: {', '.join(header)}"
            ) from None
        return None
    return read_metadata(labels_csv)


def _check_context(skin_model, frame: pd.DataFrame | None) -> None:
    if not skin_model.card.context:
        raise ValueError(
            "This model has no age/sex/site context; fit it first with `skindx context`."
        )
    if frame is None:
        raise ValueError(
            "--with-context needs a metadata CSV with age, sex and site columns (such as "
            "the HAM10000 or ISIC 2018 test ground truth with metadata)."
        )


def saliency_on_lesions(
    explainer, image_paths: list[Path], mask_paths: list[Path], method: str = "gradcam"
) -> dict[str, Any]:
    """Share of saliency energy inside the lesion masks, against a uniform map's share
    (which equals the mask's area share). A map that follows the lesion scores above it."""
    from PIL import Image

    from skindx.explain.faithfulness import lesion_energy_share
    from skindx.images.loading import load_image

    shares, areas = [], []
    for image_path, mask_path in zip(image_paths, mask_paths, strict=True):
        pixels = load_image(image_path)
        with Image.open(mask_path) as mask_image:
            mask = np.asarray(mask_image.convert("L").resize(pixels.shape[1::-1])) > 127
        heatmap = explainer.explain(pixels, method).heatmap
        shares.append(lesion_energy_share(heatmap, mask))
        areas.append(float(mask.mean()))
    return {
        "method": method,
        "n": len(shares),
        "energy_in_lesion": round(float(np.mean(shares)), 4),
        "uniform_baseline": round(float(np.mean(areas)), 4),
    }
