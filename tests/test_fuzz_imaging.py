"""Bounded, deterministic fuzzing of ``load_image``: only ``ImageRejected`` may come out.

The long run is ``python benchmarks/fuzz_imaging.py --seconds 300``; both use the mutators in
``tests/fuzz_mutators.py``.
"""

from __future__ import annotations

import random

import fuzz_mutators as fm
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skindx.images import loading as imaging
from skindx.images.loading import load_image

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

steps = st.lists(
    st.tuples(st.integers(0, len(fm.MUTATORS) - 1), st.integers(0, 2**32 - 1)),
    min_size=1,
    max_size=4,
)


JPEG_SEEDS = [i for i, data in enumerate(fm.seed_images()) if data.startswith(b"\xff\xd8")]


def assert_no_bug(data: bytes, min_side: int | None = None) -> None:
    error = fm.unexpected_error(data, min_side=min_side)
    assert error is None, fm.describe(error)


def test_every_seed_decodes() -> None:
    for data in fm.seed_images():
        pixels = load_image(data)
        assert pixels.shape[2] == 3 and pixels.dtype == np.uint8


@pytest.mark.parametrize(("name", "mutator"), fm.MUTATORS, ids=[n for n, _ in fm.MUTATORS])
def test_mutators_are_deterministic(name: str, mutator: fm.Mutator) -> None:
    for data in fm.seed_images():
        first = mutator(data, random.Random(7))
        assert isinstance(first, bytes)
        assert first == mutator(data, random.Random(7))


def test_the_oracle_reports_errors_hidden_by_the_catch_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object) -> None:
        raise ZeroDivisionError("bug in our own conversion code")

    monkeypatch.setattr(imaging, "pil_to_rgb", broken)
    assert isinstance(fm.unexpected_error(fm.seed_images()[0]), ZeroDivisionError)


@settings(FUZZ, max_examples=3000)
@given(seed_index=st.integers(0, len(fm.seed_images()) - 1), steps=steps)
def test_mutated_images_only_raise_image_rejected(
    seed_index: int, steps: list[tuple[int, int]]
) -> None:
    assert_no_bug(fm.apply_mutations(fm.seed_images()[seed_index], steps))


@settings(FUZZ, max_examples=400)
@given(data=st.binary(max_size=600))
def test_random_bytes_only_raise_image_rejected(data: bytes) -> None:
    assert_no_bug(data)


@settings(FUZZ, max_examples=400)
@given(seed_index=st.integers(0, len(fm.seed_images()) - 1), cut=st.integers(0, 10_000))
def test_every_truncation_is_rejected_or_decoded(seed_index: int, cut: int) -> None:
    seed = fm.seed_images()[seed_index]
    assert_no_bug(seed[: cut % (len(seed) + 1)])


@settings(FUZZ, max_examples=600)
@given(seed_index=st.sampled_from(JPEG_SEEDS), steps=steps, cut=st.integers(0, 10_000))
def test_draft_decoded_jpegs_only_raise_image_rejected(
    seed_index: int, steps: list[tuple[int, int]], cut: int
) -> None:
    """The predictor's path: JPEGs decoded at reduced scale (32-px seeds, so 1/2 and beyond)."""
    data = fm.apply_mutations(fm.seed_images()[seed_index], steps)
    assert_no_bug(data, min_side=16)
    assert_no_bug(data[: cut % (len(data) + 1)], min_side=16)
