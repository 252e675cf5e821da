"""skindx.teaching.handout: every lesson as one printable, self-contained HTML file."""

from __future__ import annotations

import dataclasses
from datetime import date
from html.parser import HTMLParser

import pytest

from skindx.teaching import handout
from skindx.teaching.figures import load_model_card, load_stats_summary
from skindx.teaching.lessons import get_lesson


class Outline(HTMLParser):
    """Tags, headings, links and text of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self._heading: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("h1", "h2", "h3"):
            self._heading = tag
            self.headings.append((tag, ""))
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag == self._heading:
            self._heading = None

    def handle_data(self, data):
        self.text.append(data)
        if self._heading:
            level, text = self.headings[-1]
            self.headings[-1] = (level, text + data)


def outline(document: str) -> Outline:
    parsed = Outline()
    parsed.feed(document)
    return parsed


@pytest.fixture(scope="module")
def data():
    return load_stats_summary(), load_model_card()


def test_every_lesson_makes_a_complete_self_contained_handout(lessons, data) -> None:
    for lesson in lessons:
        document = handout.lesson_html(lesson, *data, today=date(2026, 11, 27))
        assert document.startswith("<!doctype html>") and document.endswith("</html>\n")
        parsed = outline(document)
        text = "".join(parsed.text)
        assert parsed.headings[0] == ("h1", lesson.title), lesson.slug
        sections = [h for level, h in parsed.headings if level == "h2"]
        for line in lesson.body.splitlines():
            if line.startswith("## "):
                assert line[3:].strip() in sections, (lesson.slug, line)
        if lesson.quiz:
            assert sections[-2:] == ["Quiz", "Quiz answers"]
        assert "{{" not in text, lesson.slug  # every placeholder filled or drawn
        assert not {"script", "img", "link", "iframe"} & set(parsed.tags)  # nothing fetched
        assert parsed.links == [source.url for source in lesson.sources]
        for question in lesson.quiz:
            assert question.question in text and question.explanation in text
        assert "27 November 2026" in text and "not a medical device" in text


def test_figures_are_inline_svg_and_charts_are_tables(lessons, data) -> None:
    abcde = handout.lesson_html(get_lesson("abcde-ugly-duckling", lessons), *data)
    assert abcde.count("<figure><svg") == 2  # the ABCDE and the ugly-duckling drawings
    assert "<?xml" not in abcde
    model = outline(handout.lesson_html(get_lesson("how-the-model-works", lessons), *data))
    assert "table" in model.tags and "Sensitivity (%)" in model.text


def test_a_chart_without_data_says_so(lessons) -> None:
    document = handout.lesson_html(get_lesson("how-the-model-works", lessons), None, None)
    assert "Chart not available: the model card has no per-class test figures." in document
    assert "Figure not available" in document  # and the inline figures say so too


def test_the_answer_key_names_the_right_option(lessons, data) -> None:
    lesson = get_lesson("when-to-see-a-doctor", lessons)
    text = "".join(outline(handout.lesson_html(lesson, *data)).text)
    first = lesson.quiz[0]
    assert f"{'ABC'[first.answer]}: {first.correct_option}." in text


def test_markup_in_a_lesson_is_shown_as_text(lessons, data) -> None:
    lesson = dataclasses.replace(
        get_lesson("melanoma", lessons),
        title='Moles <script>alert("x")</script>',
        body="Some <img src=x onerror=alert(1)> text\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
    )
    document = handout.lesson_html(lesson, *data)
    parsed = outline(document)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert "&lt;img src=x onerror=alert(1)&gt;" in document
    assert parsed.tags.count("table") == 1  # markdown tables still become tables


def test_cli_writes_handouts(lessons, tmp_path, capsys) -> None:
    from skindx.cli import main

    assert main(["handout", "melanoma", "dermatofibroma", "--out", str(tmp_path / "a")]) == 0
    written = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert written == ["skindx-dermatofibroma.html", "skindx-melanoma.html"]
    assert "<h1>Melanoma</h1>" in (tmp_path / "a" / "skindx-melanoma.html").read_text()
    assert main(["handout", "--out", str(tmp_path / "all")]) == 0
    assert len(list((tmp_path / "all").iterdir())) == len(lessons)
    capsys.readouterr()
    assert main(["handout", "moles", "--out", str(tmp_path / "b")]) == 1
    assert "no lesson moles; choose from" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()  # nothing written for a bad argument
