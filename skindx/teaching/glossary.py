"""The glossary (``content/glossary.yaml``): loading, searching, and the terms a text uses."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from skindx.config import CONTENT_DIR
from skindx.teaching.lesson import WORD, LessonError, occurrences, text_problem

GLOSSARY_PATH = CONTENT_DIR / "glossary.yaml"


@dataclass(frozen=True)
class GlossaryTerm:
    term: str
    definition: str
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.term, *self.aliases)


def load_glossary(path: Path | None = None) -> tuple[GlossaryTerm, ...]:
    """The glossary (``content/glossary.yaml``), validated and sorted by term."""
    path = GLOSSARY_PATH if path is None else Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LessonError(f"{path.name}: cannot be read: {exc}") from exc
    items = data.get("terms") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise LessonError(f"{path.name}: expected a non-empty 'terms' list")
    terms: list[GlossaryTerm] = []
    seen: set[str] = set()
    for i, item in enumerate(items, 1):
        term = _glossary_term(item, f"{path.name}: term {i}")
        for name in term.names:
            if name.lower() in seen:
                raise LessonError(f"{path.name}: {name!r} is defined twice")
            seen.add(name.lower())
        terms.append(term)
    return tuple(sorted(terms, key=lambda t: t.term.lower()))


def _glossary_term(item: Any, where: str) -> GlossaryTerm:
    if not isinstance(item, dict) or not {"term", "definition"} <= set(item) <= {
        "term",
        "definition",
        "aliases",
    }:
        raise LessonError(f"{where}: needs 'term' and 'definition' (and optional 'aliases')")
    aliases = item.get("aliases") or []
    if text_problem(item["term"]) or text_problem(item["definition"]):
        raise LessonError(f"{where}: term and definition must be non-empty text")
    if not isinstance(aliases, list) or any(text_problem(a) for a in aliases):
        raise LessonError(f"{where}: aliases must be a list of text")
    return GlossaryTerm(
        item["term"].strip(),
        " ".join(item["definition"].split()),
        tuple(a.strip() for a in aliases),
    )


def search_glossary(terms: Sequence[GlossaryTerm], query: str = "") -> list[GlossaryTerm]:
    """The terms whose names or definition hold every word of ``query``: those named by it
    first (a search for "melanoma" listed Angiokeratoma, Breslow thickness and four more before
    Melanoma), each group in glossary order."""
    words = WORD.findall(query.lower())
    if not words:
        return list(terms)

    def holds(text: str) -> bool:  # a short word as a word ("AK" is not in "make")
        return all(occurrences(text.lower(), w) for w in words)

    found = [t for t in terms if holds(f"{' '.join(t.names)} {t.definition}")]
    return sorted(found, key=lambda t: not holds(" ".join(t.names)))


def glossary_entry(term: GlossaryTerm) -> str:
    """One glossary entry as a line of markdown: the term, its aliases, its definition."""
    also = f" *(also: {', '.join(term.aliases)})*" if term.aliases else ""
    return f"**{term.term}**{also} — {term.definition}"


def glossary_terms_in(text: str, terms: Sequence[GlossaryTerm]) -> list[GlossaryTerm]:
    """Glossary terms that a text uses (whole words, any case)."""
    lowered = text.lower()
    return [
        t
        for t in terms
        if any(re.search(rf"(?<![a-z]){re.escape(n.lower())}(?![a-z])", lowered) for n in t.names)
    ]
