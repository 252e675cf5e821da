"""What the Saliency explorer says about an image and its maps: what a map shows, the
faithfulness figure in words, captions, the colour scale, the layer picker's help, the known
diagnosis of an example and the similar lesions. Words only; the maps come from
``skindx.explain`` and the page lays them out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skindx.datasets.examples import ExampleImage
from skindx.diagnosis.similar import Neighbour, vote
from skindx.explain.cams import SCORECAM_MAX_N, SMOOTHGRAD_SAMPLES
from skindx.explain.explainer import METHODS
from skindx.explain.faithfulness import Faithfulness
from skindx.reports.numbers import percent, probability
from skindx.reports.results import diagnosis_label

if TYPE_CHECKING:
    from skindx.diagnosis.predict import Prediction

WHAT_IT_SHOWS = (
    "A saliency map shows which parts of this image most raised the model's score for the "
    "chosen class, as seen from the chosen layer; it is a view of the model's evidence, not "
    "of the lesion's biology. It does not show why those pixels matter, whether the model is "
    "right, or where the lesion's border is, and a bright patch on a ruler, a hair or the "
    "dark corner of a dermoscope is a warning sign, not an explanation."
)
SIMILAR_HELP = (
    "Content-based image retrieval (Tschandl et al., Br J Dermatol 2019): the labelled images "
    "whose features, as the network's last layer before its answer sees them, lie nearest to "
    "this one. Dermatologists can check a diagnosis against similar cases they can see."
)
FAITHFULNESS_HELP = (
    "How the class probability changes when the 20% most salient pixels are blurred away, "
    "against blurring the same share of random pixels. A map that points at what the model "
    "really uses leaves the probability lower than random blurring does (shown in green); "
    "orange means the map did no better than chance for this image."
)
# Which method is which, for a reader who knows none of them (the box lists their names only);
# one line each, so the help reads as a list.
METHOD_HELP = "\n".join(
    (
        "- **Grad-CAM**: the layer's feature maps, each weighted by the average gradient of the "
        "class score; coarse but stable.",
        "- **Grad-CAM++**: weighs each location's gradient too, which can light up several "
        "parts at once.",
        "- **LayerCAM**: weighs every location by its own gradient; sharper, at shallow layers "
        "especially.",
        f"- **Score-CAM (faster variant)**: masks the image with the layer's {SCORECAM_MAX_N} "
        "most varied feature maps and weighs each by the class probability the masked image "
        "keeps; no gradients, the slowest of the layer methods.",
        f"- **SmoothGrad**: the gradient at each input pixel, averaged over {SMOOTHGRAD_SAMPLES} "
        "noisy copies; fine detail, no layer, several seconds.",
    )
)


# Each colour map's ends as a reader names them (OpenCV's maps, as skindx.explain.overlay draws).
COLOUR_ENDS: Mapping[str, tuple[str, str]] = {
    "viridis": ("dark purple", "yellow"),
    "inferno": ("black", "pale yellow"),
    "magma": ("black", "pale yellow"),
    "turbo": ("dark blue", "dark red"),
    "jet": ("dark blue", "dark red"),
}
LEGEND_ENDS = ("weaker", "stronger")
LEGEND_MIDDLE = "influence on the score"
LAYERLESS = "SmoothGrad reads the input pixels: no layer to choose."
LAYER_HELP = (
    "Deeper blocks see larger, more abstract patterns; block 1 sees edges. SmoothGrad works on "
    "the input pixels and needs no layer."
)
NETWORK_HELP = (
    "In an ensemble each member has its own layers. All members (the default) explains them at "
    "once from their last blocks, except a member read by a probe over several blocks (a "
    "frozen VGG16), whose share of the decision only its own layers explain."
)


# after why a photo gets no diagnosis on the Diagnose page (out of domain, or refused)
UNTRUSTED_MAPS = "The maps below explain scores the model would not stand behind."


def top_class_sentence(name: str, prediction: Prediction) -> str:
    """``name``: the image's name, already made inert for Markdown. The probability is written
    as the class box and the Diagnose page write it ("65%", "<1%")."""
    return (
        f"**{name}**: the model's top class is "
        f"**{prediction.label_name}** ({probability(prediction.probabilities[prediction.label])})."
    )


def legend_alt(colormap: str) -> str:
    low, high = COLOUR_ENDS[colormap]
    return (
        f"Colour scale of the {colormap} map: {low} marks areas with a weaker, {high} areas "
        "with a stronger influence on the model's score for the explained class"
    )


def known_diagnosis_sentence(example: ExampleImage, label: str) -> str:
    agrees = "matches it" if example.code == label else "is different"
    return f"Known diagnosis: **{diagnosis_label(example.code)}**; the model's top class {agrees}."


def known_diagnosis_caption(example: ExampleImage) -> str:
    return f"From the example folder's metadata: {example.caption}. {_fairness(example)}"


def _fairness(example: ExampleImage) -> str:
    if example.held_out:
        return "The model did not train on this lesion (it is in its validation split)."
    return (
        "The folder's metadata does not show whether the model trained on this image; if it "
        "did, a match says little about how it does on new lesions."
    )


def map_caption(method: str, target: str, where: str) -> str:
    """The map's caption; ``where``: its layer as :meth:`Explainer.layer_label` names it."""
    return f"{METHODS[method]} · why “{diagnosis_label(target)}” · {where}"


def map_alt(method: str, target: str) -> str:
    return f"{METHODS[method]} saliency overlay for {diagnosis_label(target)}"


def overlay_file_name(method: str, target: str, layer: str | None = None) -> str:
    """The downloaded overlay's name: its method, class and layer, so maps of one image from
    different layers do not download under one name (``layer`` None: SmoothGrad's pixels)."""
    where = f"-{layer}" if layer else ""
    return f"saliency-{method.replace('+', 'plus')}-{target}{where}.png"


@dataclass(frozen=True)
class FaithfulnessWords:
    """The faithfulness figure as a metric: its label, value, comparison, colour and caption."""

    label: str
    value: str
    beyond: str
    colour: str
    caption: str


def faithfulness_words(faithfulness: Faithfulness, target: str) -> FaithfulnessWords:
    # Shown as changes in probability (a fall is negative), so the sign reads as it sounds.
    change, random_change = -faithfulness.salient_drop, -faithfulness.random_drop
    share = f"{faithfulness.fraction:.0%}"
    beyond, colour = _against_random(change, random_change, share)
    return FaithfulnessWords(
        label=f"Faithfulness: blur the top {share} salient pixels",
        value=f"{_signed_points(change)} points",
        beyond=beyond,
        colour=colour,
        caption=(
            f"Probability of {diagnosis_label(target)} {_change(change)} when the {share} most "
            f"salient pixels are blurred, and {_change(random_change)} when {share} random "
            "pixels are."
        ),
    )


def _against_random(change: float, random_change: float, share: str) -> tuple[str, str]:
    """The salient blur's effect beside the random blur's, in words, and its colour."""
    points = abs(100 * (change - random_change))
    if points < 0.05:
        return f"the same as blurring {share} random pixels", "gray"
    if change < random_change:
        return f"{points:.1f} points lower than blurring {share} random pixels", "green"
    return f"{points:.1f} points higher than blurring {share} random pixels", "orange"


def _signed_points(change: float) -> str:
    return f"{100 * change:+.1f}".replace("-", "−")


def _change(change: float) -> str:
    points = abs(100 * change)
    if points < 0.05:
        return "hardly changes"
    return f"{'falls' if change < 0 else 'rises'} by {points:.1f} points"


def target_label(probabilities: Mapping[str, float]) -> Callable[[str], str]:
    # The probability first, so a narrow box cuts the name, never the number; written as the
    # Diagnose page writes it ("<1%", never "0%").
    def label(code: str) -> str:
        return f"{probability(probabilities[code])} · {diagnosis_label(code)}"

    return label


def neighbours_sentence(neighbours: Sequence[Neighbour]) -> str:
    """The known diagnoses of the most similar lesions, most common first."""
    counts = ", ".join(
        f"{n} × {diagnosis_label(code)}" for code, n in vote([x.example for x in neighbours])
    )
    return f"Known diagnoses of the {len(neighbours)} most similar lesions: {counts}."


def neighbour_caption(neighbour: Neighbour) -> str:
    return f"{neighbour.example.caption} · similarity {neighbour.similarity:.2f}"


def neighbour_alt(example: ExampleImage) -> str:
    return f"Similar lesion {example.path.stem}: {diagnosis_label(example.code)}"


def gallery_caption(figures: Mapping[str, Any]) -> str:
    """How often the gallery's similar lesions share a lesion's diagnosis, measured on itself."""
    return (
        "Similar as this model sees them, not necessarily as a dermatologist would. "
        f"On the {figures['n']} lesions of this server's gallery, the most common diagnosis "
        f"among each one's {figures['k']} most similar others was its own for "
        f"{percent(figures['accuracy'], 0)} of them (balanced accuracy "
        f"{percent(figures['balanced_accuracy'], 0)})."
    )
