"""Lessons: read, quiz and present the teaching material. Layout only; logic: skindx.teaching."""

from __future__ import annotations

import functools
import html
import re

import streamlit as st

from skindx.teaching import handout
from skindx.teaching.figures import load_stats_summary
from skindx.teaching.glossary import GlossaryTerm, glossary_terms_in, load_glossary
from skindx.teaching.lesson import AUDIENCES, Lesson, LessonError, meta_line
from skindx.teaching.lessons import lesson_from_query, load_lessons, slide_from_query
from skindx.teaching.render import LESSON_LINK_PREFIX, render_lesson_body
from skindx.teaching.search import search_lessons
from skindx.teaching.slides import lesson_slides
from streamlit_app import resources, ui
from streamlit_app.lesson_widgets import (
    SLIDE_CSS,
    glossary_list,
    image_quiz,
    lesson_links_stay,
    lesson_quiz,
    lesson_sources,
    no_lesson_found,
    other_names_note,
    presentation_scripts,
    render_body,
    slide_controls,
)

ALL_AUDIENCES = "everyone"
RETURN_TAB = "lessons_return_tab"  # the list's tab to show on "← All lessons"
# The list's search and audience, kept while a lesson is open: Streamlit forgets widgets it
# does not draw, and "← All lessons" came back to an empty search and every lesson.
LIST_CHOICES = "lessons_list_choices"
SEARCH, AUDIENCE = "lessons_search", "lessons_audience"  # the list's widgets
QUIZ_TAB = "Image quiz"
SLIDE_SHOWN = "lessons_slide_shown"  # (lesson, slide) last scrolled to
IMAGE_QUIZ_PER_CLASS = 30
MODES = ("Read", "Present")
DISCLAIMER = (
    "Educational material, not medical advice. skindx is not a medical device: "
    "if a spot worries you, see a doctor."
)


@st.cache_resource(show_spinner=False)
def _content() -> tuple[tuple[Lesson, ...], tuple[GlossaryTerm, ...]]:
    try:
        glossary = load_glossary()
    except LessonError:
        glossary = ()
    return load_lessons(strict=False), glossary


@st.cache_data(show_spinner=False, ttl=600)
def _data() -> tuple[dict | None, dict | None]:
    return load_stats_summary(), resources.card_json()  # None for a broken card


# ----------------------------------------------------------------------------- navigation


def _open(slug: str) -> None:
    st.session_state.pop(RETURN_TAB, None)
    st.query_params.pop("dx", None)
    st.query_params["lesson"] = slug


def _open_diagnosis(code: str, return_tab: str | None = None) -> None:
    """Open the lesson on a diagnosis; back in the list, ``return_tab`` is the tab shown."""
    if return_tab is None:
        st.session_state.pop(RETURN_TAB, None)
    else:
        st.session_state[RETURN_TAB] = return_tab
    st.query_params.pop("lesson", None)
    st.query_params["dx"] = code


def _show_all(query: str = "") -> None:
    """Back to every lesson (``query``: keep the search, for every audience)."""
    st.session_state[SEARCH] = query
    st.session_state[AUDIENCE] = ALL_AUDIENCES


def _close() -> None:
    for key in ("lesson", "dx", "mode", "slide"):
        st.query_params.pop(key, None)


def _sync_mode(slug: str) -> None:
    if st.session_state.get(f"lessons_mode_{slug}") == "Present":
        st.query_params["mode"] = "present"
    else:
        st.query_params.pop("mode", None)
        st.query_params.pop("slide", None)


# ----------------------------------------------------------------------------- list view


def _list_view(lessons: tuple[Lesson, ...], glossary: tuple[GlossaryTerm, ...]) -> None:
    st.title("Lessons")
    st.caption(DISCLAIMER)
    card = _data()[1] or {}
    examples = ui.examples(IMAGE_QUIZ_PER_CLASS, card.get("training"))
    names = ["Lessons", "Glossary", *([QUIZ_TAB] if examples else [])]
    back_to = st.session_state.get(RETURN_TAB)
    tabs = st.tabs(names, default=back_to if back_to in names else None)
    lessons_tab, glossary_tab = tabs[:2]
    with lessons_tab:
        # Kept choices seed the widgets' state (no default besides), which "Show all lessons"
        # can then set without Streamlit warning of a value given twice.
        st.session_state.setdefault(SEARCH, ui.kept(LIST_CHOICES, SEARCH, ""))
        st.session_state.setdefault(AUDIENCE, ui.kept(LIST_CHOICES, AUDIENCE, ALL_AUDIENCES))
        query = st.text_input(
            "Search lessons", key=SEARCH, placeholder="e.g. melanoma, SCC, dermoscopy, sensitivity"
        )
        audience = st.segmented_control(
            "For", (ALL_AUDIENCES, *AUDIENCES), required=True, key=AUDIENCE
        )
        ui.keep(LIST_CHOICES, SEARCH, AUDIENCE)
        wanted = None if audience in (None, ALL_AUDIENCES) else audience
        found = search_lessons(lessons, query, wanted, glossary)
        if found:
            other_names_note(query, glossary)
        else:
            no_lesson_found(query, wanted, lessons, glossary, _show_all)
        _lesson_grid(found)
    with glossary_tab:
        glossary_list(glossary, key="lessons_glossary_search")
    if examples:
        with tabs[2]:
            image_quiz(examples, functools.partial(_open_diagnosis, return_tab=QUIZ_TAB))


def _lesson_grid(found: list[Lesson], per_row: int = 2) -> None:
    """The lesson cards two to a row, which a wide screen fits where one to a row made a page
    several screens long; Streamlit stacks the columns again on a phone."""
    for start in range(0, len(found), per_row):
        row = found[start : start + per_row]
        for column, lesson in zip(st.columns(per_row, gap="medium"), row, strict=False):
            with column:
                _lesson_card(lesson)


def _short_title(lesson: Lesson) -> str:
    """The title up to its first colon, comma or bracket: "Spotting a worrying mole", short
    enough for a button on a phone."""
    return re.split(r"[:,]| \(", lesson.title, maxsplit=1)[0]


def _lesson_card(lesson: Lesson) -> None:
    with st.container(border=True):
        st.header(lesson.title)
        st.caption(meta_line(lesson))
        st.write(lesson.summary)
        st.button(
            f"Open: {_short_title(lesson)}",  # a name of its own for a screen reader's list
            key=f"lessons_open_{lesson.slug}",
            on_click=_open,
            args=(lesson.slug,),
        )


# ----------------------------------------------------------------------------- lesson view


def _lesson_view(lesson: Lesson, glossary: tuple[GlossaryTerm, ...]) -> None:
    stats, card = _data()
    st.button("← All lessons", key="lessons_back", on_click=_close)
    mode = st.segmented_control(
        "View",
        MODES,
        default="Present" if st.query_params.get("mode") == "present" else "Read",
        required=True,
        key=f"lessons_mode_{lesson.slug}",
        on_change=_sync_mode,
        args=(lesson.slug,),
    )
    if mode == "Present":
        _present(lesson, stats, card)
        return
    st.title(lesson.title)
    st.caption(meta_line(lesson, reviewed=True))
    st.download_button(
        "Download a printable handout (HTML)",
        data=functools.partial(handout.lesson_html, lesson, stats, card),  # made on click
        file_name=f"skindx-{lesson.slug}.html",
        mime="text/html",
        key=f"lessons_handout_{lesson.slug}",
        on_click="ignore",
        icon=":material/print:",
        help="The lesson with its figures, sources and quiz (answers on the last page), in one "
        "file that opens offline and prints from any browser.",
    )
    body = render_lesson_body(lesson, stats, card, link_prefix=LESSON_LINK_PREFIX)
    render_body(body, stats, card)
    lesson_sources(lesson)
    lesson_quiz(lesson)
    used = glossary_terms_in(f"{lesson.summary}\n{body}", glossary)
    if used:
        with st.expander(f"Glossary: {len(used)} terms in this lesson"):
            glossary_list(used, key="")
    st.caption(DISCLAIMER)


# ----------------------------------------------------------------------------- presentation


def _present(lesson: Lesson, stats: dict | None, card: dict | None) -> None:
    slides = lesson_slides(lesson, stats, card, link_prefix=LESSON_LINK_PREFIX)
    key = f"lessons_slide_{lesson.slug}"
    if key not in st.session_state:  # a reload or a shared link: the slide the link names
        st.session_state[key] = slide_from_query(st.query_params.to_dict(), len(slides))
    index = min(max(st.session_state[key], 0), len(slides) - 1)
    st.session_state[key] = index
    st.query_params["slide"] = str(index + 1)  # a reload comes back to this slide
    st.markdown(SLIDE_CSS, unsafe_allow_html=True)
    slide_controls(lesson.slug, index, len(slides), top=True)  # reachable above a long slide
    with st.container(key="lessons_slide"):
        if not slides[index].body.startswith("# "):
            # Later slides open at h2: a hidden h1 keeps each one titled for screen readers.
            title, hidden = html.escape(lesson.title), ui.VISUALLY_HIDDEN
            st.markdown(
                f"<h1 class='slide-page-title' style='{hidden}'>{title}</h1>",
                unsafe_allow_html=True,
            )
        render_body(slides[index].body, stats, card, slide=True)
    slide_controls(lesson.slug, index, len(slides), top=False)
    # A new slide opens at its top (the controls above it), wherever Next was pressed; the
    # first slide shown stays where the page opened.
    shown = st.session_state.get(SLIDE_SHOWN)
    if shown is None or shown[0] != lesson.slug:
        st.session_state[SLIDE_SHOWN] = (lesson.slug, index)
    else:
        said = f"Slide {index + 1} of {len(slides)}: {slides[index].title or lesson.title}"
        ui.scroll_to(
            ".st-key-lessons_slide_top", (lesson.slug, index), key=SLIDE_SHOWN, announce=said
        )
    st.caption(
        "On a computer, press F11 (Ctrl+Cmd+F on a Mac) for full screen and use the ← and → "
        "keys to change slides; on a phone or tablet, use Previous and Next. The menu steps "
        "aside while you present; this page's link, or a reload, opens on the slide shown."
    )
    presentation_scripts()  # last: its empty element would push the slide down


# ----------------------------------------------------------------------------- page


def main() -> None:
    ui.phone_layout()
    lessons, glossary = _content()
    if not lessons:
        st.error("The lessons could not be loaded. Please try again later.")
        return
    lesson, notice = lesson_from_query(st.query_params.to_dict(), lessons)
    if notice:
        st.warning(notice)
    if lesson is None:
        _list_view(lessons, glossary)
    else:
        _lesson_view(lesson, glossary)
        lesson_links_stay()  # last: its empty element would push the lesson down


main()
