"""The image quiz: rounds of real images whose diagnosis the reader names."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from skindx.teaching.examples import ExampleImage


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
