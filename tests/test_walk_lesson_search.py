"""A teacher's and a student's walk through the lesson search: the glossary's other names
("SCC", "naevus", "seborrheic keratosis") find lessons, an empty search says where to go next,
and a lesson's link to another lesson opens in the same tab."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from test_browser import (  # the browser fixture, shared with the app's browser tests
    UI_TIMEOUT_MS,
    browser,  # noqa: F401
    open_page,
    settled,
    streamlit_server,
)

from skindx.teaching.glossary import GlossaryTerm, load_glossary
from skindx.teaching.search import glossary_other_names, search_lessons

PAGES = Path(__file__).resolve().parents[1] / "pages"


@pytest.fixture(scope="module")
def glossary() -> tuple[GlossaryTerm, ...]:
    return load_glossary()


def _slugs(lessons, query: str, glossary=(), audience: str | None = None) -> list[str]:
    return [lesson.slug for lesson in search_lessons(lessons, query, audience, glossary)]


# ----------------------------------------------------------------------------- search


@pytest.mark.parametrize(
    ("query", "slug"),
    [
        ("SCC", "actinic-keratosis"),  # found nothing: lessons say "squamous cell carcinoma"
        ("sun SCC", "sun-safety"),
        ("seborrheic keratosis", "benign-keratosis"),  # American spelling: found nothing
        ("intraepidermal carcinoma", "actinic-keratosis"),  # Bowen's disease: found nothing
        ("recall", "how-the-model-works"),  # sensitivity: found nothing
        ("heatmap", "saliency-maps"),  # found nothing
        ("polarized", "dermoscopy"),  # lessons spell it "polarised": found nothing
    ],
)
def test_glossary_names_find_lessons_that_use_another(lessons, glossary, query, slug) -> None:
    assert _slugs(lessons, query) == []
    assert _slugs(lessons, query, glossary)[0] == slug


def test_lessons_that_use_the_words_typed_come_first(lessons, glossary) -> None:
    """ "naevus" found only the lesson that spells it so; the glossary adds the lessons on
    moles ("nevus", "mole"), after it."""
    assert _slugs(lessons, "naevus") == ["melanocytic-nevus"]
    found = _slugs(lessons, "naevus", glossary)
    assert found[0] == "melanocytic-nevus"
    assert {"abcde-ugly-duckling", "skin-lesions"} <= set(found[1:])
    # "BCC": the lessons that say "BCC" first, then those that say only "basal cell carcinoma"
    says_bcc = _slugs(lessons, "BCC")
    assert _slugs(lessons, "BCC", glossary)[: len(says_bcc)] == says_bcc
    assert "skin-lesions" in _slugs(lessons, "BCC", glossary)[len(says_bcc) :]
    # "moles" also finds the lessons that say only "mole" (or "nevus")
    assert len(_slugs(lessons, "moles", glossary)) > len(_slugs(lessons, "moles"))


def test_the_glossary_only_adds_lessons_after_those_found_before(lessons, glossary) -> None:
    """Every query's results without the glossary are, in order, the start of its results
    with it: the glossary never reorders or drops a lesson the words themselves found."""
    queries = {name for term in glossary for name in term.names}
    queries |= {f"{name}s" for name in queries}
    words = ["sun", "skin", "cancer", "mole", "BCC", "UV", "risk", "melanoma", "dermoscopy"]
    queries |= {f"{a} {b}" for a, b in itertools.product(words, repeat=2)}
    queries |= {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc", "Grad-CAM", "zzzqqq", ""}
    for query in sorted(queries):
        for audience in (None, "clinician"):
            before = _slugs(lessons, query, (), audience)
            assert _slugs(lessons, query, glossary, audience)[: len(before)] == before, query


def test_no_glossary_name_no_change(lessons, glossary) -> None:
    for query in ("melanoma", "dermatofibroma dimple", "akiec", "melanona", "zzzqqq"):
        assert _slugs(lessons, query, glossary) == _slugs(lessons, query)
    assert _slugs(lessons, "melanona", glossary) == []  # no fuzzy matching, as before


def test_glossary_other_names_says_what_else_was_searched(glossary) -> None:
    assert glossary_other_names("SCC", glossary) == [("SCC", ["Squamous cell carcinoma"])]
    assert glossary_other_names("moles", glossary)[0][0] == "Mole"  # a plural
    assert glossary_other_names("sun SCC out of domain", glossary) == [
        ("SCC", ["Squamous cell carcinoma"]),
        ("out of domain", ["Domain shift", "out-of-domain"]),
    ]
    assert glossary_other_names("melanoma", glossary) == []  # no other name
    assert glossary_other_names("SCC", ()) == []


# ----------------------------------------------------------------------------- the page


def _page(**params: str) -> AppTest:
    st.cache_data.clear()
    at = AppTest.from_file(str(PAGES / "lessons.py"), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _open_keys(at: AppTest) -> list[str]:
    return [b.key for b in at.button if (b.key or "").startswith("lessons_open_")]


def test_page_finds_scc_and_says_why(lessons) -> None:
    at = _page()
    at.text_input(key="lessons_search").input("SCC").run()
    assert _open_keys(at)[0] == "lessons_open_actinic-keratosis"
    assert not at.info
    assert any("Squamous cell carcinoma" in c.value for c in at.caption)


def test_no_lesson_names_the_glossary_entry_and_shows_all(lessons) -> None:
    """ "ROC curve": the list was empty with "Try another word", though the glossary's AUC
    entry explains it."""
    at = _page()
    at.text_input(key="lessons_search").input("ROC curve").run()
    assert not _open_keys(at)
    assert "No lesson matches" in at.info[0].value
    assert any(m.value.startswith("**AUC**") for m in at.markdown)
    at.button(key="lessons_search_term").click().run()  # "Lessons on AUC"
    assert not at.exception, at.exception
    assert at.text_input(key="lessons_search").value == "AUC"
    assert _open_keys(at) and not at.info
    at.text_input(key="lessons_search").input("ROC curve").run()
    at.button(key="lessons_search_clear").click().run()
    assert not at.exception, at.exception
    assert at.text_input(key="lessons_search").value == ""
    assert len(_open_keys(at)) == len(lessons)


def test_no_lesson_for_this_audience_offers_the_others(lessons) -> None:
    at = _page()
    at.text_input(key="lessons_search").input("Grad-CAM").run()
    at.segmented_control(key="lessons_audience").set_value("public").run()
    assert not _open_keys(at)
    assert "but 1 lesson for other readers does" in at.info[0].value
    at.button(key="lessons_search_everyone").click().run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="lessons_audience").value == "everyone"
    assert at.text_input(key="lessons_search").value == "Grad-CAM"
    assert _open_keys(at) == ["lessons_open_saliency-maps"]


def test_a_misspelling_says_so(lessons) -> None:
    at = _page()
    at.text_input(key="lessons_search").input("melanona").run()
    assert not _open_keys(at)
    assert "Check the spelling" in at.info[0].value
    assert at.button(key="lessons_search_clear")


# ----------------------------------------------------------------------------- links


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_a_link_to_another_lesson_opens_in_the_same_tab(
    browser,  # noqa: F811 (the fixture imported above)
    tiny_model_dir,
    tmp_path,
) -> None:
    """The melanoma lesson's link to the sun-safety lesson opened a second copy of the app in
    a new tab (Streamlit opens every markdown link in one)."""
    errors: list[str] = []
    with streamlit_server(tiny_model_dir, tmp_path / "streamlit.log") as url:
        page = open_page(browser, f"{url}/lessons?lesson=melanoma", errors)
        settled(page)
        page.evaluate("window.stillThisPage = true")  # gone if the link loads the page anew
        link = page.get_by_role("link", name="the lesson on sun safety")
        link.click()
        page.wait_for_url("**/lessons?lesson=sun-safety", timeout=UI_TIMEOUT_MS)
        page.get_by_role("heading", name="Sun safety", exact=False).first.wait_for(
            timeout=UI_TIMEOUT_MS
        )
        assert len(page.context.pages) == 1
        settled(page)  # and from the keyboard
        page.get_by_role("link", name="when to see a doctor").focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/lessons?lesson=when-to-see-a-doctor", timeout=UI_TIMEOUT_MS)
        assert len(page.context.pages) == 1
        assert page.evaluate("window.stillThisPage === true")  # the session, and what it holds
        assert not errors, errors


def test_short_words_match_words_not_parts_of_words(lessons, glossary) -> None:
    """ "AK" matched "make" and "weak", so every lesson came back; "SK" matched every "skin".
    A word of two letters now matches only itself, one of three only at a word's start."""
    everything = len(lessons)
    assert _slugs(lessons, "AK", glossary)[0] == "actinic-keratosis"
    assert len(_slugs(lessons, "AK", glossary)) < everything
    sk = _slugs(lessons, "SK", glossary)
    assert sk[0] == "benign-keratosis" and len(sk) < everything
    assert _slugs(lessons, "seb K", glossary) == sk  # the glossary's names for one term
    assert _slugs(lessons, "mel")[0] == "melanoma"  # three letters: a word's start
    assert "how-the-model-works" in _slugs(lessons, "AI", glossary)  # the glossary's term


def test_the_glossary_search_reads_short_words_as_words(glossary) -> None:
    """The glossary tab's search listed every term whose definition says "make" for "AK"."""
    from skindx.teaching.glossary import search_glossary

    assert [term.term for term in search_glossary(glossary, "AK")] == ["Actinic keratosis"]
    assert [term.term for term in search_glossary(glossary, "SK")] == ["Seborrhoeic keratosis"]
    assert search_glossary(glossary, "mel")[0].term.startswith("Mel")  # a word's start
