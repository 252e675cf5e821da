"""The image quiz: rounds of real images whose diagnosis the reader names, and their scores."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from skindx.datasets.examples import ExampleImage


def image_quiz_round(
    examples: Mapping[str, Sequence[ExampleImage]], size: int = 10, seed: int | None = None
) -> list[ExampleImage]:
    """``size`` distinct examples for an image quiz (fewer if the folder holds fewer).

    The diagnoses take turns, so rare ones come up as often as nevi (unlike in a clinic, where
    most spots are moles); the order is shuffled, and ``seed`` makes a round repeatable.
    """
    rng = random.Random(seed)
    pools = {code: rng.sample(list(found), len(found)) for code, found in examples.items()}
    picked: list[ExampleImage] = []
    while len(picked) < size and any(pools.values()):
        for code in rng.sample(sorted(pools), len(pools)):
            if pools[code] and len(picked) < size:
                picked.append(pools[code].pop())
    rng.shuffle(picked)
    return picked


def round_scores(
    shown: Sequence[ExampleImage], answers: Sequence[tuple[str, tuple[str, float] | None]]
) -> tuple[int, int]:
    """How many of a round's images the person and the model named right; ``answers`` holds
    ``(guess, model)`` per image, ``model`` the model's ``(code, probability)`` or ``None``."""
    pairs = list(zip(shown, answers, strict=True))
    yours = sum(guess == example.code for example, (guess, _) in pairs)
    models = sum(model is not None and model[0] == example.code for example, (_, model) in pairs)
    return yours, models


def round_note(shown: Sequence[ExampleImage]) -> str:
    """What a round's scores can and cannot say: whether the model trained on its images, the
    even mix of diagnoses, and the small number of images."""
    fair = (
        "The model did not train on these images (they are in its validation split). "
        if all(example.held_out for example in shown)
        else "The model may have trained on some of these images. "
    )
    return (
        f"{fair}Each diagnosis comes up about equally often here; in a clinic most spots are "
        f"moles, so neither score is what you or the model would reach there. Over "
        f"{len(shown)} images, one answer more or less moves a score a long way."
    )
