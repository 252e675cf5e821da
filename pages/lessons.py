"""Lessons: read, quiz and present the teaching material. Layout only; logic: skindx.teaching."""

from __future__ import annotations

import functools
import html

import streamlit as st

from skindx.images.loading import ImageRejected
from skindx.reports.results import diagnosis_label
from skindx.taxonomy import BY_CODE, CODES
from skindx.teaching import handout
from skindx.teaching import lessons as lx
from streamlit_app import resources, ui

ALL_AUDIENCES = "everyone"
IMAGE_QUIZ = "lessons_image_quiz"  # this session's round: images, position, answers
RETURN_TAB = "lessons_return_tab"  # the list's tab to show on "← All lessons"
QUIZ_TAB = "Image quiz"
SLIDE_SHOWN = "lessons_slide_shown"  # (lesson, slide) last scrolled to
IMAGE_QUIZ_SIZE = 10
IMAGE_QUIZ_PER_CLASS = 30
MODES = ("Read", "Present")
DISCLAIMER = (
    "Educational material, not medical advice. skindx is not a medical device: "
    "if a spot worries you, see a doctor."
)
SLIDE_CSS = """
<style>
.st-key-lessons_slide p, .st-key-lessons_slide li, .st-key-lessons_slide td,
.st-key-lessons_slide th { font-size: clamp(1.15rem, 2.4vw, 1.9rem); line-height: 1.45; }
.st-key-lessons_slide h1 { font-size: clamp(2rem, 4.8vw, 3.6rem); }
.st-key-lessons_slide h2 { font-size: clamp(1.6rem, 3.8vw, 2.8rem); }
.st-key-lessons_slide h3 { font-size: clamp(1.3rem, 3vw, 2.2rem); }
.st-key-lessons_slide { min-height: 60vh; }
.st-key-lessons_slide .slide-page-title { position: absolute; width: 1px; height: 1px;
  margin: 0; padding: 0; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.slide-page-title [data-testid="stHeaderActionElements"] { display: none; }
</style>
"""


@st.cache_resource(show_spinner=False)
def _content() -> tuple[tuple[lx.Lesson, ...], tuple[lx.GlossaryTerm, ...]]:
    try:
        glossary = lx.load_glossary()
    except lx.LessonError:
        glossary = ()
    return lx.load_lessons(strict=False), glossary


@st.cache_data(show_spinner=False, ttl=600)
def _data() -> tuple[dict | None, dict | None]:
    return lx.load_stats_summary(), resources.card_json()  # None for a broken card


@st.cache_resource(show_spinner=False)
def _figure(name: str) -> lx.Figure | None:
    try:
        return lx.load_figure(name)
    except lx.LessonNotFound:
        return None


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


def _close() -> None:
    for key in ("lesson", "dx", "mode"):
        st.query_params.pop(key, None)


def _sync_mode(slug: str) -> None:
    if st.session_state.get(f"lessons_mode_{slug}") == "Present":
        st.query_params["mode"] = "present"
    else:
        st.query_params.pop("mode", None)


def _step(slug: str, delta: int, count: int) -> None:
    key = f"lessons_slide_{slug}"
    st.session_state[key] = min(max(st.session_state.get(key, 0) + delta, 0), count - 1)


def _reset_quiz(slug: str, size: int) -> None:
    st.session_state.pop(f"lessons_quiz_checked_{slug}", None)
    for i in range(size):
        st.session_state.pop(f"lessons_quiz_{slug}_{i}", None)


# ----------------------------------------------------------------------------- list view


def _list_view(lessons: tuple[lx.Lesson, ...], glossary: tuple[lx.GlossaryTerm, ...]) -> None:
    st.title("Lessons")
    st.caption(DISCLAIMER)
    card = _data()[1] or {}
    examples = ui.examples(IMAGE_QUIZ_PER_CLASS, card.get("training"))
    names = ["Lessons", "Glossary", *([QUIZ_TAB] if examples else [])]
    back_to = st.session_state.get(RETURN_TAB)
    tabs = st.tabs(names, default=back_to if back_to in names else None)
    lessons_tab, glossary_tab = tabs[:2]
    with lessons_tab:
        query = st.text_input(
            "Search lessons",
            key="lessons_search",
            placeholder="e.g. melanoma, dermoscopy, sensitivity",
        )
        audience = st.segmented_control(
            "For",
            (ALL_AUDIENCES, *lx.AUDIENCES),
            default=ALL_AUDIENCES,
            required=True,
            key="lessons_audience",
        )
        wanted = None if audience in (None, ALL_AUDIENCES) else audience
        found = lx.search_lessons(lessons, query, wanted)
        if not found:
            st.info("No lesson matches that search. Try another word, or clear the filters.")
        for lesson in found:
            _lesson_card(lesson)
    with glossary_tab:
        _glossary(glossary, key="lessons_glossary_search")
    if examples:
        with tabs[2]:
            _image_quiz(examples)


def _lesson_card(lesson: lx.Lesson) -> None:
    with st.container(border=True):
        st.header(lesson.title)
        st.caption(lx.meta_line(lesson))
        st.write(lesson.summary)
        st.button(
            "Open lesson",
            key=f"lessons_open_{lesson.slug}",
            on_click=_open,
            args=(lesson.slug,),
        )


def _glossary(terms: tuple[lx.GlossaryTerm, ...] | list[lx.GlossaryTerm], key: str) -> None:
    if not terms:
        st.info("The glossary is not available.")
        return
    query = st.text_input("Search the glossary", key=key) if key else ""
    shown = lx.search_glossary(terms, query)
    if not shown:
        st.info("No glossary term matches that search.")
    for term in shown:
        also = f" *(also: {', '.join(term.aliases)})*" if term.aliases else ""
        st.markdown(f"**{term.term}**{also} — {term.definition}")


# ----------------------------------------------------------------------------- lesson view


def _lesson_view(lesson: lx.Lesson, glossary: tuple[lx.GlossaryTerm, ...]) -> None:
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
    st.caption(lx.meta_line(lesson, reviewed=True))
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
    body = lx.render_lesson_body(lesson, stats, card, link_prefix=lx.LESSON_LINK_PREFIX)
    _render(body, stats, card)
    _sources(lesson)
    _quiz(lesson)
    used = lx.glossary_terms_in(f"{lesson.summary}\n{body}", glossary)
    if used:
        with st.expander(f"Glossary: {len(used)} terms in this lesson"):
            _glossary(used, key="")
    st.caption(DISCLAIMER)


def _render(markdown: str, stats: dict | None, card: dict | None) -> None:
    for segment in lx.segments(markdown):
        if segment.kind == "markdown":
            st.markdown(segment.value)
        elif segment.kind == "figure":
            _draw_figure(segment.value)
        elif segment.kind == "examples":
            _draw_examples(segment.value)
        elif segment.kind == "chart":
            _draw_chart(lx.build_chart(segment.value, stats, card))


def _draw_figure(name: str) -> None:
    figure = _figure(name)
    if figure is not None:
        st.image(figure.svg, caption=figure.title, width="stretch", alt=figure.title)


def _draw_examples(code: str) -> None:
    examples = ui.examples().get(code, [])
    if not examples:
        return
    st.markdown(f"**Real examples from the ISIC data ({BY_CODE[code].name}):**")
    columns = st.columns(len(examples))
    for column, example in zip(columns, examples, strict=True):
        column.image(
            str(example.path), caption=example.caption, width="stretch", alt=example.caption
        )


def _draw_chart(chart: lx.Chart) -> None:
    if not chart.data:
        st.caption(f"({chart.note})")
        return
    st.markdown(f"**{chart.title}**")
    st.bar_chart(chart.data, horizontal=True, stack=False, x_label="", y_label=chart.y_label)


def _sources(lesson: lx.Lesson) -> None:
    st.header("Sources")
    st.markdown("\n".join(f"{i}. [{s.title}]({s.url})" for i, s in enumerate(lesson.sources, 1)))


def _quiz(lesson: lx.Lesson) -> None:
    if not lesson.quiz:
        return
    st.header("Quiz")
    slug, checked_key = lesson.slug, f"lessons_quiz_checked_{lesson.slug}"
    keys = [f"lessons_quiz_{slug}_{i}" for i in range(len(lesson.quiz))]
    with st.form(key=f"lessons_quiz_form_{slug}"):
        for number, (question, key) in enumerate(zip(lesson.quiz, keys, strict=True), 1):
            st.radio(
                f"**{number}. {question.question}**",
                range(len(question.options)),
                format_func=question.options.__getitem__,
                index=None,
                key=key,
            )
        if st.form_submit_button("Check my answers"):
            st.session_state[checked_key] = True
    if not st.session_state.get(checked_key):
        return
    result = lx.grade_quiz(lesson.quiz, [st.session_state.get(k) for k in keys])
    st.markdown(f"### Your score: {result.score} / {result.total}")
    for number, question in enumerate(lesson.quiz, 1):
        _feedback(number, question, result)
    st.button(
        "Try again",
        key=f"lessons_quiz_reset_{slug}",
        on_click=_reset_quiz,
        args=(slug, len(lesson.quiz)),
    )


def _feedback(number: int, question: lx.QuizQuestion, result: lx.QuizResult) -> None:
    i = number - 1
    answer = f"The answer is “{question.correct_option}”. {question.explanation}"
    if result.correct[i]:
        st.success(f"**{number}. Correct.** {question.explanation}")
    elif result.answered[i]:
        st.error(f"**{number}. Not quite.** {answer}")
    else:
        st.warning(f"**{number}. Not answered.** {answer}")


# ----------------------------------------------------------------------------- image quiz


def _image_quiz(examples: dict[str, list[lx.ExampleImage]]) -> None:
    """Real images with known diagnoses: the person answers, then sees the truth and the
    model's answer (only after answering, so it cannot lead them)."""
    held = st.session_state.get(IMAGE_QUIZ)
    if held is None:
        st.markdown(
            f"Name the diagnosis of {IMAGE_QUIZ_SIZE} real dermoscopic images from the ISIC "
            "data, then compare your answers with the known diagnoses and with the model's."
        )
        st.button("Start", key="lessons_iq_start", on_click=_new_round, args=(examples,))
        return
    shown, answers, checking = held["round"], held["answers"], held["checking"]
    if len(answers) == len(shown) and not checking:
        _image_quiz_summary(shown, answers)
        st.button("New round", key="lessons_iq_again", on_click=_new_round, args=(examples,))
        return
    index = len(answers) - 1 if checking else len(answers)
    st.markdown(f"**Image {index + 1} of {len(shown)}**")
    st.image(str(shown[index].path), width=360, alt=f"Quiz image {index + 1}")
    if checking:
        _image_feedback(shown[index], *answers[-1])
        last = index == len(shown) - 1
        st.button("See my score" if last else "Next image", key="lessons_iq_next", on_click=_next)
        return
    guess = st.radio(
        "What is it?", CODES, format_func=diagnosis_label, index=None, key=f"lessons_iq_{index}"
    )
    st.button("Check", key="lessons_iq_check", on_click=_check, args=(shown[index], guess),
              disabled=guess is None)  # fmt: skip


def _image_feedback(example: lx.ExampleImage, guess: str, model: tuple[str, float] | None) -> None:
    truth = diagnosis_label(example.code)
    if guess == example.code:
        st.success(f"Correct: {truth}.")
    else:
        st.error(f"Not quite: this is {truth}; you said {diagnosis_label(guess)}.")
    st.caption(example.caption)
    st.markdown(f"The model's answer: **{_model_answer(model)}**.")
    st.button(f"Read about {truth.lower()}", key="lessons_iq_lesson", on_click=_open_diagnosis,
              args=(example.code, QUIZ_TAB), help="Your place in the quiz is kept.")  # fmt: skip


def _new_round(examples: dict[str, list[lx.ExampleImage]]) -> None:
    shown = lx.image_quiz_round(examples, IMAGE_QUIZ_SIZE)
    st.session_state[IMAGE_QUIZ] = {"round": shown, "answers": [], "checking": False}
    for index in range(IMAGE_QUIZ_SIZE):  # the last round's choices
        st.session_state.pop(f"lessons_iq_{index}", None)


def _check(example: lx.ExampleImage, guess: str) -> None:
    held = st.session_state[IMAGE_QUIZ]
    held["answers"].append((guess, _model_guess(example)))
    held["checking"] = True


def _next() -> None:
    st.session_state[IMAGE_QUIZ]["checking"] = False


def _model_guess(example: lx.ExampleImage) -> tuple[str, float] | None:
    """The model's top diagnosis and its probability; ``None`` when it gives none (no model,
    an unreadable file, or an image it judges out of domain)."""
    engine = resources.engine()
    if engine is None:
        return None
    try:
        prediction = engine.predict(ui.working_copy(example.path.read_bytes()).pixels)
    except (OSError, ImageRejected):
        return None
    if not prediction.in_domain:
        return None
    return prediction.label, prediction.probabilities[prediction.label]


def _model_answer(model: tuple[str, float] | None) -> str:
    if model is None:
        return "none (it could not assess this image)"
    return f"{diagnosis_label(model[0])}, {ui.percent(model[1], 0)}"


def _image_quiz_summary(shown: list[lx.ExampleImage], answers: list) -> None:
    pairs = list(zip(shown, answers, strict=True))
    yours = sum(guess == example.code for example, (guess, _) in pairs)
    models = sum(model is not None and model[0] == example.code for example, (_, model) in pairs)
    st.markdown(f"### You: {yours} / {len(shown)} · the model: {models} / {len(shown)}")
    rows = [
        {
            "image": example.path.stem,
            "known diagnosis": diagnosis_label(example.code),
            "your answer": diagnosis_label(guess),
            "the model's answer": _model_answer(model),
        }
        for example, (guess, model) in pairs
    ]
    st.dataframe(rows, hide_index=True, key="lessons_iq_table")
    fair = (
        "The model did not train on these images (they are in its validation split). "
        if all(example.held_out for example in shown)
        else "The model may have trained on some of these images. "
    )
    st.caption(
        f"{fair}Each diagnosis comes up about equally often here; in a clinic most spots are "
        f"moles, so neither score is what you or the model would reach there. Over "
        f"{len(shown)} images, one answer more or less moves a score a long way."
    )


# ----------------------------------------------------------------------------- presentation


def _present(lesson: lx.Lesson, stats: dict | None, card: dict | None) -> None:
    slides = lx.lesson_slides(lesson, stats, card, link_prefix=lx.LESSON_LINK_PREFIX)
    key = f"lessons_slide_{lesson.slug}"
    index = min(max(st.session_state.get(key, 0), 0), len(slides) - 1)
    st.session_state[key] = index
    st.markdown(SLIDE_CSS, unsafe_allow_html=True)
    _slide_controls(lesson.slug, index, len(slides), top=True)  # reachable above a long slide
    with st.container(key="lessons_slide"):
        if not slides[index].body.startswith("# "):
            # Later slides open at h2: a hidden h1 keeps each one titled for screen readers.
            title = html.escape(lesson.title)
            st.markdown(f"<h1 class='slide-page-title'>{title}</h1>", unsafe_allow_html=True)
        _render(slides[index].body, stats, card)
    _slide_controls(lesson.slug, index, len(slides), top=False)
    # A new slide opens at its top (the controls above it), wherever Next was pressed; the
    # first slide shown stays where the page opened.
    shown = st.session_state.get(SLIDE_SHOWN)
    if shown is None or shown[0] != lesson.slug:
        st.session_state[SLIDE_SHOWN] = (lesson.slug, index)
    else:
        ui.scroll_to(".st-key-lessons_slide_top", (lesson.slug, index), key=SLIDE_SHOWN)
    st.caption(
        "Press F11 (Ctrl+Cmd+F on a Mac) for full screen, and use the ← and → keys to change "
        "slides. The menu steps aside while you present; this page's link opens straight "
        "into the slides."
    )


def _slide_controls(slug: str, index: int, count: int, top: bool) -> None:
    """Previous, the slide number and Next; the ← and → keys belong to the lower row."""
    suffix = "_top" if top else ""
    with st.container(key=f"lessons_slide{suffix or '_bottom'}"):
        previous, counter, following = st.columns(
            [1, 1, 1], vertical_alignment="center", gap="small"
        )
        previous.button(
            "Previous",
            key=f"lessons_prev{suffix}",
            on_click=_step,
            args=(slug, -1, count),
            disabled=index == 0,
            shortcut=None if top else "Left",
            width="stretch",
        )
        counter.markdown(
            f"<p style='text-align:center'>Slide {index + 1} / {count}</p>",
            unsafe_allow_html=True,
        )
        following.button(
            "Next",
            key=f"lessons_next{suffix}",
            on_click=_step,
            args=(slug, 1, count),
            disabled=index == count - 1,
            shortcut=None if top else "Right",
            width="stretch",
        )


# ----------------------------------------------------------------------------- page


def main() -> None:
    ui.phone_layout()
    lessons, glossary = _content()
    if not lessons:
        st.error("The lessons could not be loaded. Please try again later.")
        return
    lesson, notice = lx.lesson_from_query(st.query_params.to_dict(), lessons)
    if notice:
        st.warning(notice)
    if lesson is None:
        _list_view(lessons, glossary)
    else:
        _lesson_view(lesson, glossary)


main()
