"""The app's pages, by section. Adding a page is one line in :data:`SECTIONS`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"


@dataclass(frozen=True)
class PageSpec:
    """A page script in ``pages/`` and how the menu shows it."""

    file: str
    title: str
    icon: str
    url_path: str
    default: bool = False
    aliases: tuple[str, ...] = ()  # more URL paths for the page, hidden from the menu

    @property
    def name(self) -> str:
        return Path(self.file).stem

    @property
    def path(self) -> Path:
        return PAGES_DIR / self.file


SECTIONS: dict[str, tuple[PageSpec, ...]] = {
    "Diagnose": (
        # Streamlit serves the default page at "/" but reserves its url_path without serving
        # it, so that path is one nobody types, and the names people guess and share are
        # hidden aliases of the same script.
        PageSpec(
            "diagnose.py",
            "Check a skin spot",
            ":material/stethoscope:",
            "default-page",
            default=True,
            aliases=("diagnose", "check"),
        ),
    ),
    "Explore": (PageSpec("saliency.py", "Saliency explorer", ":material/visibility:", "saliency"),),
    "Learn": (PageSpec("lessons.py", "Lessons", ":material/school:", "lessons"),),
    "Data": (
        PageSpec("statistics.py", "Dataset statistics", ":material/bar_chart:", "statistics"),
    ),
    "About": (
        PageSpec(
            "model_card.py",
            "Model card",
            ":material/fact_check:",
            "model-card",
            aliases=("model_card", "card"),
        ),
        PageSpec("about.py", "About and privacy", ":material/info:", "about"),
    ),
}


def spec(name: str) -> PageSpec:
    """The page whose script is ``pages/<name>.py``."""
    for specs in SECTIONS.values():
        for page in specs:
            if page.name == name:
                return page
    names = [p.name for specs in SECTIONS.values() for p in specs]
    raise KeyError(f"No page called {name!r}. Pages: {names}")


def page(name: str) -> st.Page:
    """The ``st.Page`` for one page (for ``st.navigation``, ``page_link``, ``switch_page``)."""
    found = spec(name)
    return st.Page(
        found.path,
        title=found.title,
        icon=found.icon,
        url_path=found.url_path,
        default=found.default,
    )


def _aliases(found: PageSpec) -> list[st.Page]:
    return [
        st.Page(found.path, title=found.title, icon=found.icon, url_path=alias, visibility="hidden")
        for alias in found.aliases
    ]


def pages() -> dict[str, list[st.Page]]:
    """Every page (and its hidden aliases), grouped by menu section, in menu order."""
    return {
        section: [entry for p in specs for entry in (page(p.name), *_aliases(p))]
        for section, specs in SECTIONS.items()
    }
