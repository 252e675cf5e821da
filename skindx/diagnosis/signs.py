"""Warning signs a person has noticed on a spot, scored with the weighted 7-point checklist.

UK family doctors score pigmented spots with this checklist (NICE guideline NG12, 1.7.1): 2 points
each for a change in size, an irregular shape and an irregular colour; 1 point each for a largest
diameter of 7 mm or more, inflammation, oozing and a change in sensation. At 3 points or more
they refer the person to a skin specialist within two weeks.

The checklist is made for flat pigmented spots, so two signs beyond it are asked too: a sore that
has not healed within four weeks (basal and squamous cell carcinomas, NHS), and a firm raised lump
that keeps growing (the "EFG" signs of nodular melanoma, which can look neat and even in colour:
Kelly et al., Aust Fam Physician 2003), which counts as urgent on its own.

A photo cannot show how a spot has changed or how it feels, so these answers add what the model
cannot see. They only ever raise the model's advice, never lower it: any sign means "see a
doctor", as the app's disclaimer and the lesson "When to see a doctor" already say, and 3 points
or more, or a growing lump, "see a doctor soon".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from skindx.diagnosis.predict import CONCERN_RANK, Prediction


@dataclass(frozen=True)
class Sign:
    key: str
    question: str  # what the person ticks on the Diagnose page
    points: int = 0  # on the weighted 7-point checklist; 0 for the signs beyond it
    urgent: bool = False  # "see a doctor soon" on its own, whatever the checklist score


CHECKLIST: tuple[Sign, ...] = (
    Sign("size", "It has grown or changed in size", 2),
    Sign("shape", "Its shape is irregular (uneven or notched edges)", 2),
    Sign("colour", "Its colour is irregular (several shades or colours)", 2),
    Sign("diameter", "It is 7 mm or more across at its widest (a pencil is about 7 mm)", 1),
    Sign("inflammation", "It is inflamed (red or swollen)", 1),
    Sign("oozing", "It oozes, crusts or bleeds", 1),
    Sign("sensation", "It has started to itch, hurt or feel different", 1),
)
BEYOND_CHECKLIST: tuple[Sign, ...] = (
    Sign("sore", "It is a sore, scab or scaly patch that has not healed within four weeks"),
    Sign(
        "lump", "It is a firm, raised lump that has kept growing for a month or more", urgent=True
    ),
)
SIGNS = CHECKLIST + BEYOND_CHECKLIST
BY_KEY = {sign.key: sign for sign in SIGNS}
SOON_POINTS = 3  # NICE NG12: refer within two weeks from this score


class SignsError(ValueError):
    """An unknown sign; the message lists the known ones."""


ALIASES = {
    "color": "colour",
    "growing": "size",
    "bleeding": "oozing",
    "crusting": "oozing",
    "itching": "sensation",
    "itch": "sensation",
    "pain": "sensation",
    "non-healing": "sore",
    "ulcer": "sore",
    "scab": "sore",
    "nodule": "lump",
}


def parse(keys: Iterable[str]) -> tuple[str, ...]:
    """Known sign keys (or :data:`ALIASES`; a string is split at commas), deduplicated, in
    the order of :data:`SIGNS`."""
    if isinstance(keys, str):
        keys = keys.split(",")
    words = (key.strip().lower() for key in keys)
    wanted = {ALIASES.get(word, word) for word in words if word}
    unknown = sorted(wanted - BY_KEY.keys())
    if unknown:
        raise SignsError(f"unknown sign {', '.join(unknown)}; choose from {', '.join(BY_KEY)}")
    return tuple(sign.key for sign in SIGNS if sign.key in wanted)


def score(keys: Iterable[str]) -> int:
    """The weighted 7-point checklist score of these signs (0 to 10; the signs beyond the
    checklist add nothing)."""
    return _points(parse(keys))


def advice(keys: Iterable[str]) -> tuple[str, str] | None:
    """``(concern, message)`` for these signs alone, or ``None`` when there are none."""
    return _advice(parse(keys))


def with_signs(prediction: Prediction, keys: Iterable[str]) -> Prediction:
    """The prediction with these signs recorded; their advice replaces the model's where it is
    more urgent (or where the model could not assess the photo)."""
    keys = parse(keys)
    found = _advice(keys)
    if found is None or CONCERN_RANK[found[0]] <= CONCERN_RANK[prediction.concern]:
        return dataclasses.replace(prediction, signs=keys)
    concern, message = found
    return dataclasses.replace(prediction, signs=keys, concern=concern, advice=message)


def noticed(keys: Iterable[str]) -> list[str]:
    """These signs as the person ticked them (their questions on the Diagnose page), for a
    report to list."""
    return [BY_KEY[key].question for key in parse(keys)]


def _points(keys: tuple[str, ...]) -> int:
    return sum(BY_KEY[key].points for key in keys)


def _advice(keys: tuple[str, ...]) -> tuple[str, str] | None:
    """:func:`advice` for keys :func:`parse` has checked."""
    if not keys:
        return None
    points = _points(keys)
    if any(BY_KEY[key].urgent for key in keys):
        return "see_doctor_soon", (
            "You noticed a firm, raised lump that keeps growing. Such lumps can be a nodular "
            "melanoma or a squamous cell carcinoma, which can look neat and even in colour, so "
            "photo checks and the pigmented-spot checklist miss them. Please see a doctor soon, "
            "whatever the model says."
        )
    if points >= SOON_POINTS:
        return "see_doctor_soon", (
            f"The signs you noticed score {points} on the weighted 7-point checklist that UK "
            f"family doctors use for pigmented spots; from {SOON_POINTS} points they refer a "
            "person to a skin specialist within two weeks. Please see a doctor soon, whatever "
            "the model says."
        )
    noticed = " and ".join(
        BY_KEY[key].question[0].lower() + BY_KEY[key].question[1:] for key in keys
    )
    return "see_doctor", (
        f"You noticed that {noticed}. A spot like that should be shown to a doctor in the next "
        "few weeks, whatever the model says."
    )
