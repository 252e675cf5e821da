"""The Lessons page's widgets: a lesson body with its figures, charts and examples drawn, the
search's notes, the glossary, sources, the quiz, the slide controls and the image quiz."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from skindx.datasets.examples import ExampleImage
from skindx.images.loading import ImageRejected
from skindx.reports.numbers import counted, probability
from skindx.reports.results import diagnosis_label
from skindx.taxonomy import BY_CODE, CODES
from skindx.teaching.figures import (
    Chart,
    Figure,
    build_chart,
    chart_figure,
    for_slides,
    load_figure,
)
from skindx.teaching.glossary import GlossaryTerm, glossary_entry, search_glossary
from skindx.teaching.image_quiz import image_quiz_round, round_note, round_scores
from skindx.teaching.lesson import Lesson, LessonNotFound, QuizQuestion, sources_markdown
from skindx.teaching.quiz import QuizResult, grade_quiz
from skindx.teaching.render import LESSON_LINK_PREFIX, segments
from skindx.teaching.search import glossary_other_names, search_lessons
from streamlit_app import resources, ui

IMAGE_QUIZ = "lessons_image_quiz"  # this session's round: images, position, answers
IMAGE_QUIZ_SIZE = 10
SLIDE_CSS = """
<style>
.st-key-lessons_slide p, .st-key-lessons_slide li, .st-key-lessons_slide td,
.st-key-lessons_slide th { font-size: clamp(1.15rem, 2.4vw, 1.9rem); line-height: 1.45; }
.st-key-lessons_slide h1 { font-size: clamp(2rem, 4.8vw, 3.6rem); }
.st-key-lessons_slide h2 { font-size: clamp(1.6rem, 3.8vw, 2.8rem); }
.st-key-lessons_slide h3 { font-size: clamp(1.3rem, 3vw, 2.2rem); }
.st-key-lessons_slide { min-height: 60vh; }
.slide-page-title [data-testid="stHeaderActionElements"] { display: none; }
</style>
"""


# The ← and → shortcuts do nothing while the View control (a radio group, which keeps the arrow
# keys for itself) has the focus, as it has straight after a click on Present: the focus goes
# back to the page, so the first → a presenter presses turns the slide.
_RELEASE_MODE_FOCUS = """
<script>
(() => {
  const doc = window.parent === window ? document : window.parent.document;
  const release = () => {
    const active = doc.activeElement;
    if (active && active.closest("[class*='st-key-lessons_mode_']")) active.blur();
  };
  for (const delay of [0, 200, 600]) setTimeout(release, delay);
})();
</script>
"""


# Previous and Next stand above a slide (to skip it without scrolling a long one, and for a
# screen reader, whose reading goes on into the new slide from there) and below it (where a
# reader ends, with the ← and → keys). Both pairs read out as "Previous, Next": each button
# gets a name that says which pair it is in, beginning with its visible word (so voice control
# still finds it), and the lower pair names its key. Streamlit's buttons take no accessible
# name, and draw theirs anew on a rerun: an observer, installed once per tab, names them.
SLIDE_BUTTONS = {
    "lessons_prev_top": ("Previous slide (top)", ""),
    "lessons_next_top": ("Next slide (top)", ""),
    "lessons_prev": ("Previous slide (bottom)", "ArrowLeft"),
    "lessons_next": ("Next slide (bottom)", "ArrowRight"),
}
_NAME_SLIDE_BUTTONS = """
<script>
(() => {
  const doc = window.parent === window ? document : window.parent.document;
  if (doc.skindxSlideButtons) return;
  doc.skindxSlideButtons = true;
  const buttons = __BUTTONS__;
  const name = () => {
    for (const [key, [label, keys]] of Object.entries(buttons)) {
      const button = doc.querySelector(`.st-key-${key} button`);
      if (!button || button.getAttribute("aria-label") === label) continue;
      button.setAttribute("aria-label", label);
      if (keys) button.setAttribute("aria-keyshortcuts", keys);
    }
  };
  name();
  new MutationObserver(name).observe(doc.body, { childList: true, subtree: true });
})();
</script>
""".replace("__BUTTONS__", json.dumps(SLIDE_BUTTONS))


# Streamlit opens every markdown link in a new tab, so a lesson's link to another lesson left
# the reader with two copies of the app. A plain click on one (Enter included) opens it in this
# tab and session; Ctrl-, Shift- and middle-clicks still open a tab as asked. Installed once
# per tab.
_LESSON_LINKS_STAY = """
<script>
(() => {
  const doc = window.parent === window ? document : window.parent.document;
  if (doc.skindxLessonLinks) return;
  doc.skindxLessonLinks = true;
  doc.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey
        || event.shiftKey || event.altKey) return;
    const link = event.target.closest && event.target.closest('a[href^="PREFIX"]');
    if (!link) return;
    event.preventDefault();
    // Within this session (a page load would start a new one, losing the photos, upload
    // and answers it holds): Streamlit reads the new address on "popstate", as on Back.
    const win = doc.defaultView;
    win.history.pushState(null, "", link.href);
    win.dispatchEvent(new PopStateEvent("popstate"));
  }, true);
})();
</script>
""".replace("PREFIX", LESSON_LINK_PREFIX)


@st.cache_resource(show_spinner=False)
def _figure(name: str) -> Figure | None:
    try:
        return load_figure(name)
    except LessonNotFound:
        return None


def render_body(
    markdown: str, stats: dict | None, card: dict | None, *, slide: bool = False
) -> None:
    """A lesson's markdown with its figures, examples and charts; ``slide``: on a slide, whose
    charts are drawn with text to match the slide's."""
    for segment in segments(markdown):
        if segment.kind == "markdown":
            st.markdown(segment.value)
        elif segment.kind == "figure":
            _draw_figure(segment.value)
        elif segment.kind == "examples":
            _draw_examples(segment.value)
        elif segment.kind == "chart":
            _draw_chart(build_chart(segment.value, stats, card), slide)


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


def _draw_chart(chart: Chart, slide: bool) -> None:
    if not chart.data:
        st.caption(f"({chart.note})")
        return
    figure = for_slides(chart_figure(chart)) if slide else chart_figure(chart)
    ui.chart(figure)


def glossary_list(terms: tuple[GlossaryTerm, ...] | list[GlossaryTerm], key: str) -> None:
    if not terms:
        st.info("The glossary is not available.")
        return
    query = st.text_input("Search the glossary", key=key) if key else ""
    shown = search_glossary(terms, query)
    if not shown:
        st.info("No glossary term matches that search.")
    for term in shown:
        st.markdown(glossary_entry(term))


def other_names_note(query: str, glossary: tuple[GlossaryTerm, ...]) -> None:
    """Which other names the search looked for, so a list for "SCC" that shows lessons saying
    "squamous cell carcinoma" explains itself."""
    others = glossary_other_names(query, glossary)
    if others:
        said = "; ".join(f"{typed} → {', '.join(names)}" for typed, names in others)
        st.caption(f"Also searched for the glossary's other names: {ui.escape(said)}.")


def no_lesson_found(
    query: str,
    audience: str | None,
    lessons: Sequence[Lesson],
    glossary: tuple[GlossaryTerm, ...],
    show_all: Callable[..., None],
) -> None:
    """No lesson matched: say where the search can go instead (lessons for other readers, the
    glossary's entry and the lessons that use its name, or every lesson) where an empty list
    said only "try another word"."""
    typed = ui.escape(query)
    elsewhere = len(search_lessons(lessons, query, None, glossary)) if audience else 0
    if elsewhere:
        verb = "does" if elsewhere == 1 else "do"
        some = f"{counted(elsewhere, 'lesson')} for other readers {verb}"
        st.info(f"No lesson for “{audience}” matches “{typed}”, but {some}.")
        st.button("Show them", key="lessons_search_everyone", on_click=show_all, args=(query,))
        return
    terms = search_glossary(glossary, query)[:3] if query.strip() else []
    if terms:
        st.info(f"No lesson matches “{typed}”. The glossary explains it:")
        for term in terms:
            st.markdown(glossary_entry(term))
        # "ROC curve" is in no lesson, but AUC, the entry that explains it, is
        named = next((t for t in terms if search_lessons(lessons, t.term, None, glossary)), None)
        if named is not None:
            st.button(f"Lessons on {named.term}", key="lessons_search_term",
                      on_click=show_all, args=(named.term,))  # fmt: skip
    else:
        st.info(f"No lesson or glossary term matches “{typed}”. Check the spelling, or try "
                "another word.")  # fmt: skip
    st.button("Show all lessons", key="lessons_search_clear", on_click=show_all)


def lesson_sources(lesson: Lesson) -> None:
    st.header("Sources")
    st.markdown(sources_markdown(lesson))


def lesson_quiz(lesson: Lesson) -> None:
    if not lesson.quiz:
        return
    slug, checked_key = lesson.slug, f"lessons_quiz_checked_{lesson.slug}"
    with st.container(key=f"lessons_quiz_top_{slug}"):
        st.header("Quiz")
    resets = st.session_state.get(f"lessons_quiz_resets_{slug}", 0)
    if resets:
        # "Try again" is gone once pressed, and the focus with it, to the page's top: it goes
        # to the quiz's heading instead, the first question next on Tab.
        ui.scroll_to(f".st-key-lessons_quiz_top_{slug} h2", resets,
                     key=f"lessons_quiz_shown_{slug}", focus=True)  # fmt: skip
    keys = [f"lessons_quiz_{slug}_{i}" for i in range(len(lesson.quiz))]
    with st.form(key=f"lessons_quiz_form_{slug}"):
        for number, (question, key) in enumerate(zip(lesson.quiz, keys, strict=True), 1):
            # The question in bold above its options; the options' own label is the plain
            # question, which screen readers announce ("**1. …**" was read out with its stars).
            st.markdown(f"**{number}. {question.question}**")
            st.radio(
                f"{number}. {question.question}",
                range(len(question.options)),
                format_func=question.options.__getitem__,
                index=None,
                key=key,
                label_visibility="collapsed",
            )
        if st.form_submit_button("Check my answers"):
            st.session_state[checked_key] = True
    if not st.session_state.get(checked_key):
        return
    result = grade_quiz(lesson.quiz, [st.session_state.get(k) for k in keys])
    if not any(result.answered):  # a click before any choice must not give the answers away
        st.session_state.pop(checked_key)
        st.info("Choose an answer to at least one question, then check.")
        return
    st.markdown(f"### Your score: {result.score} / {result.total}")
    for number, question in enumerate(lesson.quiz, 1):
        _feedback(number, question, result)
    st.button(
        "Try again",
        key=f"lessons_quiz_reset_{slug}",
        on_click=_reset_quiz,
        args=(slug, len(lesson.quiz)),
    )


def _feedback(number: int, question: QuizQuestion, result: QuizResult) -> None:
    i = number - 1
    answer = f"The answer is “{question.correct_option}”. {question.explanation}"
    if result.correct[i]:
        st.success(f"**{number}. Correct.** {question.explanation}")
    elif result.answered[i]:
        st.error(f"**{number}. Not quite.** {answer}")
    else:
        st.warning(f"**{number}. Not answered.** {answer}")


def _reset_quiz(slug: str, size: int) -> None:
    st.session_state.pop(f"lessons_quiz_checked_{slug}", None)
    resets = f"lessons_quiz_resets_{slug}"
    st.session_state[resets] = st.session_state.get(resets, 0) + 1
    # Set to no answer, not dropped: a dropped value is not sent to the browser, whose radios
    # kept the last answers ticked while the quiz counted them unanswered.
    for i in range(size):
        st.session_state[f"lessons_quiz_{slug}_{i}"] = None


def image_quiz(examples: dict[str, list[ExampleImage]], on_read: Callable[[str], None]) -> None:
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
        _image_feedback(shown[index], *answers[-1], on_read)
        last = index == len(shown) - 1
        st.button("See my score" if last else "Next image", key="lessons_iq_next", on_click=_next)
        return
    guess = st.radio(
        "What is it?", CODES, format_func=diagnosis_label, index=None, key=f"lessons_iq_{index}"
    )
    st.button("Check", key="lessons_iq_check", on_click=_check, args=(shown[index], guess),
              disabled=guess is None)  # fmt: skip


def _image_feedback(
    example: ExampleImage,
    guess: str,
    model: tuple[str, float] | None,
    on_read: Callable[[str], None],
) -> None:
    truth = diagnosis_label(example.code)
    if guess == example.code:
        st.success(f"Correct: {truth}.")
    else:
        st.error(f"Not quite: this is {truth}; you said {diagnosis_label(guess)}.")
    st.caption(example.caption)
    st.markdown(f"The model's answer: **{_model_answer(model)}**.")
    st.button(f"Read about {truth.lower()}", key="lessons_iq_lesson", on_click=on_read,
              args=(example.code,), help="Your place in the quiz is kept.")  # fmt: skip


def _new_round(examples: dict[str, list[ExampleImage]]) -> None:
    shown = image_quiz_round(examples, IMAGE_QUIZ_SIZE)
    st.session_state[IMAGE_QUIZ] = {"round": shown, "answers": [], "checking": False}
    for index in range(IMAGE_QUIZ_SIZE):  # the last round's choices
        st.session_state.pop(f"lessons_iq_{index}", None)


def _check(example: ExampleImage, guess: str) -> None:
    held = st.session_state[IMAGE_QUIZ]
    held["answers"].append((guess, _model_guess(example)))
    held["checking"] = True


def _next() -> None:
    st.session_state[IMAGE_QUIZ]["checking"] = False


def _model_guess(example: ExampleImage) -> tuple[str, float] | None:
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
    return f"{diagnosis_label(model[0])}, {probability(model[1])}"  # ">99%", never "100%"


def _image_quiz_summary(shown: list[ExampleImage], answers: list) -> None:
    pairs = list(zip(shown, answers, strict=True))
    yours, models = round_scores(shown, answers)
    st.markdown(f"### You: {yours} / {len(shown)} · the model: {models} / {len(shown)}")
    rows = [
        {
            "image": number,
            "known diagnosis": diagnosis_label(example.code),
            "your answer": diagnosis_label(guess),
            "the model's answer": _model_answer(model),
        }
        for number, (example, (guess, model)) in enumerate(pairs, start=1)
    ]
    # a static table: it wraps long names ("Actinic keratosis / intraepithelial carcinoma")
    # where a data grid cut them at its column's edge; images by their place in the round,
    # as the quiz showed them, where ISIC ids pushed a phone's table off its screen
    st.table(pd.DataFrame(rows).set_index("image"))
    st.caption(round_note(shown))


def lesson_links_stay() -> None:
    """Links from a lesson to another lesson open in this tab, not a new one."""
    st.html(_LESSON_LINKS_STAY, unsafe_allow_javascript=True)


def presentation_scripts() -> None:
    """Take the focus off the Read / Present control, so the arrow keys turn the slides, and
    give the two pairs of slide buttons names a screen reader tells apart; one element."""
    st.html(_RELEASE_MODE_FOCUS + _NAME_SLIDE_BUTTONS, unsafe_allow_javascript=True)


def slide_controls(slug: str, index: int, count: int, top: bool) -> None:
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


def _step(slug: str, delta: int, count: int) -> None:
    key = f"lessons_slide_{slug}"
    st.session_state[key] = min(max(st.session_state.get(key, 0) + delta, 0), count - 1)
