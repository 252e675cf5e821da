"""Photo quality: is a photo about as bright and as sharp as the images the model learned from?

A dim or washed-out photo can cost the network much of its accuracy while its out-of-domain check
still passes it (``skindx photo-quality`` measures both on validation images into the card). So
the app and the CLI compare each photo with the training images and say when it lies outside
them.

Both figures are taken at one working scale, the long side shrunk to :data:`WORK_SIDE` pixels
(about what the network sees), so a large phone photo and a small dermoscopic image compare
fairly and blur too fine for the network to notice does not count:

- *brightness*: the mean grey level (0–255);
- *sharpness*: the variance of the Laplacian of the grey image (Pech-Pacheco et al., ICPR 2000).

The limits are the 1st and 99th percentiles of the training images (the card's
``photo_quality``); a photo past one gets a warning. The warnings never change the result.

A photo with no colour at all (a phone's black-and-white filter, a scan of a printout), or one
too small to show the spot (a thumbnail), is another matter: :func:`refusal` says why it gets
no diagnosis (:func:`skindx.diagnosis.predict.with_photo_warnings`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from skindx.images.preprocess import shrink
from skindx.images.rejection import MIN_PHOTO_SIDE

WORK_SIDE = 200
LOW_PERCENTILE, HIGH_PERCENTILE = 1.0, 99.0

# The changes `skindx photo-quality` applies to validation images to show what a photo past a
# limit costs: a brightness factor, or a Gaussian blur sigma in working-scale pixels.
DARKER, BRIGHTER, BLUR_SIGMA = 0.7, 1.4, 2.0
PERTURBATIONS = ("darker", "brighter", "blurred")


@dataclass(frozen=True)
class PhotoQuality:
    brightness: float
    sharpness: float


def working_scale(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` (H×W×3 uint8) with the long side shrunk to :data:`WORK_SIDE` (never enlarged)."""
    return shrink(pixels, WORK_SIDE)


def measure(pixels: np.ndarray) -> PhotoQuality:
    """Brightness and sharpness of an H×W×3 uint8 RGB image at the working scale."""
    grey = cv2.cvtColor(working_scale(pixels), cv2.COLOR_RGB2GRAY)
    sharpness = cv2.Laplacian(grey, cv2.CV_64F).var()
    return PhotoQuality(brightness=float(grey.mean()), sharpness=float(sharpness))


# Mean spread between a pixel's strongest and weakest colour channel (0-255) below which a
# photo counts as black and white. The least colourful of the 10,015 HAM10000 images measures
# 5.3 and their 0.1st percentile 11; a grey photo measures 0 even as a colour JPEG. On
# black-and-white copies of the 1,497 validation images the shipped model's balanced accuracy
# fell from 0.70 to 0.33, its out-of-domain check still passed half of them, and 52% of the
# malignant ones it passed got its mildest advice (3% in colour): hence no diagnosis, not a
# warning. Measured by docs/training_logs/photo_refusal_check.py (its .log).
MIN_COLOUR_SPREAD = 3.0
NO_COLOUR = (
    "This photo is black and white, so the model gives no diagnosis for it: it tells skin "
    "spots apart largely by their colours, and without them its answers are often wrong, "
    "cancers passed as harmless included. Take the photo again in colour, with no filter."
)


# MIN_PHOTO_SIDE (kept in rejection.py, whose refusal names it too): below this shorter side a
# photo gets no diagnosis. On the validation images shrunk to a
# shorter side of 160, 64, 48, 32 and 24 px (0.70 as they are), the shipped model's balanced
# accuracy was 0.69, 0.67, 0.64, 0.59 and 0.54, and the share of the malignant images given its
# mildest advice 3%, 4%, 7%, 15% and 26%; the out-of-domain check passed nearly all of them.
# 48 px already costs 0.06 (95% interval 0.02-0.10, lesions resampled) and doubles the mild
# answers; 64 px costs 0.03 (-0.00 to 0.06), so the limit is 64. Measured by
# docs/training_logs/photo_refusal_check.py (its .log).
TOO_SMALL = (
    f"This photo is too small (under {MIN_PHOTO_SIDE} pixels across) for the model to make out "
    "the spot, so it gives no diagnosis for it. Send the photo as the camera took it, not a "
    "thumbnail or a cropped screenshot."
)


def refusal(pixels: np.ndarray) -> str | None:
    """Why an H×W×3 uint8 photo should get no diagnosis at all (:data:`TOO_SMALL`,
    :data:`NO_COLOUR`), or ``None``: photos the out-of-domain check often passes, on which the
    model's answers are often wrong and too often mild."""
    if min(pixels.shape[:2]) < MIN_PHOTO_SIDE:
        return TOO_SMALL
    return None if in_colour(pixels) else NO_COLOUR


def colour_spread(pixels: np.ndarray) -> float:
    """The mean difference between each pixel's largest and smallest RGB value, at the working
    scale: 0 for a grey photo, tens for a skin lesion."""
    small = working_scale(pixels)
    return float((small.max(axis=2) - small.min(axis=2)).mean())


def in_colour(pixels: np.ndarray) -> bool:
    """Whether an H×W×3 uint8 photo has colour enough for the model to read
    (:data:`MIN_COLOUR_SPREAD`)."""
    return colour_spread(pixels) >= MIN_COLOUR_SPREAD


def reference(measured: Sequence[PhotoQuality]) -> dict[str, Any]:
    """The limits a photo is held to: percentiles of the training images' measures."""
    brightness = np.array([q.brightness for q in measured])
    sharpness = np.array([q.sharpness for q in measured])
    return {
        "work_side": WORK_SIDE,
        "n_reference": len(measured),
        "brightness": {
            "low": float(np.percentile(brightness, LOW_PERCENTILE)),
            "high": float(np.percentile(brightness, HIGH_PERCENTILE)),
        },
        "sharpness": {"low": float(np.percentile(sharpness, LOW_PERCENTILE))},
    }


def perturb(pixels: np.ndarray, kind: str) -> np.ndarray:
    """``pixels`` at the working scale, made darker, brighter or blurred (see
    :data:`PERTURBATIONS`)."""
    small = working_scale(pixels)
    if kind == "blurred":
        return cv2.GaussianBlur(small, (0, 0), BLUR_SIGMA)
    return scale_brightness(small, {"darker": DARKER, "brighter": BRIGHTER}[kind])


def scale_brightness(pixels: np.ndarray, factor: float) -> np.ndarray:
    """uint8 ``pixels`` times ``factor``, clipped to 0-255 (highlights past 255 are lost)."""
    return np.clip(pixels.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def photo_warnings(quality: PhotoQuality, limits: dict[str, Any]) -> tuple[str, ...]:
    """Sentences for a person about where this photo lies outside the training images (none
    when the card has no ``photo_quality`` limits)."""
    if not limits:
        return ()
    found = []
    if quality.brightness < limits["brightness"]["low"]:
        found.append(("darker", DARK_ADVICE))
    elif quality.brightness > limits["brightness"]["high"]:
        found.append(("brighter", "Retake it out of direct sun or flash, in even light."))
    if quality.sharpness < limits["sharpness"]["low"]:
        found.append(("blurred", "Retake it in focus: tap the spot on the screen, hold still."))
    return tuple(_sentence(kind, advice, limits) for kind, advice in found)


EFFECT_LABELS = {
    "clean": "as they are",
    "darker": f"made {1 - DARKER:.0%} darker",
    "brighter": f"made {BRIGHTER - 1:.0%} brighter",
    "blurred": "slightly blurred",
}
BLUR_NOTE = f"Slightly blurred: a Gaussian blur of sigma {BLUR_SIGMA:g} px at {WORK_SIDE} px."
# A dark photo may be dim light, or skin darker than ISIC's mostly fair-skinned images: the
# advice covers both rather than telling someone with dark skin to find more light.
DARK_ADVICE = (
    "If the light was dim, retake it in daylight or bright, even light. If the light was good, "
    "the skin itself is darker than nearly all the training images (ISIC's images come mostly "
    "from fair-skinned people), and the model is less reliable for that reason too."
)
_THAN = {"darker": "darker than", "brighter": "brighter than", "blurred": "less sharp than"}


def _sentence(kind: str, advice: str, limits: dict[str, Any]) -> str:
    share = HIGH_PERCENTILE if kind == "brighter" else 100 - LOW_PERCENTILE
    text = (
        f"This photo is {_THAN[kind]} {share:g}% of the images the model learned from, so its "
        "answer is less reliable."
    )
    measured = limits.get("validation", {})
    if kind in measured and "clean" in measured:
        before = measured["clean"]["balanced_accuracy"]
        after = measured[kind]["balanced_accuracy"]
        text += _measured_cost(EFFECT_LABELS[kind], before, after)
    return f"{text} {advice}"


def _measured_cost(change: str, before: float, after: float) -> str:
    """What the change cost on validation images, in words rather than as "balanced accuracy":
    the share read correctly, averaged over the diagnoses (which is what that metric is)."""
    was, now = round(100 * before), round(100 * after)
    if now < was:
        how = f"less often: {now} in 100 instead of {was} in 100"
    elif now > was:
        how = f"no less often: {now} in 100 against {was} in 100"
    else:
        how = f"as often: {now} in 100"
    return (
        f" Test photos that were {change} were read correctly {how} (averaged over the diagnoses)."
    )


def variants(images: Sequence[np.ndarray]) -> Iterator[tuple[str, list[np.ndarray]]]:
    """``("clean", images at the working scale)``, then each of :data:`PERTURBATIONS` with the
    images so perturbed; one kind at a time, so only one set is held."""
    for kind in ("clean", *PERTURBATIONS):
        yield kind, [working_scale(i) if kind == "clean" else perturb(i, kind) for i in images]


def limits_summary(limits: dict[str, Any]) -> str:
    """One paragraph on the limits a photo is held to (for the model card)."""
    brightness, sharpness = limits["brightness"], limits["sharpness"]
    return (
        f"A photo gets a warning when, with its long side shrunk to {limits['work_side']} px, "
        f"its mean grey level is below {brightness['low']:.0f} or above "
        f"{brightness['high']:.0f} (0–255), or its sharpness (variance of the Laplacian) is "
        f"below {sharpness['low']:.1f}: the {_ordinal(LOW_PERCENTILE)} and "
        f"{_ordinal(HIGH_PERCENTILE)} percentiles of the {limits['n_reference']:,} training "
        "images. The warning does not change the result."
    )


def _ordinal(percentile: float) -> str:
    number = f"{percentile:g}"
    suffix = {"1": "st", "2": "nd", "3": "rd"}.get(number[-1], "th")
    return number + ("th" if number.endswith(("11", "12", "13")) else suffix)


def effects_caption(limits: dict[str, Any]) -> str:
    """The line above :func:`effect_rows`' table."""
    n = limits["validation"]["n"]
    return (
        f"What a darker, brighter or blurred photo costs, on the {n:,} validation images. "
        f"{BLUR_NOTE} The out-of-domain check was fitted on these same images, so it flags "
        "fewer of them than of photos it has not seen."
    )


def effect_rows(limits: dict[str, Any]) -> list[dict[str, Any]]:
    """Validation balanced accuracy and out-of-domain share per change, for a table."""
    measured = limits.get("validation", {})
    return [
        {
            "validation images": EFFECT_LABELS[kind],
            "balanced accuracy": measured[kind]["balanced_accuracy"],
            "flagged out of domain": measured[kind]["out_of_domain"],
        }
        for kind in EFFECT_LABELS
        if kind in measured
    ]
