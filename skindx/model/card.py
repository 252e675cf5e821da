"""ModelCard: what a model is, how it was trained and what was measured, as JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skindx.files import write_atomic
from skindx.taxonomy import CODES

CARD_FILE = "card.json"


@dataclass
class ModelCard:
    """Everything the app says about a model comes from here (see docs/model_card.md).

    ``metrics`` holds evaluation results keyed by split (``"validation"``, ``"test"``), each
    as written by :func:`skindx.evaluation.evaluate.metrics_from_probabilities`. ``ood`` holds the
    out-of-domain detector's settings, ``thresholds`` the triage cut-offs on the malignant
    probability, ``context`` the optional age/sex/site fusion (:mod:`skindx.diagnosis.context`) with
    its own triage cut-offs, ``photo_quality`` the brightness and sharpness limits of the
    training images and what crossing them costs (:mod:`skindx.images.quality`).
    """

    name: str = "skindx-vgg"
    version: str = "0.0.0"
    architecture: dict[str, Any] = field(default_factory=dict)
    input_size: int = 192
    preprocessing: dict[str, Any] = field(
        default_factory=lambda: {
            "resize": "squash",
            "color_constancy": False,
            "hair_removal": False,
        }
    )
    classes: list[str] = field(default_factory=lambda: list(CODES))
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    temperature: float = 1.0
    ood: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    saliency: dict[str, Any] = field(default_factory=dict)
    photo_quality: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str = ""
    created: str = ""
    intended_use: str = (
        "Education and research: showing how a convolutional network reads dermoscopic "
        "images of pigmented skin lesions. Not a medical device; not for diagnosis."
    )
    limitations: list[str] = field(
        default_factory=lambda: [
            "Trained on dermoscopic images (HAM10000); ordinary phone photos are out of domain.",
            "ISIC data comes mostly from fair-skinned patients in Europe and Australia; "
            "accuracy on darker skin tones is unknown and probably lower.",
            "Rare classes (dermatofibroma, vascular lesions, actinic keratosis) have few "
            "training images; their figures are the least certain.",
            "Only the seven HAM10000 diagnoses exist for the model: any other lesion "
            "(e.g. invasive squamous cell carcinoma) is forced into one of them.",
        ]
    )

    @property
    def display_name(self) -> str:
        """Name and version, as reports and the app show them."""
        return f"{self.name} v{self.version}"

    def triage_thresholds(self, context_used: bool = False) -> dict[str, float]:
        """The triage cut-offs for probabilities made with or without the context (each set
        was fitted on the validation probabilities it is applied to)."""
        return self.context["thresholds"] if context_used else self.thresholds

    def see_doctor_cuts(self, context_used: Sequence[bool]) -> np.ndarray:
        """Each image's 'see a doctor' cut-off: the one fitted for what it was given, as the
        app triages it."""
        used = np.asarray(context_used, dtype=bool)
        cuts = np.full(used.shape, self.thresholds["see_doctor"], dtype=float)
        if used.any():
            cuts[used] = self.triage_thresholds(True)["see_doctor"]
        return cuts

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """A card from its JSON object; ``ValueError`` naming the first field of the wrong
        type (a card holding ``[]`` or ``null`` would otherwise fail later, far from here)."""
        if not isinstance(data, dict):
            raise ValueError(f"it holds a JSON {_json_type(data)}, not an object")
        known = {f.name: f for f in dataclasses.fields(cls)}
        for name, value in data.items():
            if name in known and not _fits(name, value):
                raise ValueError(f"its field {name!r} holds a JSON {_json_type(value)}")
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, directory: str | Path) -> Path:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"
        return write_atomic(Path(directory) / CARD_FILE, text)

    @classmethod
    def load(cls, directory: str | Path) -> ModelCard:
        path = Path(directory) / CARD_FILE
        return cls.from_dict(json.loads(path.read_text()))


_DICT_FIELDS = frozenset(
    {"architecture", "preprocessing", "training", "metrics", "ood", "thresholds", "context"}
    | {"saliency", "photo_quality"}
)
_TEXT_FIELDS = frozenset({"name", "version", "weights_sha256", "created", "intended_use"})


def _fits(name: str, value: Any) -> bool:
    """Whether a card field's JSON value has the type the app and predictor rely on."""
    if name in _DICT_FIELDS:
        return isinstance(value, dict)
    if name in _TEXT_FIELDS:
        return isinstance(value, str)
    if name in ("classes", "limitations"):
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if name == "input_size":
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    if name == "temperature":
        return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return True


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number" if isinstance(value, int | float) else "value")
