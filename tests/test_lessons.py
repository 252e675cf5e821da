"""skindx.teaching.lessons: shipped content validates; the library parses, renders, finds."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image

from skindx.datasets.examples import ExampleImage, examples_dir, find_examples
from skindx.taxonomy import CODES
from skindx.teaching.figures import (
    CHARTS,
    SHORT_NAMES,
    build_chart,
    diagnosis_counts,
    list_figures,
    load_figure,
    load_model_card,
    load_stats_summary,
    model_sentence,
    model_summary_sentence,
    photo_quality_sentence,
    stats_sentence,
)
from skindx.teaching.glossary import glossary_terms_in, load_glossary, search_glossary
from skindx.teaching.image_quiz import image_quiz_round
from skindx.teaching.lesson import Lesson, LessonError, LessonNotFound, Source
from skindx.teaching.lessons import (
    collection_problems,
    find_problems,
    get_lesson,
    lesson_for_diagnosis,
    lesson_from_query,
    load_lessons,
)
from skindx.teaching.parsing import is_valid_url, parse_lesson
from skindx.teaching.quiz import grade_quiz, parse_quiz
from skindx.teaching.render import link_lessons, linked_lessons, render_lesson_body, segments
from skindx.teaching.search import search_lessons
from skindx.teaching.slides import lesson_slides, split_slides

EXPECTED_SLUGS = {
    "skin-lesions",
    "dermoscopy",
    "abcde-ugly-duckling",
    "actinic-keratosis",
    "basal-cell-carcinoma",
    "benign-keratosis",
    "dermatofibroma",
    "melanoma",
    "melanocytic-nevus",
    "vascular-lesions",
    "how-the-model-works",
    "saliency-maps",
    "limits-and-bias",
    "when-to-see-a-doctor",
}
DEDICATED = {
    "akiec": "actinic-keratosis",
    "bcc": "basal-cell-carcinoma",
    "bkl": "benign-keratosis",
    "df": "dermatofibroma",
    "mel": "melanoma",
    "nv": "melanocytic-nevus",
    "vasc": "vascular-lesions",
}
NUMBER = re.compile(r"\d+(\.\d+)?%")


def fake_card(**test: object) -> dict:
    per_class = {
        code: {"n": 10 + i, "sensitivity": 0.5 + i / 20, "specificity": 0.9, "auc": 0.85}
        for i, code in enumerate(CODES)
    }
    return {"metrics": {"test": {"dataset": "isic2018_test", "per_class": per_class, **test}}}


# ----------------------------------------------------------------------------- shipped content


def test_shipped_content_has_no_problems() -> None:
    assert find_problems() == []


def test_every_lesson_parses(lessons: tuple[Lesson, ...]) -> None:
    assert {lesson.slug for lesson in lessons} >= EXPECTED_SLUGS
    assert len(lessons) == len({lesson.order for lesson in lessons})
    for lesson in lessons:
        assert lesson.title and lesson.summary and lesson.audiences
        assert 1 <= lesson.reading_minutes <= 60
        assert lesson.last_reviewed <= date.today()
        assert lesson.sources
        assert all(is_valid_url(source.url) for source in lesson.sources)
        assert "not a medical device" in lesson.body


def test_every_diagnosis_has_its_own_lesson(lessons: tuple[Lesson, ...]) -> None:
    for code in CODES:
        lesson = lesson_for_diagnosis(code, lessons)
        assert lesson.slug == DEDICATED[code]
        assert lesson.diagnoses == (code,)
        assert f"{{{{ stats:{code} }}}}" in lesson.body
        assert f"{{{{ model:{code} }}}}" in lesson.body


@pytest.mark.parametrize("code", ["MEL", "melanoma", " mel "])
def test_lesson_for_diagnosis_accepts_isic_spellings(code: str, lessons) -> None:
    assert lesson_for_diagnosis(code, lessons).slug == "melanoma"


@pytest.mark.parametrize("code", ["scc", "", "unknown", "xyz"])
def test_lesson_for_unknown_diagnosis_raises(code: str, lessons) -> None:
    with pytest.raises(LessonNotFound):
        lesson_for_diagnosis(code, lessons)


def test_quizzes_have_one_correct_answer_each(lessons: tuple[Lesson, ...]) -> None:
    for lesson in lessons:
        assert 3 <= len(lesson.quiz) <= 5, lesson.slug
        for question in lesson.quiz:
            correct = [i for i in range(len(question.options)) if question.is_correct(i)]
            assert correct == [question.answer]
            assert len(set(question.options)) == len(question.options)
            assert question.explanation


def test_quiz_answers_are_not_all_in_one_position(lessons: tuple[Lesson, ...]) -> None:
    positions = [q.answer for lesson in lessons for q in lesson.quiz]
    assert max(positions.count(p) for p in set(positions)) < 0.6 * len(positions)


def test_every_figure_is_valid_svg_and_used(lessons: tuple[Lesson, ...]) -> None:
    used = {m for lesson in lessons for m in re.findall(r"\{\{ figure:([\w-]+) \}\}", lesson.body)}
    names = list_figures()
    assert {"abcde", "skin-layers", "dermoscope"} <= set(names)
    assert used == set(names)
    for name in names:
        figure = load_figure(name)
        root = ET.fromstring(figure.svg)
        assert root.tag.endswith("svg") and root.get("viewBox")
        assert figure.title != name


def test_glossary_loads_and_is_used(lessons: tuple[Lesson, ...]) -> None:
    glossary = load_glossary()
    assert len(glossary) >= 30
    text = "\n".join(lesson.body for lesson in lessons)
    assert len(glossary_terms_in(text, glossary)) >= 0.8 * len(glossary)


def _sentence_lengths(markdown: str) -> list[int]:
    """Words per sentence, taking paragraphs, list items, headings and table rows as blocks."""
    prose = re.sub(r"\{\{.*?\}\}|\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    blocks = re.split(r"\n\s*\n|\n(?=\s*(?:[-*] |\d+\. |#|\|))", prose)
    lengths = []
    for block in blocks:
        text = " ".join(re.sub(r"^\s*(?:[-*] |\d+\. |#+ )", "", block).split())
        lengths += [len(s.split()) for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    return lengths


def test_public_lessons_keep_sentences_short(lessons: tuple[Lesson, ...]) -> None:
    for lesson in lessons:
        if "public" in lesson.audiences:
            lengths = _sentence_lengths(lesson.body)
            assert sum(lengths) / len(lengths) < 16, lesson.slug
            assert max(lengths) <= 45, lesson.slug


# ----------------------------------------------------------------------------- parsing errors

VALID = """---
title: A test lesson
summary: A summary.
audience: public
reading_minutes: 3
diagnoses: [mel]
sources:
  - title: A source
    url: https://example.org/page
last_reviewed: 2024-01-01
---
## Heading

Body text. {{ stats:mel }}

{{ figure:abcde }}
"""


def test_valid_lesson_parses() -> None:
    lesson = parse_lesson(VALID, "test-lesson")
    assert lesson.audiences == ("public",)
    assert lesson.diagnoses == ("mel",)
    assert lesson.last_reviewed == date(2024, 1, 1)
    assert lesson.sources == (Source("A source", "https://example.org/page"),)


FUTURE = (date.today() + timedelta(days=30)).isoformat()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("title: A test lesson\n", "", "missing field 'title'"),
        ("audience: public", "audience: everyone", "unknown audience"),
        ("audience: public", "audience: []", "audience"),
        ("reading_minutes: 3", "reading_minutes: many", "reading_minutes"),
        ("diagnoses: [mel]", "diagnoses: [melanomaa]", "unknown code"),
        ("https://example.org/page", "http://example.org/page", "invalid link"),
        ("https://example.org/page", "not a link", "invalid link"),
        ("    url: https://example.org/page\n", "", "exactly 'title' and 'url'"),
        ("last_reviewed: 2024-01-01", "last_reviewed: yesterday", "must be a date"),
        ("last_reviewed: 2024-01-01", f"last_reviewed: {FUTURE}", "in the future"),
        ("summary: A summary.", "summary: A summary.\nauthor: me", "unknown field 'author'"),
        ("{{ stats:mel }}", "{{ stats:melanoma }}", "unknown diagnosis code"),
        ("{{ stats:mel }}", "{{ stat:mel }}", "unknown placeholder kind"),
        ("{{ stats:mel }}", "{{ stats mel }}", "malformed placeholder"),
        ("{{ stats:mel }}", "{{ figure:abcde }}", "must stand alone"),
        ("{{ figure:abcde }}", "{{ figure:no-such-figure }}", "no file no-such-figure.svg"),
        ("{{ figure:abcde }}", "{{ chart:pie }}", "unknown chart"),
        ("{{ figure:abcde }}", "{{ model:everything }}", "unknown diagnosis code"),
    ],
)
def test_invalid_lesson_fails_with_a_clear_message(old: str, new: str, message: str) -> None:
    assert old in VALID
    with pytest.raises(LessonError, match=re.escape(message)):
        parse_lesson(VALID.replace(old, new), "test-lesson")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "no YAML front matter"),
        ("---\n- a list\n---\nbody", "mapping"),
        ("---\ntitle: [unclosed\n---\nbody", "not valid YAML"),
    ],
)
def test_broken_front_matter(text: str, message: str) -> None:
    with pytest.raises(LessonError, match=re.escape(message)):
        parse_lesson(text, "x")


def test_bad_slug_is_reported() -> None:
    with pytest.raises(LessonError, match="slug"):
        parse_lesson(VALID, "Bad Slug")


def question(**changes: object) -> dict:
    base = {"question": "Q?", "options": ["a", "b", "c"], "answer": 1, "explanation": "E."}
    return {**base, **changes}


@pytest.mark.parametrize(
    ("questions", "message"),
    [
        ([question()] * 2, "has 2 questions"),
        ([question()] * 6, "has 6 questions"),
        ([question(answer=3), question(), question()], "not an option index"),
        ([question(answer=True), question(), question()], "answer must be the index"),
        ([question(answer="b"), question(), question()], "answer must be the index"),
        ([question(options=["a"]), question(), question()], "options"),
        ([question(options=["a", "A"]), question(), question()], "different"),
        ([question(options=[True, False]), question(), question()], "quote it"),
        ([question(explanation=""), question(), question()], "non-empty"),
        ([{"question": "Q?"}, question(), question()], "exactly question"),
    ],
)
def test_invalid_quiz_fails(questions: list, message: str) -> None:
    with pytest.raises(LessonError, match=re.escape(message)):
        parse_quiz({"questions": questions}, "q.yaml")


def test_collection_problems_catch_gaps(lessons: tuple[Lesson, ...]) -> None:
    without_melanoma = [lesson for lesson in lessons if "mel" not in lesson.diagnoses]
    problems = collection_problems(without_melanoma)
    assert "no lesson covers diagnosis 'mel'" in problems
    quizless = [Lesson(**{**vars(lessons[0]), "quiz": ()}), *lessons[1:]]
    assert f"{lessons[0].slug}: has no quiz" in collection_problems(quizless)


def test_find_problems_reports_bad_files_and_orphan_quizzes(tmp_path: Path) -> None:
    lessons_dir, quizzes_dir = tmp_path / "lessons", tmp_path / "quizzes"
    lessons_dir.mkdir()
    quizzes_dir.mkdir()
    (lessons_dir / "good.md").write_text(VALID)
    (lessons_dir / "bad.md").write_text(VALID.replace("title: A test lesson\n", ""))
    (quizzes_dir / "orphan.yaml").write_text("questions: []\n")
    problems = find_problems(lessons_dir, quizzes_dir)
    assert any("missing field 'title'" in p for p in problems)
    assert "orphan.yaml: quiz without a lesson" in problems
    assert "good: has no quiz" in problems
    assert len(load_lessons(lessons_dir, quizzes_dir, strict=False)) == 1
    with pytest.raises(LessonError):
        load_lessons(lessons_dir, quizzes_dir)


# ----------------------------------------------------------------------------- slides, segments


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("Intro\n\n## A\ntext\n---\nmore\n## B\nend", ["Intro", "## A\ntext", "more", "## B\nend"]),
        ("# Title\n\n### Sub\nstill one slide", ["# Title\n\n### Sub\nstill one slide"]),
        # A second subsection starts a slide under its section's heading: a projector's
        # screen held half of "How it looks" (on the skin, under the dermoscope).
        (
            "## Look\n### Skin\na\n### Dermoscope\nb",
            ["## Look\n### Skin\na", "## Look\n\n### Dermoscope\nb"],
        ),
        ("### A\nno section\n### B\nno split", ["### A\nno section\n### B\nno split"]),
        ("---\n\n---\nonly\n---\n", ["only"]),
        ("## A\n```\n---\n## not a heading\n```", ["## A\n```\n---\n## not a heading\n```"]),
        ("", []),
    ],
)
def test_split_slides(markdown: str, expected: list[str]) -> None:
    assert [slide.body for slide in split_slides(markdown)] == expected


def test_slide_titles_come_from_headings() -> None:
    slides = split_slides("## First\na\n## Second ##\nb\n---\nc")
    assert [slide.title for slide in slides] == ["First", "Second", ""]


def test_lesson_slides_open_with_title_and_close_with_sources(lessons) -> None:
    lesson = get_lesson("melanoma", lessons)
    slides = lesson_slides(lesson, None, None)
    assert slides[0].body.startswith(f"# {lesson.title}")
    assert slides[-1].title == "Sources"
    assert all(source.url in slides[-1].body for source in lesson.sources)
    headings = re.findall(r"^## (.+)$", lesson.body, re.M)
    quiz = len(lesson.quiz) + 1  # a slide per question, then the answers
    titles = [s.title for s in slides[1 : -1 - quiz]]
    assert list(dict.fromkeys(titles)) == headings
    assert titles.count("How it looks") == 2  # on the skin; under the dermoscope
    assert "not a medical device" in slides[0].body
    assert not any("{{ stats" in s.body or "{{ model" in s.body for s in slides)


def test_segments_split_out_block_placeholders() -> None:
    text = (
        "a\n\n{{ figure:abcde }}\nb {{ stats:mel }}\n{{ examples:mel }}\n"
        "{{ chart:diagnosis_counts }}"
    )
    kinds = [(s.kind, s.value) for s in segments(text)]
    assert kinds == [
        ("markdown", "a"),
        ("figure", "abcde"),
        ("markdown", "b {{ stats:mel }}"),
        ("examples", "mel"),
        ("chart", "diagnosis_counts"),
    ]


# ----------------------------------------------------------------------------- rendering data

SUMMARIES = {
    "top-level": {"ham10000": {"diagnosis_counts": {"mel": 1113, "nv": 8902}}},
    "nested": {
        "datasets": {"HAM10000": {"n_images": 10015, "diagnosis_counts": {"MEL": 1113, "NV": 8902}}}
    },
    "list": {"datasets": [{"name": "HAM10000", "diagnosis_counts": {"mel": 1113, "nv": 8902}}]},
    "rows": {"ham10000": {"diagnosis_counts": [{"dx": "mel", "n": 1113}, {"dx": "nv", "n": 8902}]}},
    "by-table": {"tables": {"diagnosis_counts": {"ham10000": {"melanoma": 1113, "nv": 8902}}}},
}


@pytest.mark.parametrize("shape", sorted(SUMMARIES))
def test_stats_sentence_reads_many_summary_shapes(shape: str) -> None:
    sentence = stats_sentence("mel", SUMMARIES[shape])
    assert sentence == "In HAM10000, 1,113 of 10,015 images (11.1%) are labelled melanoma."


def test_stats_sentence_covers_datasets_in_order_and_missing_labels() -> None:
    summary = {
        "isic2020": {"diagnosis_counts": {"melanoma": 5, "nevus": 10, "unknown": 85}},
        "ham10000": {"diagnosis_counts": {"mel": 1, "nv": 3, "total": 4}},
    }
    mel = stats_sentence("mel", summary)
    assert mel.index("HAM10000") < mel.index("ISIC 2020")
    assert "1 of 4 images (25.0%)" in mel
    assert "5 of 100 images (5.0%) are labelled melanoma; 85 have no specific diagnosis." in mel
    assert "ISIC 2020 has no separate label for dermatofibroma." in stats_sentence("df", summary)


@pytest.mark.parametrize(
    "summary",
    [None, {}, {"datasets": {"x": {"diagnosis_counts": "n/a"}}}, {"a": {"diagnosis_counts": {}}}],
)
def test_stats_sentence_without_data_is_honest(summary: dict | None) -> None:
    sentence = stats_sentence("mel", summary)
    assert sentence.startswith("(Figure not available")
    assert not re.search(r"\d", sentence)


def test_stats_sentence_ignores_bad_counts() -> None:
    summary = {"ham": {"diagnosis_counts": {"mel": -3, "nv": "many", "bcc": True, "df": 2}}}
    assert diagnosis_counts(summary) == {"ham": {"df": 2}}


def test_model_sentence_from_card() -> None:
    card = fake_card()
    card["metrics"]["test"]["per_class"]["mel"] = {
        "n": 171,
        "sensitivity": 0.6199,
        "specificity": 0.951,
        "auc": 0.9,
    }
    sentence = model_sentence("mel", card)
    assert sentence.startswith(
        "On the ISIC 2018 test set, the model found 62% of the 171 melanomas (sensitivity); "
    )
    assert "95% of the other lesions (specificity)." in sentence
    assert "AUC for melanoma is 0.90" in sentence


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        ({"sensitivity": 62.0}, "found 62% of the melanomas"),
        ({"sensitivity": None, "specificity": 0.9, "auc": None}, "90% of the other lesions"),
        ({"auc": 0.7}, "On the ISIC 2018 test set, the model's AUC for melanoma is 0.70"),
        ({"sensitivity": None, "auc": float("nan")}, "(Figure not available: the model card has"),
        ({}, "(Figure not available: the model card has"),
    ],
)
def test_model_sentence_with_partial_figures(figures: dict, expected: str) -> None:
    card = fake_card()
    card["metrics"]["test"]["per_class"]["mel"] = figures
    assert expected in model_sentence("mel", card)


@pytest.mark.parametrize("card", [None, {}, {"metrics": {}}, {"metrics": {"test": "x"}}])
def test_model_sentence_without_card_is_honest(card: dict | None) -> None:
    for code in CODES:
        sentence = model_sentence(code, card)
        assert sentence.startswith("(Figure not available") and not NUMBER.search(sentence)
    assert model_summary_sentence(card).startswith("(Figure not available")


def test_model_summary_sentence() -> None:
    sentence = model_summary_sentence(fake_card(balanced_accuracy=0.712))
    assert "balanced accuracy" in sentence and "is 71%." in sentence
    assert "It found 70% of the melanomas." in sentence
    unnamed = fake_card(balanced_accuracy=0.5)
    unnamed["metrics"]["test"].pop("dataset")
    assert model_summary_sentence(unnamed).startswith("On its test set")


@pytest.mark.parametrize(
    "card", [None, {}, {"photo_quality": {}}, {"photo_quality": {"validation": 1}}]
)
def test_photo_quality_sentence_without_measurement_is_honest(card: dict | None) -> None:
    sentence = photo_quality_sentence(card)
    assert sentence.startswith("(Figure not available") and not NUMBER.search(sentence)


def test_photo_quality_sentence_from_card() -> None:
    from test_quality import LIMITS

    sentence = photo_quality_sentence({"photo_quality": LIMITS})
    assert sentence == (
        "On its validation images the model's balanced accuracy is 70% as they are; made 30% "
        "darker: 50%, made 40% brighter: 60%, slightly blurred: 65%. Its check for unusual "
        "images flagged only 2% of the darker ones."
    )


def test_render_lesson_body_fills_inline_and_keeps_block_placeholders(lessons) -> None:
    lesson = get_lesson("melanoma", lessons)
    body = render_lesson_body(lesson, SUMMARIES["top-level"], fake_card())
    assert "{{ stats" not in body and "{{ model" not in body
    assert "1,113 of 10,015 images (11.1%)" in body
    assert "{{ examples:mel }}" in body
    empty = render_lesson_body(lesson, None, None)
    assert empty.count("(Figure not available") == 2


def test_every_shipped_lesson_renders_without_data(lessons) -> None:
    for lesson in lessons:
        inline = re.findall(r"\{\{ (?:stats|model):", lesson.body)
        body = render_lesson_body(lesson, None, None)
        assert not re.search(r"\{\{\s*(stats|model)", body)
        assert body.count("(Figure not available") == len(inline)


def test_build_chart() -> None:
    counts = build_chart("diagnosis_counts", SUMMARIES["top-level"], None)
    assert counts.data == {"HAM10000": {"Melanoma": 11.1, "Mole (nevus)": 88.9}}
    model = build_chart("model_per_class", None, fake_card())
    assert set(model.data) == {"Sensitivity", "Specificity"}
    assert model.data["Sensitivity"][SHORT_NAMES["akiec"]] == 50.0
    for name in CHARTS:
        empty = build_chart(name, None, None)
        assert empty.data == {} and empty.note.startswith("Chart not available")
    with pytest.raises(LessonNotFound):
        build_chart("pie", None, None)


def test_a_lessons_chart_is_drawn_as_the_statistics_page_draws_its_charts() -> None:
    """Streamlit's own bar chart drew the lessons' charts: grey labels of 3.7:1, no values on
    the bars, and the ISIC 2018 test set in another colour than on the Statistics page."""
    from contrast import contrast

    from skindx.datasets.figures import CHART_TEXT, DATASET_COLORS, TITLE_TEXT
    from skindx.teaching.figures import chart_figure

    summary = {
        "datasets": {
            "HAM10000": {"diagnosis_counts": {"mel": 1113, "nv": 8902}},
            "ISIC 2018 test": {"diagnosis_counts": {"mel": 171, "nv": 909, "df": 44}},
        }
    }
    figure = chart_figure(build_chart("diagnosis_counts", summary, None))
    assert [bars.name for bars in figure.data] == ["HAM10000", "ISIC 2018 test set"]
    colours = [bars.marker.color for bars in figure.data]
    assert colours == [DATASET_COLORS["HAM10000"], DATASET_COLORS["ISIC 2018 test"]]
    assert list(figure.data[0].y) == ["Melanoma", "Mole (nevus)", "Dermatofibroma"]
    assert list(figure.data[0].text) == ["11.1%", "88.9%", ""]  # HAM10000 has no df row
    assert list(figure.data[1].text) == ["15.2%", "80.9%", "3.9%"]
    assert {bars.constraintext for bars in figure.data} == {"none"}  # never shrunk unreadably
    layout = figure.layout
    assert layout.title.text == "Share of images per diagnosis"
    texts = [layout.font.color, layout.legend.font.color, layout.title.font.color]
    texts += [axis.tickfont.color for axis in (layout.xaxis, layout.yaxis)]
    texts += [bars.textfont.color for bars in figure.data]
    assert set(texts) == {CHART_TEXT, TITLE_TEXT}
    assert min(contrast(colour, layout.paper_bgcolor) for colour in texts) >= 4.5

    model = chart_figure(build_chart("model_per_class", None, fake_card()))
    assert [bars.name for bars in model.data] == ["Sensitivity", "Specificity"]
    assert model.data[0].text[0] == "50.0%" and model.layout.xaxis.title.text == "%"


def test_data_files_are_read_tolerantly(tmp_path: Path, monkeypatch) -> None:
    assert load_stats_summary(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert load_stats_summary(tmp_path / "bad.json") is None
    (tmp_path / "list.json").write_text("[1, 2]")
    assert load_stats_summary(tmp_path / "list.json") is None
    (tmp_path / "card.json").write_text('{"metrics": {}}')
    monkeypatch.setenv("SKINDX_MODEL", str(tmp_path))
    assert load_model_card() == {"metrics": {}}
    assert load_model_card(tmp_path / "card.json") == {"metrics": {}}


# ----------------------------------------------------------------------------- search, links


def test_search_ranks_title_matches_first(lessons) -> None:
    assert search_lessons(lessons, "melanoma")[0].slug == "melanoma"
    assert search_lessons(lessons, "Grad-CAM")[0].slug == "saliency-maps"
    assert search_lessons(lessons, "dermatofibroma dimple")[0].slug == "dermatofibroma"
    assert search_lessons(lessons, "zzzqqq") == []
    assert list(search_lessons(lessons, "")) == list(lessons)


def test_search_filters_by_audience(lessons) -> None:
    clinician = search_lessons(lessons, "", "clinician")
    assert clinician and all("clinician" in lesson.audiences for lesson in clinician)
    assert "saliency-maps" in {lesson.slug for lesson in clinician}
    assert "when-to-see-a-doctor" not in {lesson.slug for lesson in clinician}


@pytest.mark.parametrize(
    ("params", "slug", "notice"),
    [
        ({}, None, None),
        ({"lesson": "dermoscopy"}, "dermoscopy", None),
        ({"dx": "mel"}, "melanoma", None),
        ({"dx": ["BCC"]}, "basal-cell-carcinoma", None),
        ({"lesson": "nope", "dx": "df"}, "dermatofibroma", None),
        ({"lesson": "nope"}, None, "No lesson called “nope”"),
        ({"dx": "scc"}, None, "No lesson for the diagnosis “scc”"),
    ],
)
def test_lesson_from_query(params: dict, slug: str | None, notice: str | None, lessons) -> None:
    lesson, message = lesson_from_query(params, lessons)
    assert (lesson.slug if lesson else None) == slug
    assert (message is None) if notice is None else (notice in message)


def test_get_lesson_unknown_slug(lessons) -> None:
    with pytest.raises(LessonNotFound):
        get_lesson("no-such-lesson", lessons)


# ----------------------------------------------------------------------------- glossary, quiz


def test_glossary_search_and_terms_in_text() -> None:
    glossary = load_glossary()
    assert [t.term for t in search_glossary(glossary, "Breslow")] == ["Breslow thickness"]
    found = {t.term for t in glossary_terms_in("A naevus and a BCC, seen by dermoscopy.", glossary)}
    assert {"Mole", "Basal cell carcinoma", "Dermoscopy"} <= found
    assert "Melanoma" not in found


def test_glossary_search_lists_the_term_searched_for_first() -> None:
    """A teacher's search for "melanoma" listed Angiokeratoma, Breslow thickness, False
    negative, False positive and Melanocyte before Melanoma."""
    glossary = load_glossary()
    found = [t.term for t in search_glossary(glossary, "melanoma")]
    assert found[0] == "Melanoma" and "Breslow thickness" in found
    assert search_glossary(glossary, "naevus")[0].term == "Mole"  # by its alias


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("terms: []", "non-empty 'terms'"),
        ("terms:\n  - term: A\n", "needs 'term' and 'definition'"),
        ("terms:\n  - {term: A, definition: x}\n  - {term: a, definition: y}\n", "defined twice"),
        ("terms:\n  - {term: A, definition: x, aliases: B}\n", "aliases"),
    ],
)
def test_invalid_glossary(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "glossary.yaml"
    path.write_text(text)
    with pytest.raises(LessonError, match=re.escape(message)):
        load_glossary(path)


def test_grade_quiz() -> None:
    questions = parse_quiz({"questions": [question(answer=i) for i in (0, 1, 2)]})
    result = grade_quiz(questions, [0, 2])
    assert (result.score, result.total) == (1, 3)
    assert result.correct == (True, False, False)
    assert result.answered == (True, True, False)


# ----------------------------------------------------------------------------- real examples


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 6), (150, 90, 60)).save(path)


def test_find_examples_from_ham10000_layout(tmp_path: Path) -> None:
    rows = ["lesion_id,image_id,dx,dx_type,age,sex,localization"]
    for i in range(6):
        lesion = f"HAM_{i // 2}"  # two images per lesion: only one may be picked
        rows.append(f"{lesion},ISIC_{i:07d},mel,histo,50,male,back")
        _image(tmp_path / "images" / f"ISIC_{i:07d}.jpg")
    rows.append("HAM_9,ISIC_0000099,nv,follow_up,40,female,trunk")  # image file missing
    (tmp_path / "HAM10000_metadata.csv").write_text("\n".join(rows) + "\n")
    examples = find_examples(tmp_path)
    assert list(examples) == ["mel"]
    assert [e.path.name for e in examples["mel"]] == [
        "ISIC_0000000.jpg",
        "ISIC_0000002.jpg",
        "ISIC_0000004.jpg",
    ]
    assert "confirmed by histopathology" in examples["mel"][0].caption
    assert find_examples(tmp_path / "images")["mel"]  # metadata beside images/


def test_find_examples_leaves_out_the_images_a_card_trained_on(tmp_path: Path) -> None:
    from skindx.datasets.labelled import card_split

    rows = ["lesion_id,image_id,dx,dx_type,age,sex,localization"]
    for i in range(40):
        rows.append(f"HAM_{i},ISIC_{i:07d},{'mel' if i % 2 else 'nv'},histo,50,male,back")
        _image(tmp_path / f"ISIC_{i:07d}.jpg")
    metadata = tmp_path / "HAM10000_metadata.csv"
    metadata.write_text("\n".join(rows) + "\n")
    training = {"recipe": {"val_fraction": 0.15, "split_seed": 7}}
    train, validation = card_split(training, metadata)
    training["train_images_per_class"] = train["diagnosis"].value_counts().to_dict()

    examples = find_examples(tmp_path, per_class=40, training=training)
    picked = [e for group in examples.values() for e in group]
    assert sorted(e.path.stem for e in picked) == sorted(validation["image_id"])
    assert all(e.held_out for e in picked)
    # Metadata that does not reproduce the card's split hides nothing and promises nothing.
    training["train_images_per_class"] = {"mel": 1, "nv": 1}
    picked = [e for group in find_examples(tmp_path, 40, training).values() for e in group]
    assert len(picked) == 40 and not any(e.held_out for e in picked)


def test_image_quiz_round_lets_the_diagnoses_take_turns() -> None:
    def images(code: str, n: int) -> list[ExampleImage]:
        return [ExampleImage(code, Path(f"{code}{i}.jpg"), "") for i in range(n)]

    examples = {"nv": images("nv", 20), "df": images("df", 2), "mel": images("mel", 5)}
    picked = image_quiz_round(examples, 10, seed=1)
    assert len(set(picked)) == 10
    # Three turns of all three, then df has run out: mel and nv share the last four.
    assert Counter(e.code for e in picked) == {"df": 2, "mel": 4, "nv": 4}
    assert image_quiz_round(examples, 10, seed=1) == picked  # a seed repeats a round
    assert len(image_quiz_round({"df": images("df", 2)}, 10)) == 2  # fewer when few


def test_find_examples_from_isic2019_one_hot_csv(tmp_path: Path) -> None:
    (tmp_path / "truth.csv").write_text(
        "image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK\n"
        "ISIC_1,0.0,0.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0\n"
        "ISIC_2,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,0.0\n"
    )
    _image(tmp_path / "ISIC_1.png")
    _image(tmp_path / "ISIC_2.png")
    assert {code: len(v) for code, v in find_examples(tmp_path).items()} == {"bcc": 1}


def test_find_examples_from_class_folders(tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d"):
        _image(tmp_path / "VASC" / f"{name}.jpg")
    _image(tmp_path / "other" / "x.jpg")
    examples = find_examples(tmp_path, per_class=2)
    assert list(examples) == ["vasc"]
    assert [e.path.stem for e in examples["vasc"]] == ["a", "b"]


def test_find_examples_without_folder() -> None:
    assert find_examples(None) == {}
    assert find_examples(Path("/no/such/folder")) == {}


def test_examples_dir_reads_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SKINDX_EXAMPLES_DIR", raising=False)
    assert examples_dir() is None
    monkeypatch.setenv("SKINDX_EXAMPLES_DIR", str(tmp_path))
    assert examples_dir() == tmp_path


def test_lesson_links_render_as_links_or_text(lessons) -> None:
    text = "See [the lesson on sun safety](lesson:sun-safety) and [ABCDE](lesson:abcde)."
    assert linked_lessons(text) == ["sun-safety", "abcde"]
    assert link_lessons(text) == (
        "See [the lesson on sun safety](?lesson=sun-safety) and [ABCDE](?lesson=abcde)."
    )
    assert link_lessons(text, None) == "See the lesson on sun safety and ABCDE."
    melanoma = get_lesson("melanoma", lessons)
    assert "sun-safety" in linked_lessons(melanoma.body)
    handout_body = render_lesson_body(melanoma, None, None)  # no prefix: plain text
    assert "lesson:" not in handout_body and "the lesson on sun safety" in handout_body


def test_collection_problems_catch_broken_lesson_links(lessons) -> None:
    melanoma = get_lesson("melanoma", lessons)
    broken = dataclasses.replace(melanoma, body=melanoma.body + "\n[gone](lesson:no-such-lesson)")
    split = dataclasses.replace(melanoma, body=melanoma.body + "\n[two\nlines](lesson:sun-safety)")
    others = [lesson for lesson in lessons if lesson.slug != "melanoma"]
    assert "melanoma: links to a lesson 'no-such-lesson' that does not exist" in (
        collection_problems([*others, broken])
    )
    assert any("on one line" in p for p in collection_problems([*others, split]))


def test_sun_safety_lesson(lessons) -> None:
    sun = get_lesson("sun-safety", lessons)
    assert "public" in sun.audiences and len(sun.quiz) >= 3
    hosts = {source.url.split("/")[2] for source in sun.sources}
    assert "www.who.int" in hosts and "www.nhs.uk" in hosts
    assert "UV index" in sun.body and "SPF 30" in sun.body and "sunbeds" in sun.body.lower()
