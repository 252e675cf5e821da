"""Small widgets the pages share: the disclaimer, safe text, page links, image bytes, and
widget values kept while another page is shown."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from skindx.datasets.examples import ExampleImage, examples_dir, find_examples
from skindx.datasets.themes import in_dark
from skindx.diagnosis.similar import GALLERY_PER_CLASS
from skindx.images.formats import heif_available
from skindx.images.loading import LoadedImage, inspect_image
from skindx.images.preprocess import shrink
from skindx.images.rejection import UPLOAD_FORMATS, format_names
from skindx.reports.results import DISCLAIMER
from streamlit_app import navigation

T = TypeVar("T")

# Every chart without plotly's toolbar: on a phone a tap shows it over the chart's title,
# and the charts are read, not explored (the statistics have their tables and CSVs below).
CHART_CONFIG = {"displayModeBar": False}
PRIVACY_NOTE = (
    "Your photos go only to this app's server, which keeps them in memory for your visit: "
    "they are not saved, logged or shared, and they are forgotten when you close or reload the "
    "tab."
)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def dark() -> bool:
    """Whether the visitor sees the dark theme: their device's setting, unless they chose
    another in the app's menu."""
    return st.context.theme.type == "dark"


def chart(figure, **kwargs: Any) -> None:
    """A plotly figure, built in the light theme's colours, in the visitor's theme."""
    st.plotly_chart(in_dark(figure) if dark() else figure, config=CHART_CONFIG, **kwargs)


# Streamlit does not rerun when the theme changes (the visitor picks another in its menu, or
# the device turns dark at dusk), so what the server drew in the old theme's colours (charts,
# probability bars, the focus ring) would stay so until the next click. This watches the page's
# background and asks for a rerun once it no longer matches the theme the page was drawn for.
_THEME_WATCH_JS = """
export default function ({ data, setTriggerValue }) {
  const shown = () => {
    const app = document.querySelector(".stApp");
    const rgb = app && getComputedStyle(app).backgroundColor.match(/[\\d.]+/g);
    // none yet, or transparent ("rgba(0, 0, 0, 0)") while the page's styles load: not dark
    if (!rgb || (rgb.length === 4 && Number(rgb[3]) === 0)) return data;
    const [r, g, b] = rgb.map(Number);
    return 0.299 * r + 0.587 * g + 0.114 * b < 128 ? "dark" : "light";
  };
  const timer = setInterval(() => {
    const now = shown();
    if (now !== data && window.__skindxThemeAsked !== now) {
      window.__skindxThemeAsked = now;  // once per change, should the answer lag behind
      setTriggerValue("theme", now);
    }
  }, 400);
  return () => clearInterval(timer);
}
"""
_theme_watch = st.components.v2.component("skindx_theme_watch", js=_THEME_WATCH_JS)


def follow_theme_changes() -> None:
    """Rerun the page when the visitor's theme changes (see :data:`_THEME_WATCH_JS`)."""
    with st.container(key="theme_watch"):
        _theme_watch(data="dark" if dark() else "light", on_theme_change=lambda: None)


def disclaimer() -> None:
    """The plain-language notice every page of the app shows."""
    st.info(DISCLAIMER, icon=":material/health_and_safety:")


def escape(text: str) -> str:
    """Text from a user (a file name) made inert for ``st.markdown``."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def page_link(
    name: str,
    label: str,
    icon: str | None = None,
    query_params: Mapping[str, str] | None = None,
) -> bool:
    """A link to another page of the app; ``False`` (and nothing drawn) when this page runs on
    its own, outside the app's navigation (as under ``AppTest.from_file``)."""
    try:
        st.page_link(
            navigation.page(name),
            label=label,
            icon=icon,
            query_params=dict(query_params) if query_params else None,
        )
    except StreamlitAPIException:
        return False
    return True


def switch_to(name: str) -> None:
    """Go to another page of the app, keeping this session; a hint when running standalone."""
    try:
        st.switch_page(navigation.page(name))
    except StreamlitAPIException:
        st.info(f"Open “{navigation.spec(name).title}” from the app's menu.")


# Narrow screens (phones, and tablets beside the menu): tables wrap instead of running off the
# right edge, the plotly toolbar stays clear of chart titles, and a widget's or a metric's
# label may take two lines instead of being cut.
PHONE_CSS = """
<style>
[data-testid="stMarkdownContainer"] table, [data-testid="stTable"] table {
  max-width: 100%; }
@media (max-width: 1100px) {  /* TABLE_NARROW_PX */
  [data-testid="stMarkdownContainer"] table, [data-testid="stTable"] table {
    table-layout: auto !important; width: 100% !important; }
  [data-testid="stMarkdownContainer"] th, [data-testid="stMarkdownContainer"] td,
  [data-testid="stTable"] th, [data-testid="stTable"] td {
    white-space: normal !important; overflow-wrap: anywhere !important; }
}
@media (max-width: 640px) {  /* NARROW_PX */
  [data-testid="stMarkdownContainer"] table, [data-testid="stTable"] table {
    font-size: 0.8rem; }
  [data-testid="stMarkdownContainer"] th, [data-testid="stMarkdownContainer"] td,
  [data-testid="stTable"] th, [data-testid="stTable"] td {
    padding: 0.25rem 0.3rem !important; }
  .narrow-hidden { display: none; }
}
@media (min-width: 641px) { .wide-hidden { display: none; } }
[data-testid="stWidgetLabel"] p { white-space: normal; overflow-wrap: anywhere; }
[data-testid="stMetric"] [data-testid="stMarkdownContainer"],
[data-testid="stMetric"] [data-testid="stMarkdownContainer"] p {
  white-space: normal; overflow: visible; overflow-wrap: anywhere; }
</style>
"""


# Out of sight but read by screen readers (the usual "visually hidden" rules), as an element's
# inline style: a chart's text equivalent, a slide's page title.
VISUALLY_HIDDEN = (
    "position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;overflow:hidden;"
    "clip:rect(0,0,0,0);clip-path:inset(50%);white-space:nowrap"
)


def phone_layout() -> None:
    """The page's CSS for narrow screens (:data:`PHONE_CSS`); once per page, at the top."""
    st.html(PHONE_CSS)


NARROW_PX = 640  # Streamlit stacks columns below this width too
# Where a table has less room than this, ui.table shows its static table: a data grid of five
# or more columns cut its headers and cells on a tablet, and on a laptop beside the menu.
TABLE_NARROW_PX = 780


def stack_below(key: str, width_px: int) -> None:
    """Stack the columns inside the container ``key`` on screens narrower than ``width_px``,
    not only below :data:`NARROW_PX` as Streamlit does: on a tablet beside the menu, a
    column of two fifths cut a metric's value and a button's label."""
    # Only rows of columns: a horizontal container inside them (a row of words) stays a row.
    row, column = (
        '[data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"])',
        ('[data-testid="stColumn"]'),
    )
    st.html(
        f"<style>@media (max-width: {width_px}px) {{ .st-key-{key} {row} "
        f"{{ flex-direction: column; }} .st-key-{key} {column} "
        "{ width: 100% !important; flex: 1 1 auto !important; } }</style>"
    )


def table(
    frame: pd.DataFrame,
    *,
    key: str,
    narrow: pd.DataFrame | None = None,
    static: bool = False,
    **options,
) -> None:
    """``st.dataframe(frame, key=key, **options)`` where the table has room; with less than
    :data:`TABLE_NARROW_PX` (phones, tablets, a laptop beside the menu), where the grid would
    cut columns at the right edge, a static table that wraps its cells instead: ``narrow``
    (fewer or shorter columns, formatted values), else ``frame``. Its first column heads each
    row. Both are sent; CSS shows one (``display: none`` hides the other from screen readers
    too), by the width of the table's own box (a container query), not the screen's, which
    says nothing of the menu beside it. ``static``: a static table where there is room as
    well (a real HTML table, which a screen reader reads cell by cell with its headings), and
    only one without ``narrow``."""
    if static and narrow is None:
        st.table(frame.set_index(frame.columns[0]))
        return
    with st.container(key=f"{key}_box"):
        with st.container(key=f"{key}_wide"):
            if static:
                st.table(frame.set_index(frame.columns[0]))
            else:
                st.dataframe(frame, key=key, **options)
        shown = frame if narrow is None else narrow
        with st.container(key=f"{key}_narrow"):
            st.table(shown.set_index(shown.columns[0]))
        st.html(
            f"<style>.st-key-{key}_box {{ container: table-box / inline-size; }}"
            f"@container table-box (max-width: {TABLE_NARROW_PX}px) "
            f"{{ .st-key-{key}_wide {{ display: none; }} }}"
            f"@container table-box (min-width: {TABLE_NARROW_PX + 1}px) "
            f"{{ .st-key-{key}_narrow {{ display: none; }} }}"
            "</style>"
        )


_SCROLL_JS = """
<script>
(() => {
  // __TOKEN__
  const doc = window.parent === window ? document : window.parent.document;
  let stopped = false;
  const stop = () => { stopped = true; };
  for (const kind of ["wheel", "touchmove", "keydown"]) {
    doc.addEventListener(kind, stop, { once: true, passive: true });
  }
  const scroll = () => {
    if (stopped) return;
    const target = doc.querySelector(__SELECTOR__);
    if (!target) return;
    target.style.scrollMarginTop = "4.5rem";  // below Streamlit's fixed header
    target.scrollIntoView({ block: "start", behavior: "instant" });
    // Focus lost with the control that vanished (the uploader's button gives way to its file
    // list) goes to the target, so a screen reader reads it and Tab goes on from there; focus
    // the person has put elsewhere stays where it is.
    const lost = !doc.activeElement || doc.activeElement === doc.body;
    if (__FOCUS__ && lost) {
      target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: true });
    }
  };
  // Again while photos and charts above it load and push it down; never after the person
  // has scrolled.
  for (const delay of [0, 150, 400, 800, 1500, 2500]) setTimeout(scroll, delay);
  // A status line for screen readers, kept outside Streamlit's elements so that it is the
  // same live region from one rerun to the next (a region drawn anew is not announced).
  const said = __ANNOUNCE__;
  if (said) {
    let live = doc.getElementById("skindx-status");
    if (!live) {
      live = doc.createElement("div");
      live.id = "skindx-status";
      live.setAttribute("role", "status");
      live.setAttribute("aria-live", "polite");
      live.style.cssText = __HIDDEN__;
      doc.body.appendChild(live);
    }
    live.textContent = "";
    setTimeout(() => { live.textContent = said; }, 100);  // a change, even to the same words
  }
})();
</script>
"""


def scroll_to(
    selector: str, token: object, key: str, *, focus: bool = False, announce: str = ""
) -> None:
    """Scroll the first element matching the CSS ``selector`` to the top of the screen, once
    per ``token`` in this session (a new upload, a new slide), not on every rerun. ``key``:
    where the last token is kept. ``focus``: also move the keyboard focus there, if the
    focus was lost (on the page's body), as it is when the control pressed has gone.
    ``announce``: words a screen reader says then (a polite status message), for a change it
    would otherwise not hear of, as the focus stays on the button pressed."""
    if st.session_state.get(key) == token:
        return
    st.session_state[key] = token
    script = _SCROLL_JS.replace("__FOCUS__", json.dumps(focus))
    # "<" escaped: a "</script>" in the words must not end the script
    script = script.replace("__ANNOUNCE__", json.dumps(announce).replace("<", "\\u003c"))
    script = script.replace("__HIDDEN__", json.dumps(VISUALLY_HIDDEN))
    script = script.replace("__SELECTOR__", json.dumps(selector))
    script = script.replace("__TOKEN__", hashlib.sha1(repr(token).encode()).hexdigest())
    st.html(script, unsafe_allow_javascript=True)


def _upload_formats() -> list[str]:
    """The formats the uploaders accept: skindx's ``UPLOAD_FORMATS``, which its messages name
    too (HEIC where pillow-heif is installed, as required)."""
    return [name for name in UPLOAD_FORMATS if name != "HEIC" or heif_available()]


def image_types() -> list[str]:
    """File extensions the image uploaders accept."""
    return [extension for name in _upload_formats() for extension in UPLOAD_FORMATS[name]]


def image_formats() -> str:
    """The accepted formats for a person to read: "JPEG, PNG, WebP or HEIC"."""
    return format_names(_upload_formats())


WORKING_SIDE = 768  # px: ample for the model, the thumbnails, the explorer and the report


def working_copy(data: bytes) -> LoadedImage:
    """An upload decoded once into the app's working copy (longer side ≤ ``WORKING_SIDE``).

    JPEGs are decoded at reduced scale straight away, so a 12-megapixel phone photo costs
    a fraction of a full decode. Raises ``ImageRejected`` with a message for the user.
    """
    loaded = inspect_image(data, min_side=WORKING_SIDE)
    return dataclasses.replace(loaded, pixels=shrink(loaded.pixels, WORKING_SIDE))


# A phone photo is 3–15 MB; over a mobile connection its upload took longer than everything
# else. The browser shrinks a large JPEG chosen or dropped in an image uploader (Diagnose,
# the Saliency explorer) to SHRUNK_SIDE before Streamlit sends it: twice the working copy's
# side, so the app loses nothing it uses, and a canvas keeps no EXIF (location, camera),
# while createImageBitmap turns the photo upright as its EXIF orientation says. Files it
# cannot decode go as they are, to the server's checks.
SHRUNK_SIDE = 2 * WORKING_SIDE
SHRINK_OVER_BYTES = 1_000_000
_SHRINK_JS = """
<script>
(() => {
  const doc = window.parent === window ? document : window.parent.document;
  const view = doc.defaultView;
  if (view.__skindxShrink) return;
  view.__skindxShrink = true;
  const passing = new WeakSet();
  const imageInput = (el) => el instanceof view.HTMLInputElement && el.type === "file"
    && el.closest('[data-testid="stFileUploader"]') && /\\.jpe?g|image\\/jpeg/i.test(el.accept);
  const large = (file) => file.type === "image/jpeg" && file.size > __OVER__;
  const shrink = async (file) => {
    if (!large(file)) return file;
    const bitmap = await view.createImageBitmap(file, { imageOrientation: "from-image" });
    const scale = __SIDE__ / Math.max(bitmap.width, bitmap.height);
    if (scale >= 1) return file;
    const canvas = doc.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    const context = canvas.getContext("2d");
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const blob = await new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.92));
    if (!blob || blob.size >= file.size) return file;
    const kept = { type: "image/jpeg", lastModified: file.lastModified };
    return new view.File([blob], file.name, kept);
  };
  // The files shrunk, then handed to the uploader's input as a change event, which its
  // dropzone reads as it reads a drop or a pick.
  const hand = (input, chosen) => {
    Promise.all(chosen.map((f) => shrink(f).catch(() => f))).then((files) => {
      const list = new view.DataTransfer();
      files.forEach((f) => list.items.add(f));
      input.files = list.files;
      const again = new view.Event("change", { bubbles: true });
      passing.add(again);
      input.dispatchEvent(again);
    });
  };
  view.addEventListener("change", (event) => {  // a file picker (a phone's camera roll)
    const input = event.target;
    if (passing.has(event) || !imageInput(input) || !input.files) return;
    const chosen = [...input.files];
    if (!chosen.some(large)) return;
    event.stopImmediatePropagation();
    hand(input, chosen);
  }, true);
  view.addEventListener("drop", (event) => {  // files dragged onto an uploader
    const box = event.target instanceof view.Element
      && event.target.closest('[data-testid="stFileUploader"]');
    const input = box && box.querySelector('input[type="file"]');
    const chosen = [...((event.dataTransfer && event.dataTransfer.files) || [])];
    if (!input || !imageInput(input) || !chosen.some(large)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    hand(input, chosen);
  }, true);
})();
</script>
"""


def shrink_photos_before_upload() -> None:
    """Have the browser shrink large JPEGs picked in this page's image uploaders before they
    are sent (see :data:`SHRUNK_SIDE`). Once per page: the listener stays for the tab."""
    script = _SHRINK_JS.replace("__SIDE__", str(SHRUNK_SIDE))
    st.html(script.replace("__OVER__", str(SHRINK_OVER_BYTES)), unsafe_allow_javascript=True)


def once_per_upload(key: str, upload: Any, read: Callable[[Any], T]) -> T:
    """``read(upload)``, run once per uploaded file in this session (kept under ``key``):
    reruns reuse the result, and a new file replaces it."""
    return once(key, upload.file_id, lambda: read(upload))


def once(key: str, ident: Any, make: Callable[[], T]) -> T:
    """``make()``, run once per ``ident`` in this session (kept under ``key``): reruns reuse
    the result, and a new ``ident`` replaces it."""
    held = st.session_state.get(key)
    if held is None or held[0] != ident:
        held = (ident, make())
        st.session_state[key] = held
    return held[1]


# ----------------------------------------------------------------------------- coming back
# Streamlit drops a widget's state while its page is not shown. A page keeps its widgets'
# values in a store of its own (a session-state key) and draws them with those on the
# person's return: as the widgets' defaults (:func:`kept`), or set in their state before they
# are drawn (:func:`restore`; the widgets then take no default, which Streamlit would warn of).


def keep(store: str, *keys: str) -> None:
    """Keep these widgets' values in ``store`` for the person's return to the page."""
    values = st.session_state.setdefault(store, {})
    values.update({key: st.session_state[key] for key in keys if key in st.session_state})


def kept(store: str, key: str, default: Any = None) -> Any:
    """Widget ``key``'s value kept in ``store``, else ``default``."""
    return st.session_state.get(store, {}).get(key, default)


def restore(store: str) -> None:
    """Set every widget kept in ``store`` that has no state (not drawn since the person came
    back) to its kept value."""
    for key, value in st.session_state.get(store, {}).items():
        st.session_state.setdefault(key, value)


def forget(store: str, *keys: str) -> None:
    """Let these widgets start afresh when they are next drawn."""
    for key in keys:
        st.session_state.get(store, {}).pop(key, None)


@st.cache_data(show_spinner=False, ttl=600)
def _examples(directory: str, training: dict | None) -> dict[str, list[ExampleImage]]:
    return find_examples(Path(directory), GALLERY_PER_CLASS, training)


def examples(per_class: int = 3, training: dict | None = None) -> dict[str, list[ExampleImage]]:
    """Real ISIC images with known diagnoses from the folder the person running the app named
    in ``SKINDX_EXAMPLES_DIR`` (``{}`` without one): the data may not ship with the app.
    ``training``: a model card's training section, to leave out the images it trained on.

    The folder is read once for every page (up to the gallery's size); a smaller
    ``per_class`` takes the first of each diagnosis, as ``find_examples`` would pick them."""
    directory = examples_dir()
    found = _examples(str(directory), training) if directory else {}
    return {code: images[:per_class] for code, images in found.items()}
