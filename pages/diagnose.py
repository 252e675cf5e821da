"""Diagnose: upload or take photos of a skin spot and read what the model makes of them.

Layout only: the inputs here, the results in :mod:`streamlit_app.diagnosis_results`. Uploads
stay in memory: bytes → ``ui.working_copy`` → the shared predictor; results live in this
session's state and nowhere else, so nothing is written, logged or shared across sessions.
They, and the age, sex, site and warning signs, are still there when the person comes back
from another page of the app, until they clear them, reload the page or close the tab.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from skindx.config import settings
from skindx.diagnosis import signs as warning_signs
from skindx.diagnosis.context import Context
from skindx.model.card import ModelCard
from skindx.reports.numbers import percent
from skindx.reports.results import LIMITS_MARKDOWN
from skindx.taxonomy import MAX_AGE, SEXES, SITE_LABELS
from streamlit_app import diagnosis_results as results
from streamlit_app import resources, ui

CAMERA_PHOTO = "Camera photo"
PHOTO_TIPS = """
- **Close**: fill most of the picture with the spot, with a little normal skin around it.
- **In focus**: tap the spot on your screen to focus, hold the phone still, retake if blurry.
- **Even light**: daylight from a window works best; avoid strong shadows.
- **No flash glare**: turn the flash off, or tilt the phone so no bright reflection covers the spot.
- **No filters or zoom**: send the photo as the camera took it.
- **Ruler (optional)**: a small ruler or coin beside the spot shows its size.
- **Two or three photos**: upload them together and switch on “These photos all show the same
  spot”: their combined answer is steadier than any one photo's.
- **Up to {max_mb} MB**: the uploader refuses a larger photo. Share or email it to yourself at a
  smaller size (most phones offer “Large” or “Medium”) and upload that.

The model learnt from *dermoscopy* images (taken through a skin magnifier with its own light), so
an ordinary phone photo may be answered with “this does not look like a close-up skin-lesion
photo”. That answer is the model being honest, not a sign that the spot is harmless.

The page also warns when a photo is darker, brighter or less sharp than nearly all the images the
model learned from: a dim photo can cost it much of its accuracy without looking odd to it.
"""
CONTEXT_KEYS = ("dx_age", "dx_sex", "dx_site")
SIGN_KEYS = {sign.key: f"dx_sign_{sign.key}" for sign in warning_signs.SIGNS}  # their checkboxes


# ----------------------------------------------------------------------------- inputs


def _inputs(kept: dict[str, results.Analysis]) -> list[tuple[Any, str]]:
    """The photos to analyse, as (uploaded file, name to show); ``kept``: the photos from
    earlier in this session, which the uploader no longer shows."""
    max_mb = settings().max_upload_mb
    uploads = st.file_uploader(
        "Add more photos of the spot" if kept else "Upload one or more photos of the spot",
        type=ui.image_types(),
        accept_multiple_files=True,
        key=results.UPLOADER,
        max_upload_size=max_mb,
        help=f"{ui.image_formats()}; up to {max_mb} MB each (your browser shrinks a larger JPEG).",
    )
    ui.shrink_photos_before_upload()
    if kept:
        results.kept_note(kept)
    files = [(upload, upload.name or "photo") for upload in uploads or []]
    camera_on = st.toggle("Take a photo with my camera", key="dx_camera_on")
    # The camera goes in a box that is always there: had it been inserted straight onto the
    # page, the expanders below would have moved, and the browser redraws moved ones closed.
    with st.container(key="dx_camera_box"):
        shot = st.camera_input("Take a photo of the spot", key="dx_camera") if camera_on else None
    if shot is not None:  # numbered after the camera photos kept from earlier
        taken = sum(analysis.name.startswith(CAMERA_PHOTO) for analysis in kept.values())
        files.append((shot, f"{CAMERA_PHOTO} {taken + 1}" if taken else CAMERA_PHOTO))
    st.caption(ui.PRIVACY_NOTE)
    with st.expander("How to take a good photo", icon=":material/photo_camera:"):
        st.markdown(PHOTO_TIPS.format(max_mb=max_mb))
    with st.expander("What this check cannot do", icon=":material/info:"):
        st.markdown(LIMITS_MARKDOWN)
    return files


def _context_inputs(card: ModelCard) -> Context | None:
    """Optional age, sex and body site, where the model card has a context model; open when
    they hold values (:func:`results.opened`)."""
    if not card.context:
        return None
    with st.expander(
        "Add age, sex and body site (optional)",
        expanded=results.opened("context", *CONTEXT_KEYS),
        icon=":material/person:",
    ):
        st.caption(
            "Doctors read a spot together with who has it and where, and so can the model"
            f"{_context_gain(card.metrics)}. They apply to every photo on this page "
            "and, like the photos, are not saved, logged or shared."
        )
        age_column, sex_column, site_column = st.columns(3)
        age = age_column.number_input(
            "Age (years)", min_value=0, max_value=MAX_AGE, value=None, step=1, key="dx_age"
        )
        sex = sex_column.selectbox(
            "Sex", SEXES, index=None, placeholder="Not given", key="dx_sex",
            format_func=str.capitalize,
        )  # fmt: skip
        site = site_column.selectbox(
            "Where on the body", tuple(SITE_LABELS), index=None, placeholder="Not given",
            format_func=SITE_LABELS.__getitem__, key="dx_site",
        )  # fmt: skip
    ui.keep(results.KEPT_INPUTS, *CONTEXT_KEYS)
    context = Context(age, sex, site)
    return context if context.given else None


def _sign_inputs() -> tuple[str, ...]:
    """The warning signs the person has noticed (the weighted 7-point checklist and two signs
    beyond it); open when some are ticked (:func:`results.opened`)."""
    with st.expander(
        "Warning signs you have noticed (optional)",
        expanded=results.opened("signs", *SIGN_KEYS.values()),
        icon=":material/checklist:",
    ):
        st.caption(
            "A photo cannot show how a spot has changed or how it feels. Tick what you have "
            "noticed: these are the signs UK family doctors score for pigmented spots (NICE's "
            "weighted 7-point checklist). They can only make the advice more cautious, apply to "
            "every photo on this page and are not saved, logged or shared."
        )
        ticked = [_sign_box(sign) for sign in warning_signs.CHECKLIST]
        st.caption("Two more signs, which the checklist for pigmented spots misses:")
        ticked += [_sign_box(sign) for sign in warning_signs.BEYOND_CHECKLIST]
    ui.keep(results.KEPT_INPUTS, *SIGN_KEYS.values())
    return tuple(key for key in ticked if key)


def _sign_box(sign: warning_signs.Sign) -> str | None:
    """The sign's key if the person ticks it."""
    return sign.key if st.checkbox(sign.question, key=SIGN_KEYS[sign.key]) else None


def _context_gain(metrics: dict[str, Any]) -> str:
    """The measured effect of the context on the test set, from the card ("" if unmeasured)."""
    with_context, without = metrics.get("test_with_context"), metrics.get("test")
    if not (with_context and without):
        return ""
    return (
        f": on its test images it was right {percent(with_context['balanced_accuracy'])} of the "
        f"time with them and {percent(without['balanced_accuracy'])} without (averaged over the "
        "seven diagnoses, so rare ones count as much as common ones)"
    )


# ----------------------------------------------------------------------------- page


def main() -> None:
    st.title("Check a skin spot")
    ui.phone_layout()
    ui.disclaimer()
    kept = results.kept_photos()  # before any widget: it restores their values
    files = _inputs(kept)
    # Only the card is read when the page opens: the model loads in the background (see
    # streamlit_app/app.py), so a first visitor gets the page at once and waits, if at all,
    # only after choosing a photo.
    card = resources.checked_card()
    if card is None:
        return
    context = _context_inputs(card)
    signs = _sign_inputs()
    if not files and not kept:
        st.session_state.pop(results.RESULTS, None)
        return
    engine = resources.engine()
    if engine is None:
        return
    analyses = results.analyse(engine, files, context, signs)
    if len(analyses) > 1:
        st.header("Results")
        combined = results.same_spot(engine, analyses, signs)
        results.batch_table(analyses, combined)
        if combined is not None:
            results.combined_result(engine, combined, analyses)
    for index, analysis in enumerate(analyses):
        results.result(engine, analysis, index, batch=len(analyses) > 1)
    _bring_results_into_view(analyses)


def _bring_results_into_view(analyses: list[results.Analysis]) -> None:
    """On a phone the result starts a screen or more below the uploader: scroll its heading
    to the top once per new set of photos (never again on later reruns, nor on coming back
    to the same photos), and give it the keyboard focus the uploader's button lost."""
    first = analyses[0].prediction
    if len(analyses) > 1:
        selector = "h2#results"
    elif first is not None and first.in_domain:
        selector = ".st-key-dx_result_0 h2"
    else:
        selector = ".st-key-dx_result_0"
    token = tuple(analysis.key for analysis in analyses)
    # The uploader's button, which had the focus, is gone: the result takes it.
    ui.scroll_to(selector, token, key="dx_scrolled_for", focus=True)


main()
