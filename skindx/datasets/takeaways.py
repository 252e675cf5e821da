"""The statistics takeaways: the sentence under each chart, computed from the chart's table."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from skindx.datasets.filters import Filters
from skindx.datasets.names import UPLOAD_DATASET, dataset_order
from skindx.datasets.summary import AGE_BIN_WIDTH, GROUP_LABELS
from skindx.datasets.tables import MIN_IMAGES_FOR_SHARE, group_column, too_few_for_shares
from skindx.taxonomy import BY_CODE

NO_MATCH = "No images match the filters."


def _pct(value: float) -> str:
    """A share as text, never rounded to 0 or to 100: "<0.1%" for 1 image in 3,000 (and
    ">99.9%" for the other 2,999), "0%" only for none."""
    if value == 0:
        return "0%"
    if value < 0.05:
        return "<0.1%"
    return ">99.9%" if 99.95 <= value < 100 else f"{value:.1f}%"


# How a sentence names a dataset: an upload's display name ("Your data") is a label, not a
# noun phrase ("the Your data images").
def _dataset(name: str) -> str:
    """ "HAM10000", or "your data" for an upload: "In your data, …", "… 50.0% in your data"."""
    return "your data" if name == UPLOAD_DATASET else name


def _images_of(name: str) -> str:
    """ "HAM10000 images", or "your images" for an upload: "… 2.0% of your images"."""
    return "your images" if name == UPLOAD_DATASET else f"{name} images"


def _the_images(name: str) -> str:
    """ "the HAM10000 images", or "your images" for an upload."""
    return "your images" if name == UPLOAD_DATASET else f"the {name} images"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _name(code: str) -> str:
    return f"{BY_CODE[code].name.lower()} ({code})" if code in BY_CODE else code


def _selected(filters: Filters | None, dimension: str) -> tuple[str, ...]:
    """The values a filter keeps of ``dimension`` (``"sexes"``, ``"sites"``, ``"diagnoses"``);
    ``()`` where that dimension is not filtered."""
    return tuple(getattr(filters, dimension) or ()) if filters is not None else ()


def _only_one(filters: Filters | None, dimension: str) -> str | None:
    """The value a filter narrows ``dimension`` to, where it keeps exactly one."""
    values = _selected(filters, dimension)
    return values[0] if len(values) == 1 else None


def _focus_share(table: pd.DataFrame, value: str, column: str = "diagnosis") -> pd.Series:
    """Each dataset's percent for one ``value`` of ``column`` (0 where absent)."""
    shares = table[table[column] == value].set_index("dataset")["percent"]
    return shares.reindex(dataset_order(table["dataset"]), fill_value=0.0)


def diagnosis_takeaway(table: pd.DataFrame, filters: Filters | None = None) -> str:
    """How lopsided the first dataset is, and how the melanoma share differs between datasets."""
    if table.empty:
        return NO_MATCH
    only = _only_one(filters, "diagnoses")
    if only is not None:
        return f"Only {_name(only)} images are selected, so there is no comparison of diagnoses."
    name, part = _first_dataset(table)
    if part.empty:
        return "None of the images shown has a known diagnosis."
    part = part.set_index("diagnosis")
    largest, smallest = part["images"].idxmax(), part["images"].idxmin()
    if largest == smallest:
        return f"All {_the_images(name)} of known diagnosis shown are {_name(largest)}."
    ratio = part.loc[largest, "images"] / part.loc[smallest, "images"]
    among = " of the selected diagnoses" if _selected(filters, "diagnoses") else ""
    text = (
        f"In {_dataset(name)}, {_name(largest)} is {_pct(part.loc[largest, 'percent'])} of the "
        f"images{among}, {ratio:,.0f}× as many as {_name(smallest)} "
        f"({_pct(part.loc[smallest, 'percent'])})."
    )
    text += _unknown_note(table)
    # Only datasets with known diagnoses: one of unknown diagnoses has no melanoma share.
    shares = _focus_share(table, "mel")[_with_known(table, "diagnosis")]
    if len(shares) > 1 and shares.max() > 0:
        high, low = shares.idxmax(), shares.idxmin()
        text += (
            f" Melanoma is {_pct(shares[high])} of {_images_of(high)}{among} but "
            f"{_pct(shares[low])} of {_dataset(low)}."
        )
    return text


def _with_known(table: pd.DataFrame, column: str) -> list[str]:
    """The datasets (in order) with at least one image whose ``column`` is known."""
    known = table.loc[table[column] != "unknown", "dataset"]
    return [name for name in dataset_order(table["dataset"]) if name in set(known)]


def _unknown_note(table: pd.DataFrame) -> str:
    unknown = _focus_share(table, "unknown")
    if unknown.max() < 1:
        return ""
    name = unknown.idxmax()
    return f" {_pct(unknown[name])} of {_images_of(name)} have no specific diagnosis (unknown)."


def malignancy_takeaway(table: pd.DataFrame, filters: Filters | None = None) -> str:
    """The malignant share, highest and lowest dataset; ``""`` where no image shown has a known
    malignancy (a share of 0% malignant would say they are all benign)."""
    if table.empty:
        return NO_MATCH
    only = _only_one(filters, "diagnoses")
    kinds = table["malignancy"].unique()
    if only is not None and len(kinds) == 1:
        state = "of unknown malignancy" if kinds[0] == "unknown" else kinds[0]
        return f"Only {_name(only)} images are selected, and all of them are {state}."
    shares = _focus_share(table, "malignant", "malignancy")[_with_known(table, "malignancy")]
    if shares.empty:
        return ""
    among = " of the selected diagnoses" if _selected(filters, "diagnoses") else ""
    high, low = shares.idxmax(), shares.idxmin()
    if shares[high] == shares[low]:
        where = _the_images(high) if len(shares) == 1 else "each dataset's images"
        return f"{_pct(shares[high])} of {where}{among} shown are malignant."
    return (
        f"Malignant lesions are {_pct(shares[high])} of {_images_of(high)}{among} but only "
        f"{_pct(shares[low])} of {_dataset(low)}: a model's sensitivity and the positive "
        "predictive value it can reach depend on which set it is measured on."
    )


def _median_bins(table: pd.DataFrame) -> pd.Series:
    """Median age bin per diagnosis, from the histogram."""
    medians = {}
    for code, part in table.groupby("diagnosis", sort=False):
        counts = part.groupby("age")["images"].sum().sort_index()
        cumulative = counts.cumsum() / counts.sum()
        medians[code] = int(cumulative[cumulative >= 0.5].index[0])
    return pd.Series(medians, dtype=int)


def _first_dataset(table: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The first dataset shown (the training set by default) and its rows, known diagnoses only."""
    known = table[table["diagnosis"] != "unknown"]
    if known.empty:
        return "", known
    name = dataset_order(known["dataset"])[0]
    return name, known[known["dataset"] == name]


def _large_enough(part: pd.DataFrame, min_images: int) -> pd.DataFrame:
    sizes = part.groupby("diagnosis")["images"].sum()
    return part[part["diagnosis"].isin(sizes[sizes >= min_images].index)]


def age_takeaway(table: pd.DataFrame, filters: Filters | None = None, min_images: int = 20) -> str:
    """Which diagnoses are seen in the oldest and the youngest patients (median age bin)."""
    if table.empty:
        return "No images of known age match the filters."
    age_range = filters.age_range if filters is not None else None
    bins = sorted(table["age"].unique())
    if len(bins) == 1:
        if age_range is not None:
            return f"Only ages {_age_label(bins[0])} are selected, so there is no age comparison."
        return f"All the images of known age shown are of ages {_age_label(bins[0])}."
    name, part = _first_dataset(table)
    part = _large_enough(part, min_images)
    if part.empty:
        return "Too few images of known age and diagnosis for a comparison."
    medians = _median_bins(part)
    old, young = medians.idxmax(), medians.idxmin()
    among = "" if age_range is None else f", among ages {_range_label(*age_range)}"
    text = (
        f"In {_dataset(name)}{among}, the median age is {_age_label(medians[old])} for {_name(old)}"
    )
    if old == young:
        return text + "."
    return text + f" and {_age_label(medians[young])} for {_name(young)}."


def _age_label(start: int) -> str:
    return f"{start}–{start + AGE_BIN_WIDTH - 1}"


def filters_line(filters: Filters) -> str:
    """The filters that narrow the page, in a line ("Filtered to ages 40–64 · female ·
    melanoma (mel)"), or "" where none does: in their closed box they were out of sight, on
    a projector or on coming back to the page."""
    parts = []
    if filters.age_range is not None:
        parts.append(f"ages {_range_label(*filters.age_range)}")
    parts += [", ".join(_selected(filters, dimension)) for dimension in ("sexes", "sites")]
    parts.append(", ".join(_name(code) for code in _selected(filters, "diagnoses")))
    shown = [part for part in parts if part]
    return f"Filtered to {' · '.join(shown)}" if shown else ""


def _range_label(low: float, high: float) -> str:
    """An age filter's range in years: bins (40, 60) are ages 40–64."""
    last = int(high // AGE_BIN_WIDTH) * AGE_BIN_WIDTH + AGE_BIN_WIDTH - 1
    return f"{int(low // AGE_BIN_WIDTH) * AGE_BIN_WIDTH}–{last}"


def _per_diagnosis(part: pd.DataFrame, column: str, exclude: Sequence[str]) -> pd.DataFrame:
    known = part[~part[column].isin(exclude)]
    wide = known.pivot_table(index="diagnosis", columns=column, values="images", aggfunc="sum")
    return wide.fillna(0)


_SEX_NOUNS = {"female": "women", "male": "men", "unknown": "unknown sex"}


def sex_takeaway(table: pd.DataFrame, filters: Filters | None = None, min_images: int = 20) -> str:
    """The diagnoses with the highest and lowest share of men, in the first dataset shown."""
    if table.empty:
        return NO_MATCH
    selected = _selected(filters, "sexes")
    known = [sex for sex in ("female", "male") if sex in set(table["sex"])]
    if len(known) < 2:
        return _one_sex(selected, known)
    name, part = _first_dataset(table)
    per_code = _per_diagnosis(part, "sex", ["unknown"])
    per_code = per_code[per_code.sum(axis=1) >= min_images]
    if per_code.empty or "male" not in per_code:
        return "Too few images of known sex and diagnosis for a comparison."
    male = 100 * per_code["male"] / per_code.sum(axis=1)
    high, low = male.idxmax(), male.idxmin()
    overall = 100 * per_code["male"].sum() / per_code.to_numpy().sum()
    text = f"In {_dataset(name)}, {_pct(overall)} of the images of known sex are of men"
    if high == low:
        return text + "."
    return text + f": {_pct(male[high])} for {_name(high)}, {_pct(male[low])} for {_name(low)}."


def _one_sex(selected: tuple[str, ...], known: list[str]) -> str:
    """The takeaway where the images shown are of one known sex or none."""
    if selected and len(selected) == 1:
        return (
            f"Only images of {_SEX_NOUNS.get(selected[0], selected[0])} are selected, so there "
            "is no comparison of the sexes."
        )
    if not known:
        return "The sex of the images shown is not recorded."
    return f"All the images of known sex shown are of {_SEX_NOUNS[known[0]]}."


def site_takeaway(table: pd.DataFrame, filters: Filters | None = None, min_images: int = 20) -> str:
    """The commonest site overall, and the diagnosis most concentrated at one site."""
    if table.empty:
        return NO_MATCH
    selected = _selected(filters, "sites")
    known = table[~table["site"].isin(["unknown", "other"])]
    if known.empty:
        if len(selected) == 1:
            return (
                f"Only images of {selected[0]} site are selected, so there is no site comparison."
            )
        return "The body site of the images shown is not recorded."
    sites = known.groupby("site")["images"].sum()
    top = sites.idxmax()
    if len(sites) == 1:
        if selected == (top,):
            return f"Only {top} images are selected, so there is no site comparison."
        return (
            f"All the images of known site shown are on the {top}, so there is no site comparison."
        )
    among = "Among the selected sites, the" if selected else "The"
    text = f"{among} {top} is the commonest known site ({_pct(100 * sites[top] / sites.sum())})."
    name, part = _first_dataset(known)
    per_code = _per_diagnosis(part, "site", [])
    per_code = per_code[per_code.sum(axis=1) >= min_images]
    if per_code.empty:
        return text
    shares = per_code.div(per_code.sum(axis=1), axis=0)
    code = shares.max(axis=1).idxmax()
    site = shares.loc[code].idxmax()
    of = "at the selected sites" if selected else "of known site"
    return text + (
        f" In {_dataset(name)}, {_pct(100 * shares.loc[code, site])} of {_name(code)} images {of} "
        f"are on the {site}."
    )


def confirmation_takeaway(table: pd.DataFrame, filters: Filters | None = None) -> str:
    """How much of each dataset is histopathology-confirmed, and which record no method."""
    if table.empty:
        return NO_MATCH
    per_dataset = table.pivot_table(
        index="dataset", columns="confirmation", values="images", aggfunc="sum"
    ).fillna(0)
    order = dataset_order(per_dataset.index)
    known = per_dataset.drop(columns=["unknown"], errors="ignore").sum(axis=1)
    unrecorded = [name for name in order if known[name] == 0]
    recorded = [name for name in order if known[name] > 0]
    parts = []
    if recorded:
        histo = per_dataset.get("histopathology", pd.Series(0, index=per_dataset.index))
        name = recorded[0]
        chosen = _selected(filters, "diagnoses")
        of = f"{_name(chosen[0])} images" if len(chosen) == 1 else "images"
        of += " of the selected diagnoses" if len(chosen) > 1 else ""
        if known[name] < MIN_IMAGES_FOR_SHARE:
            n = int(known[name])
            parts.append(
                f"In {_dataset(name)}, {n} of the {of} {'has' if n == 1 else 'have'} a recorded "
                "method: too few for a share."
            )
        else:
            text = f"In {_dataset(name)}, {_pct(100 * histo[name] / known[name])} of the {of}"
            parts.append(text + " with a recorded method were confirmed by histopathology.")
            if len(chosen) != 1:  # else the sentence before already says it
                parts.append(_malignant_histology(table, name))
    if unrecorded:
        verb = "records" if len(unrecorded) == 1 else "record"
        parts.append(
            _sentence(f"{_join([_dataset(n) for n in unrecorded])} {verb} no confirmation method.")
        )
    return " ".join(p for p in parts if p)


def _malignant_histology(table: pd.DataFrame, name: str) -> str:
    part = table[(table["dataset"] == name) & table["diagnosis"].isin(["mel", "bcc"])]
    if part["images"].sum() < MIN_IMAGES_FOR_SHARE:  # "100%" of 2 images says nothing
        return ""
    histo = part.loc[part["confirmation"] == "histopathology", "images"].sum()
    return f"For melanoma and BCC it is {_pct(100 * histo / part['images'].sum())}."


def too_few_note(table: pd.DataFrame) -> str:
    """Which diagnoses a per-diagnosis chart (age, sex, site, confirmation) leaves out as too
    few for a share, with their counts; ``""`` where it leaves out none."""
    small = too_few_for_shares(table)
    if small.empty:
        return ""
    places = []
    for name in dataset_order(small["dataset"]):
        rows = small[small["dataset"] == name]
        sizes = zip(rows["diagnosis"], rows["images"], strict=True)
        groups = [f"{_name(code)} n = {n:,}" for code, n in sizes]
        places.append(f"in {_dataset(name)}, {_join(groups)}")
    return (
        f"Not charted, fewer than {MIN_IMAGES_FOR_SHARE} images each (too few for a share; "
        f"the table has their counts): {'; '.join(places)}."
    )


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def group_size_takeaway(table: pd.DataFrame, level: str = "lesion") -> str:
    """How many images share their lesion (patient) with others: the reason to split by id."""
    if table.empty:
        return f"None of the images shown has a {level} id."
    column = group_column(level)
    order = dataset_order(table["dataset"])
    shared = table[table[column] != "1"].groupby("dataset")["percent"].sum()
    shared = shared.reindex(order, fill_value=0.0)
    many = table[table[column].isin(GROUP_LABELS[6:])].groupby("dataset")["percent"].sum()
    listed = _join([f"{_pct(shared[name])} in {_dataset(name)}" for name in order])
    text = f"Images that share their {level} with at least one other image: {listed}."
    if not many.empty and many.max() >= 1:
        name = many.idxmax()
        text += (
            f" In {_dataset(name)}, {_pct(many[name])} come from a {level} with more than 10 "
            "images."
        )
    return text + f" So split training and test data by {level}_id, never by image."


def imbalance_takeaway(table: pd.DataFrame, filters: Filters | None = None) -> str:
    """What always answering the commonest class scores, in accuracy and balanced accuracy."""
    if table.empty:
        return "No images of the seven classes match the filters."
    row = table.iloc[0]
    majority = _name(row["majority_class"])
    chosen = _selected(filters, "diagnoses")
    if row["n_classes"] == 1:
        shown = "selected" if chosen else f"among {_the_images(row['dataset'])} shown"
        return (
            f"Only one of the model's seven classes, {majority}, is {shown}, so there is no "
            "imbalance to show: balanced accuracy needs several classes."
        )
    n_others = row["n_classes"] - 1
    others = ("other selected class" if chosen else "other class") + ("es" if n_others > 1 else "")
    return (
        f"A model that always answers {majority} is right on "
        f"{_pct(100 * row['accuracy'])} of {_the_images(row['dataset'])} shown, yet finds not one "
        f"of the {n_others} {others}: its balanced accuracy (mean recall per "
        f"class) is {_pct(100 * row['balanced_accuracy'])}, 1/{row['n_classes']}. That is why "
        "the model is judged by balanced accuracy."
    )
