"""The Lessons page under AppTest: list, search, deep links, lesson, quiz, slides, glossary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from skindx.teaching.figures import diagnosis_counts, load_model_card, load_stats_summary
from skindx.teaching.lessons import get_lesson, lesson_for_diagnosis
from skindx.teaching.search import search_lessons
from skindx.teaching.slides import lesson_slides
from streamlit_app.lesson_widgets import _model_answer

PAGE = Path(__file__).resolve().parents[1] / "pages" / "lessons.py"
TIMEOUT = 60


def _page(**params: str) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _open_buttons(at: AppTest) -> list:
    return [b for b in at.button if (b.key or "").startswith("lessons_open_")]


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    return "\n".join(parts)


def _counter(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "Slide " in m.value)


def test_list_shows_every_lesson(lessons) -> None:
    at = _page()
    assert at.title[0].value == "Lessons"
    assert len(_open_buttons(at)) == len(lessons)
    assert "not a medical device" in at.caption[0].value
    assert not at.warning


def test_search_and_audience_filter(lessons) -> None:
    at = _page()
    at.text_input(key="lessons_search").input("dermatofibroma").run()
    assert _open_buttons(at)[0].key == "lessons_open_dermatofibroma"
    at.text_input(key="lessons_search").input("zzzqqq").run()
    assert not _open_buttons(at) and at.info
    at.text_input(key="lessons_search").input("").run()
    at.segmented_control(key="lessons_audience").set_value("clinician").run()
    keys = {b.key for b in _open_buttons(at)}
    assert "lessons_open_saliency-maps" in keys
    assert "lessons_open_when-to-see-a-doctor" not in keys
    assert len(keys) == len(search_lessons(lessons, "", "clinician"))


def test_glossary_tab() -> None:
    at = _page()
    terms = [m.value for m in at.markdown if m.value.startswith("**Breslow thickness**")]
    assert terms
    at.text_input(key="lessons_glossary_search").input("Grad-CAM").run()
    shown = [m.value for m in at.markdown if m.value.startswith("**")]
    assert any(m.startswith("**Grad-CAM**") for m in shown)
    assert not any(m.startswith("**Breslow") for m in shown)


def test_open_lesson_from_list_and_go_back() -> None:
    at = _page()
    at.button(key="lessons_open_dermoscopy").click().run()
    assert not at.exception
    assert at.query_params["lesson"] in ("dermoscopy", ["dermoscopy"])
    assert at.title[0].value.startswith("Dermoscopy")
    at.button(key="lessons_back").click().run()
    assert at.title[0].value == "Lessons"
    assert "lesson" not in at.query_params


@pytest.mark.parametrize(
    ("params", "slug"),
    [
        ({"dx": "mel"}, "melanoma"),
        ({"dx": "bcc"}, "basal-cell-carcinoma"),
        ({"dx": "NV"}, "melanocytic-nevus"),
        ({"lesson": "saliency-maps"}, "saliency-maps"),
    ],
)
def test_deep_link_opens_the_right_lesson(params: dict, slug: str, lessons) -> None:
    at = _page(**params)
    assert at.title[0].value == get_lesson(slug, lessons).title
    assert not at.warning


@pytest.mark.parametrize("code", ["akiec", "bkl", "df", "vasc"])
def test_every_diagnosis_deep_link_works(code: str, lessons) -> None:
    at = _page(dx=code)
    assert at.title[0].value == lesson_for_diagnosis(code, lessons).title


@pytest.mark.parametrize("params", [{"dx": "scc"}, {"lesson": "no-such-lesson"}])
def test_bad_deep_link_warns_and_lists(params: dict, lessons) -> None:
    at = _page(**params)
    assert at.warning and "Here are all the lessons" in at.warning[0].value
    assert len(_open_buttons(at)) == len(lessons)


def test_lesson_reads_completely(lessons) -> None:
    at = _page(lesson="melanoma")
    text = _text(at)
    lesson = get_lesson("melanoma", lessons)
    assert "{{" not in text
    assert "## How it is confirmed" in text
    assert all(source.url in text for source in lesson.sources)
    assert "last reviewed" in text
    assert at.header[0].value == "Sources"
    assert at.download_button(key="lessons_handout_melanoma")


def test_figures_are_drawn() -> None:
    at = _page(lesson="abcde-ugly-duckling")
    assert len(at.image) == 2  # the ABCDE and ugly-duckling drawings
    assert "{{" not in _text(at)


def test_chart_or_an_honest_note() -> None:
    at = _page(lesson="limits-and-bias")
    if diagnosis_counts(load_stats_summary()):
        assert at.get("plotly_chart")
    else:
        assert any("Chart not available" in c.value for c in at.caption)


def test_quiz_scores_and_explains(lessons) -> None:
    lesson = get_lesson("melanoma", lessons)
    at = _page(lesson="melanoma")
    for i, question in enumerate(lesson.quiz):
        choice = question.answer if i else (question.answer + 1) % len(question.options)
        at.radio(key=f"lessons_quiz_melanoma_{i}").set_value(choice)
    at.button(key="FormSubmitter:lessons_quiz_form_melanoma-Check my answers").click().run()
    assert not at.exception
    total = len(lesson.quiz)
    assert f"Your score: {total - 1} / {total}" in _text(at)
    assert len(at.success) == total - 1
    assert len(at.error) == 1 and lesson.quiz[0].correct_option in at.error[0].value
    at.button(key="lessons_quiz_reset_melanoma").click().run()
    assert "Your score" not in _text(at)
    assert at.radio(key="lessons_quiz_melanoma_0").value is None


def test_unanswered_quiz_questions_are_shown(lessons) -> None:
    check = "FormSubmitter:lessons_quiz_form_dermatofibroma-Check my answers"
    at = _page(lesson="dermatofibroma")
    at.button(key=check).click().run()  # nothing chosen: no score, no answers given away
    assert "Your score" not in _text(at) and not at.warning
    assert any("at least one question" in i.value for i in at.info)
    quiz = get_lesson("dermatofibroma", lessons).quiz
    at.radio(key="lessons_quiz_dermatofibroma_0").set_value(quiz[0].answer)
    at.button(key=check).click().run()
    assert f"Your score: 1 / {len(quiz)}" in _text(at)
    assert len(at.warning) == len(quiz) - 1  # the others: not answered, with their answers


def test_presentation_mode(lessons) -> None:
    lesson = get_lesson("basal-cell-carcinoma", lessons)
    count = len(lesson_slides(lesson, load_stats_summary(), load_model_card()))
    at = _page(lesson=lesson.slug)
    at.segmented_control(key=f"lessons_mode_{lesson.slug}").set_value("Present").run()
    assert not at.exception
    assert f"Slide 1 / {count}" in _counter(at)
    assert at.button(key="lessons_prev").disabled
    assert any(lesson.title in m.value for m in at.markdown)
    assert any("F11" in c.value for c in at.caption)
    assert any("<style>" in m.value and "font-size" in m.value for m in at.markdown)
    at.button(key="lessons_next").click().run()
    assert f"Slide 2 / {count}" in _counter(at)
    assert any(m.value.startswith("## What it is") for m in at.markdown)
    for _ in range(count - 2):
        at.button(key="lessons_next").click().run()
    assert f"Slide {count} / {count}" in _counter(at)
    assert at.button(key="lessons_next").disabled
    assert any(m.value.startswith("## Sources") for m in at.markdown)
    at.button(key="lessons_prev").click().run()
    assert f"Slide {count - 1} / {count}" in _counter(at)
    assert at.query_params["mode"] in ("present", ["present"])


def test_presentation_deep_link() -> None:
    at = _page(lesson="dermoscopy", mode="present")
    assert "Slide 1 / " in _counter(at)


def test_real_examples_from_configured_folder(tmp_path: Path, monkeypatch) -> None:
    rows = ["lesion_id,image_id,dx,dx_type"]
    for i in range(4):
        rows.append(f"HAM_{i},ISIC_{i:07d},df,histo")
        Image.new("RGB", (12, 9), (180, 120, 90)).save(tmp_path / f"ISIC_{i:07d}.jpg")
    (tmp_path / "metadata.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("SKINDX_EXAMPLES_DIR", str(tmp_path))
    at = _page(dx="df")
    assert len(at.image) == 3
    assert "Real examples from the ISIC data" in _text(at)


def test_lesson_reads_without_examples_folder(monkeypatch) -> None:
    monkeypatch.delenv("SKINDX_EXAMPLES_DIR", raising=False)
    at = _page(dx="df")
    assert len(at.image) == 0
    assert "## Key points" in _text(at)


def test_image_quiz_round_trip(tmp_path: Path, monkeypatch, tiny_model_dir) -> None:
    for i, code in enumerate(["MEL", "NV", "DF"]):  # one folder per diagnosis
        (tmp_path / code).mkdir()
        Image.new("RGB", (64, 48), (150 + 30 * i, 90, 60)).save(tmp_path / code / f"ISIC_{i}.png")
    monkeypatch.setenv("SKINDX_EXAMPLES_DIR", str(tmp_path))
    monkeypatch.setenv("SKINDX_MODEL", str(tiny_model_dir))
    at = _page()
    assert [tab.label for tab in at.tabs] == ["Lessons", "Glossary", "Image quiz"]
    at.button(key="lessons_iq_start").click().run()
    for i in range(3):
        assert f"Image {i + 1} of 3" in _text(at)
        assert at.button(key="lessons_iq_check").disabled  # nothing chosen yet
        at.radio(key=f"lessons_iq_{i}").set_value("mel").run()
        at.button(key="lessons_iq_check").click().run()
        assert len(at.success) + len(at.error) == 1 and "The model's answer:" in _text(at)
        # as the Diagnose page writes probabilities: never "100%"
        assert re.search(r"The model's answer: \*\*(none|.+, (<|>)?\d{1,2}%)", _text(at))
        at.button(key="lessons_iq_next").click().run()
    assert "### You: 1 / 3 · the model: " in _text(at)  # "mel" was right once
    assert len(at.table[0].value) == 3
    assert "may have trained on some of these images" in _text(at)  # folders: split unknown
    at.button(key="lessons_iq_again").click().run()
    assert "Image 1 of 3" in _text(at) and at.radio(key="lessons_iq_0").value is None
    at.radio(key="lessons_iq_0").set_value("nv").run()
    at.button(key="lessons_iq_check").click().run()
    at.button(key="lessons_iq_lesson").click().run()  # the lesson on the image's diagnosis
    assert at.title[0].value != "Lessons" and at.query_params["dx"]
    at.button(key="lessons_back").click().run()
    assert "Image 1 of 3" in _text(at) and at.button(key="lessons_iq_next")  # place kept
    assert _default_tab(at) == "Image quiz"  # the list opens on the quiz, not its first tab
    at.query_params["dx"] = "mel"  # a lesson opened any other way ...
    at.run()
    at.button(key="lessons_back").click().run()
    assert _default_tab(at) == "Image quiz"  # (kept until a lesson is opened from the list)
    next(iter(_open_buttons(at))).click().run()
    at.button(key="lessons_back").click().run()
    assert _default_tab(at) == "Lessons"


def _default_tab(at: AppTest) -> str:
    """The tab the list opens on (st.tabs' ``default``)."""
    labels = [tab.label for tab in at.tabs]
    found = []

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        for child in getattr(node, "children", {}).values():
            proto = getattr(child, "proto", None)
            fields = [field.name for field, _ in proto.ListFields()] if proto is not None else []
            if "tab_container" in fields:
                container = proto.tab_container
                found.append(container.default_tab_label or labels[container.default_tab_index])
            walk(child)

    walk(at._tree)
    return found[0] if found else labels[0]


def test_lessons_link_to_each_other() -> None:
    at = _page(lesson="melanoma")
    text = _text(at)
    assert "[the lesson on sun safety](?lesson=sun-safety)" in text
    assert "(?lesson=abcde-ugly-duckling)" in text and "(lesson:" not in text
    sun = _page(lesson="sun-safety")
    assert sun.title[0].value.startswith("Sun safety")
    assert "UV index" in _text(sun) and "not a medical device" in _text(sun)


def test_no_image_quiz_without_examples_folder(monkeypatch) -> None:
    monkeypatch.delenv("SKINDX_EXAMPLES_DIR", raising=False)
    assert [tab.label for tab in _page().tabs] == ["Lessons", "Glossary"]


def test_the_quiz_never_says_the_model_is_certain() -> None:
    """It wrote "Vascular lesion, 100%" where the Diagnose page writes ">99%"."""
    assert _model_answer(("vasc", 0.9996)) == "Vascular lesion, >99%"
    assert _model_answer(("vasc", 0.001)) == "Vascular lesion, <1%"
