"""A lesson as one printable, self-contained HTML handout.

Educators print lessons or hand them out, and a Streamlit page prints badly (menu, widgets,
charts cut across pages). The handout holds the lesson with its figures drawn inline as SVG, its
charts as tables, its sources, and its quiz with an answer key on a page of its own. It has no
script and fetches nothing, so it opens offline and prints from any browser.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from markdown_it import MarkdownIt

from skindx import __version__
from skindx.reports.results import DISCLAIMER
from skindx.teaching.figures import Chart, build_chart, load_figure
from skindx.teaching.lesson import Lesson, meta_line
from skindx.teaching.quiz import option_letter
from skindx.teaching.render import Segment, render_lesson_body, segments

# CommonMark with tables; raw HTML in a lesson is shown as text, never passed through.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_XML_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*\?>\s*")

STYLE = """
body { font-family: system-ui, sans-serif; line-height: 1.5; color: #141414;
       max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 2rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.4rem; margin-top: 2rem; }
h3 { font-size: 1.15rem; }
.meta, footer, figcaption, .note { color: #4a4a4a; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.6rem; text-align: left; }
td + td { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5rem 0; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
ol.options { list-style: upper-alpha; }
.answers { break-before: page; }
a { color: #1f5fa8; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } }
"""


def lesson_html(
    lesson: Lesson,
    stats: Mapping[str, Any] | None,
    card: Mapping[str, Any] | None,
    today: date | None = None,
) -> str:
    """The lesson as a complete HTML document, its figures filled in from ``stats`` and
    ``card`` exactly as the Lessons page shows them."""
    body = render_lesson_body(lesson, stats, card)
    parts = [_header(lesson), *(_segment(s, stats, card) for s in segments(body))]
    parts += [_sources(lesson), *_quiz(lesson), _footer(today or date.today())]
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_text(lesson.title)} · skindx</title>\n<style>{STYLE}</style>\n</head>\n"
        "<body>\n" + "\n".join(part for part in parts if part) + "\n</body>\n</html>\n"
    )


def _text(value: str) -> str:
    return html.escape(value, quote=True)


def _header(lesson: Lesson) -> str:
    meta = meta_line(lesson, reviewed=True)
    return f'<h1>{_text(lesson.title)}</h1>\n<p class="meta">{_text(meta)}</p>'


def _segment(segment: Segment, stats, card) -> str:
    if segment.kind == "markdown":
        return _MARKDOWN.render(segment.value)
    if segment.kind == "figure":
        figure = load_figure(segment.value)
        svg = _XML_PROLOGUE.sub("", figure.svg)  # repository SVGs, drawn inline
        return f"<figure>{svg}<figcaption>{_text(figure.title)}</figcaption></figure>"
    if segment.kind == "chart":
        return _chart(build_chart(segment.value, stats, card))
    return ""  # example photos are CC BY-NC ISIC images a deployment may add; not handed out


def _chart(chart: Chart) -> str:
    if not chart.data:
        return f'<p class="note">({_text(chart.note)})</p>'
    series = list(chart.data)
    rows = list(dict.fromkeys(row for column in chart.data.values() for row in column))
    head = "".join(f"<th>{_text(name)} ({_text(chart.y_label)})</th>" for name in series)
    body = "".join(
        f"<tr><td>{_text(row)}</td>"
        + "".join(f"<td>{_cell(chart.data[name].get(row))}</td>" for name in series)
        + "</tr>"
        for row in rows
    )
    return (
        f"<table><caption>{_text(chart.title)}</caption>"
        f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _sources(lesson: Lesson) -> str:
    items = "".join(
        f'<li><a href="{_text(s.url)}">{_text(s.title)}</a></li>' for s in lesson.sources
    )
    return f"<h2>Sources</h2>\n<ol>{items}</ol>"


def _quiz(lesson: Lesson) -> list[str]:
    if not lesson.quiz:
        return []
    questions = "".join(
        f'<li><p>{_text(q.question)}</p><ol class="options">'
        + "".join(f"<li>{_text(option)}</li>" for option in q.options)
        + "</ol></li>"
        for q in lesson.quiz
    )
    answers = "".join(
        f"<li><strong>{option_letter(q.answer)}: {_text(q.correct_option)}.</strong> "
        f"{_text(q.explanation)}</li>"
        for q in lesson.quiz
    )
    return [
        f"<h2>Quiz</h2>\n<ol>{questions}</ol>",
        f'<section class="answers"><h2>Quiz answers</h2>\n<ol>{answers}</ol></section>',
    ]


def _footer(today: date) -> str:
    return (
        f"<footer><p>{_text(DISCLAIMER)}</p><p>Handout from skindx {__version__}, "
        f"{today:%d %B %Y}. Figures about the data and the model come from the app's statistics "
        "summary and model card on that day.</p></footer>"
    )
