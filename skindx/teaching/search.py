"""Searching lessons by words and audience, best matches first, with the glossary's other names
for a term ("SCC", "naevus", "seborrheic keratosis") finding the lessons that use another."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from skindx.taxonomy import BY_CODE
from skindx.teaching.glossary import GlossaryTerm
from skindx.teaching.lesson import WORD, Lesson, occurrences


@dataclass(frozen=True)
class _Part:
    """A run of the query's words; ``term``: the glossary term it names by ``name``, if any."""

    words: tuple[str, ...]
    term: GlossaryTerm | None = None
    name: str = ""

    @property
    def others(self) -> list[str]:
        """The term's other names, as the glossary writes them."""
        return [n for n in self.term.names if n != self.name] if self.term else []

    @property
    def other_names(self) -> list[str]:
        """The term's names as words, bar the words typed, to look for in a lesson ("moles"
        names the Mole, which lessons that never say "moles" call "a mole")."""
        names = (" ".join(WORD.findall(n.lower())) for n in self.term.names) if self.term else ()
        return [n for n in names if n and n != " ".join(self.words)]


def search_lessons(
    lessons: Sequence[Lesson],
    query: str = "",
    audience: str | None = None,
    glossary: Sequence[GlossaryTerm] = (),
) -> list[Lesson]:
    """Lessons for ``audience`` that contain every word of ``query``, best matches first.

    Where the query names a glossary term by one of its names (an alias such as "SCC", or a
    spelling such as "naevus"), a lesson that holds another of the term's names also matches
    for those words ("SCC" found nothing, though lessons say "squamous cell carcinoma"). Such
    lessons come after every lesson that holds the query's own words, so the glossary only
    adds lessons, below those found before.
    """
    words = WORD.findall(query.lower())
    matches = [lesson for lesson in lessons if lesson.for_audience(audience)]
    if not words:
        return matches
    parts = _parts(words, glossary)
    ranked = []
    for lesson in matches:
        rank = _rank(lesson, parts)
        if rank is not None:
            ranked.append((rank, lesson.order, lesson))
    return [lesson for *_, lesson in sorted(ranked, key=lambda item: item[:2])]


def glossary_other_names(
    query: str, glossary: Sequence[GlossaryTerm]
) -> list[tuple[str, list[str]]]:
    """Each glossary name in ``query`` (as the glossary writes it) with the term's other names,
    which :func:`search_lessons` also looks for: ``[("SCC", ["Squamous cell carcinoma"])]``."""
    parts = _parts(WORD.findall(query.lower()), glossary)
    return [(part.name, part.others) for part in parts if part.others]


def _parts(words: Sequence[str], glossary: Sequence[GlossaryTerm]) -> list[_Part]:
    """The query's words, with each longest run that is a glossary name ("seborrheic
    keratosis", or a plural such as "moles") kept together with its term."""
    names: dict[tuple[str, ...], tuple[GlossaryTerm, str]] = {}
    for term in glossary:
        for name in term.names:
            key = tuple(WORD.findall(name.lower()))
            if key:
                names.setdefault(key, (term, name))
    longest = max(map(len, names), default=0)
    parts: list[_Part] = []
    i = 0
    while i < len(words):
        for j in range(min(len(words), i + longest), i, -1):
            run = tuple(words[i:j])
            named = names.get(run) or names.get((*run[:-1], run[-1].removesuffix("s")))
            if named is not None:
                parts.append(_Part(run, *named))
                i = j
                break
        else:
            parts.append(_Part((words[i],)))
            i += 1
    return parts


def _rank(lesson: Lesson, parts: Sequence[_Part]) -> tuple[int, float] | None:
    """How many parts matched only by another name, then minus the score; ``None``: no match."""
    by_other_name, score = 0, 0.0
    for part in parts:
        own = _score(lesson, part.words)
        if own == 0:
            own = max((_phrase_score(lesson, name) for name in part.other_names), default=0.0)
            by_other_name += 1
        if own == 0:
            return None
        score += own
    return by_other_name, -score


def _score(lesson: Lesson, words: Sequence[str]) -> float:
    texts = tuple(t.lower() for t in _texts(lesson))
    score = 0.0
    for word in words:
        weight = _weigh(texts, lambda text, word=word: occurrences(text, word))
        if weight == 0:
            return 0.0
        score += weight
    return score


def _phrase_score(lesson: Lesson, phrase: str) -> float:
    """:func:`_score`'s weights for a glossary name, found as words starting at a word's start
    (so "nevi" finds "nevi" but not "unevidenced", and "mole" finds "moles"), across lines."""
    texts = tuple(" ".join(WORD.findall(t.lower())) for t in _texts(lesson))
    return _weigh(texts, lambda text: occurrences(text, phrase, from_start=True))


def _texts(lesson: Lesson) -> tuple[str, str, str, str]:
    """What the search reads, in :func:`_weigh`'s order: title, diagnoses, summary, body."""
    return lesson.title, _diagnosis_names(lesson), lesson.summary, lesson.body


def _weigh(texts: tuple[str, ...], count) -> float:
    """A match's weight: 4 in the title, 2 in the diagnoses' names, 2 in the summary, and a
    tenth per hit in the body (up to 10); 0 where ``count`` finds it nowhere."""
    title, names, summary, body = (count(text) for text in texts)
    if not (title or names or summary or body):
        return 0.0
    return 4 * (title > 0) + 2 * (names > 0) + 2 * (summary > 0) + min(body, 10) / 10


def _diagnosis_names(lesson: Lesson) -> str:
    return " ".join(f"{c} {BY_CODE[c].name}" for c in lesson.diagnoses)
