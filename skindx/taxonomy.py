"""The seven HAM10000 diagnoses and the names other ISIC datasets use for them, and the
vocabularies of the rest of the ISIC metadata (sex, age, body site)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnosis:
    """One diagnostic class of the model."""

    code: str
    name: str
    malignant: bool
    description: str


DIAGNOSES: tuple[Diagnosis, ...] = (
    Diagnosis(
        "akiec",
        "Actinic keratosis / intraepithelial carcinoma",
        True,
        "Sun-damage lesions that can turn into squamous cell carcinoma, and Bowen's disease.",
    ),
    Diagnosis("bcc", "Basal cell carcinoma", True, "The most common skin cancer; grows slowly."),
    Diagnosis(
        "bkl",
        "Benign keratosis-like lesion",
        False,
        "Seborrhoeic keratoses, solar lentigines and lichen-planus-like keratoses.",
    ),
    Diagnosis("df", "Dermatofibroma", False, "A firm, harmless bump, often on the legs."),
    Diagnosis("mel", "Melanoma", True, "The most dangerous skin cancer; curable when found early."),
    Diagnosis("nv", "Melanocytic nevus", False, "A common mole."),
    Diagnosis(
        "vasc",
        "Vascular lesion",
        False,
        "Cherry angiomas, angiokeratomas, pyogenic granulomas and haemorrhage.",
    ),
)

CODES: tuple[str, ...] = tuple(d.code for d in DIAGNOSES)
BY_CODE: dict[str, Diagnosis] = {d.code: d for d in DIAGNOSES}
MALIGNANT_CODES: tuple[str, ...] = tuple(d.code for d in DIAGNOSES if d.malignant)

# ISIC 2019 ground-truth columns. SCC has no HAM10000 class of its own: in HAM10000,
# intraepithelial carcinoma (Bowen's disease) sits in akiec, so invasive SCC is kept
# apart under its own name rather than folded into a class it was never trained as.
ISIC2019_COLUMNS: dict[str, str] = {
    "MEL": "mel",
    "NV": "nv",
    "BCC": "bcc",
    "AK": "akiec",
    "BKL": "bkl",
    "DF": "df",
    "VASC": "vasc",
    "SCC": "scc",
    "UNK": "unknown",
}

# ISIC 2020 `diagnosis` strings.
ISIC2020_DIAGNOSES: dict[str, str] = {
    "melanoma": "mel",
    "nevus": "nv",
    "seborrheic keratosis": "bkl",
    "lentigo nos": "bkl",
    "solar lentigo": "bkl",
    "lichenoid keratosis": "bkl",
    "cafe-au-lait macule": "cafe-au-lait macule",
    "atypical melanocytic proliferation": "atypical melanocytic proliferation",
    "unknown": "unknown",
}


def normalize_diagnosis(label: object) -> str:
    """Map any ISIC diagnosis label (HAM10000 code, 2019 column, 2020 string) to a code.

    Labels outside the seven classes keep their own lower-case name (e.g. ``"scc"``);
    missing values become ``"unknown"``.
    """
    if label is None or (isinstance(label, float) and label != label):
        return "unknown"
    text = str(label).strip()
    if not text:
        return "unknown"
    if text.lower() in BY_CODE:
        return text.lower()
    if text.upper() in ISIC2019_COLUMNS:
        return ISIC2019_COLUMNS[text.upper()]
    return ISIC2020_DIAGNOSES.get(text.lower(), text.lower())


def is_malignant(code: str) -> bool | None:
    """True/False for the seven classes and SCC; None when it cannot be said."""
    if code in BY_CODE:
        return BY_CODE[code].malignant
    if code == "scc":
        return True
    return None


# Column names of the ISIC 2018 Task 3 ground truth and submission format.
ISIC2018_COLUMNS = {
    "mel": "MEL",
    "nv": "NV",
    "bcc": "BCC",
    "akiec": "AKIEC",
    "bkl": "BKL",
    "df": "DF",
    "vasc": "VASC",
}

# "melanoma, basal cell carcinoma, …": how pages and reports name the cancer classes.
MALIGNANT_NAMES = ", ".join(BY_CODE[code].name.lower() for code in MALIGNANT_CODES)

# The ISIC 2018 probability columns in CODES order (after the ``image`` column).
ISIC2018_HEADER: tuple[str, ...] = tuple(ISIC2018_COLUMNS[code] for code in CODES)


# ----------------------------------------------------------------------------- who and where
# The vocabularies of the ISIC metadata other than the diagnosis: sex, age and body site.

MAX_AGE = 120
SEXES: tuple[str, ...] = ("female", "male")
# The ISIC general body sites (metadata.SITES adds "other" and "unknown").
SITES: tuple[str, ...] = (
    "head/neck",
    "upper extremity",
    "lower extremity",
    "torso",
    "palms/soles",
    "oral/genital",
)

# HAM10000 `localization` and ISIC `anatom_site_general(_challenge)` → one vocabulary. The HAM
# fine sites follow the ISIC Archive's own mapping of HAM images (checked against the ISIC 2019
# metadata: foot → lower extremity, hand → upper extremity, acral → palms/soles); the Archive
# leaves `trunk` and `genital` blank, which here become torso and oral/genital.
SITE_SYNONYMS: dict[str, str] = {
    "head/neck": "head/neck",
    "face": "head/neck",
    "scalp": "head/neck",
    "neck": "head/neck",
    "ear": "head/neck",
    "upper extremity": "upper extremity",
    "hand": "upper extremity",
    "lower extremity": "lower extremity",
    "foot": "lower extremity",
    "torso": "torso",
    "anterior torso": "torso",
    "posterior torso": "torso",
    "lateral torso": "torso",
    "trunk": "torso",
    "back": "torso",
    "chest": "torso",
    "abdomen": "torso",
    "palms/soles": "palms/soles",
    "acral": "palms/soles",
    "oral/genital": "oral/genital",
    "genital": "oral/genital",
    "unknown": "unknown",
}

SEX_SYNONYMS: dict[str, str] = {"male": "male", "m": "male", "female": "female", "f": "female"}

# How the app names the sites to the public.
SITE_LABELS: dict[str, str] = {
    "head/neck": "Head, face or neck",
    "upper extremity": "Arm or hand",
    "lower extremity": "Leg or foot",
    "torso": "Chest, belly or back",
    "palms/soles": "Palm of the hand or sole of the foot",
    "oral/genital": "Mouth, lips or genitals",
}
