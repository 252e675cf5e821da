"""skindx.diagnosis.signs: the weighted 7-point checklist only makes advice more cautious."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from skindx.diagnosis import signs
from skindx.diagnosis.predict import CONCERN_MESSAGES, Prediction
from skindx.diagnosis.signs import SignsError, advice, noticed, parse, score, with_signs


def prediction(concern: str = "low", in_domain: bool = True) -> Prediction:
    probabilities = dict.fromkeys(("akiec", "bcc", "bkl", "df", "mel", "vasc"), 0.02)
    probabilities["nv"] = 0.88
    return Prediction(
        probabilities=MappingProxyType(probabilities),
        malignant_probability=0.06,
        concern=concern,
        in_domain=in_domain,
        domain_score=1.0,
    )


def test_the_checklist_has_nices_weights() -> None:
    points = {sign.key: sign.points for sign in signs.CHECKLIST}
    assert points == {
        "size": 2,
        "shape": 2,
        "colour": 2,
        "diameter": 1,
        "inflammation": 1,
        "oozing": 1,
        "sensation": 1,
    }
    assert signs.SOON_POINTS == 3
    assert not any(sign.urgent for sign in signs.CHECKLIST)  # only the score makes them urgent


def test_signs_beyond_the_checklist_score_nothing() -> None:
    assert [sign.key for sign in signs.BEYOND_CHECKLIST] == ["sore", "lump"]
    assert score(["sore", "lump"]) == 0
    assert score(["sore", "size", "lump", "sensation"]) == 3


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ((), 0),
        (("sensation",), 1),
        (("size",), 2),
        (("size", "diameter"), 3),
        (("diameter", "inflammation", "oozing", "sensation"), 4),
        (tuple(sign.key for sign in signs.CHECKLIST), 10),
    ],
)
def test_score(keys: tuple[str, ...], expected: int) -> None:
    assert score(keys) == expected


def test_parse_accepts_aliases_and_commas_and_keeps_checklist_order() -> None:
    assert parse(["Itching", " color ", "size", "size", ""]) == ("size", "colour", "sensation")
    assert parse("bleeding,shape") == ("shape", "oozing")
    assert parse("nodule,ulcer,size") == ("size", "sore", "lump")
    assert parse([]) == ()


def test_unknown_sign_names_the_known_ones() -> None:
    with pytest.raises(SignsError, match="unknown sign freckles; choose from size, shape"):
        parse(["size", "freckles"])


def test_advice_by_score() -> None:
    assert advice(()) is None
    concern, message = advice(["oozing"])
    assert concern == "see_doctor"
    assert message.startswith("You noticed that it oozes, crusts or bleeds.")
    concern, _ = advice(["size"])  # a major sign alone: 2 points, under NICE's 3
    assert concern == "see_doctor"
    concern, message = advice(["size", "sensation"])
    assert concern == "see_doctor_soon"
    assert "score 3 on the weighted 7-point checklist" in message


def test_a_sore_that_has_not_healed_calls_for_a_doctor() -> None:
    concern, message = advice(["sore"])
    assert concern == "see_doctor"
    assert "has not healed within four weeks" in message


@pytest.mark.parametrize("others", [(), ("sore",), ("size", "shape")])
def test_a_growing_lump_is_urgent_whatever_the_score(others: tuple[str, ...]) -> None:
    concern, message = advice(["lump", *others])
    assert concern == "see_doctor_soon"
    assert "nodular melanoma" in message


@pytest.mark.parametrize(
    ("model_concern", "keys", "expected"),
    [
        ("low", (), "low"),
        ("low", ("oozing",), "see_doctor"),
        ("low", ("size", "shape"), "see_doctor_soon"),
        ("see_doctor", ("oozing",), "see_doctor"),  # as urgent already: the model's words stay
        ("see_doctor", ("colour", "diameter"), "see_doctor_soon"),
        ("see_doctor_soon", ("oozing",), "see_doctor_soon"),  # never lowered
        ("not_assessed", ("sensation",), "see_doctor"),
        ("low", ("sore",), "see_doctor"),
        ("see_doctor", ("lump",), "see_doctor_soon"),
        ("not_assessed", ("lump",), "see_doctor_soon"),
    ],
)
def test_signs_only_raise_the_advice(model_concern: str, keys: tuple, expected: str) -> None:
    model = prediction(model_concern, in_domain=model_concern != "not_assessed")
    result = with_signs(model, keys)
    assert result.concern == expected
    assert result.signs == keys
    assert result.probabilities == model.probabilities  # the model's figures are untouched
    if expected == model_concern:
        assert result.advice is None
        assert result.concern_message == CONCERN_MESSAGES[model_concern]
    else:
        assert result.concern_message == advice(keys)[1]
    assert result.to_dict()["signs"] == list(keys)
    assert result.to_dict()["concern_message"] == result.concern_message


def test_noticed_gives_the_ticked_signs_in_the_pages_words() -> None:
    assert noticed(["lump", "itch"]) == [
        "It has started to itch, hurt or feel different",
        "It is a firm, raised lump that has kept growing for a month or more",
    ]
    assert noticed([]) == []
