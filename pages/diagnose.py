"""Diagnose: upload or take photos of a skin spot and read what the model makes of them.

Layout only. Uploads stay in memory: bytes → ``ui.working_copy`` → the shared predictor;
results live in this session's state (keyed by the uploader's file id) and nowhere
else, so nothing is written, logged or shared across sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import streamlit as st

from skindx.config import settings
from skindx.diagnosis import signs as warning_signs
from skindx.diagnosis.context import MAX_AGE, SEXES, SITE_LABELS, Context
from skindx.diagnosis.predict import SAME_SPOT, Prediction
from skindx.explain.explainer import overlay
from skindx.images.loading import ImageRejected
from skindx.reports.card_sections import same_spot_sentence
from skindx.reports.figures import probability_figure
from skindx.reports.png import combined_report_png, report_png
from skindx.reports.results import CONCERN_LABELS, results_csv, results_table
from skindx.taxonomy import BY_CODE, MALIGNANT_NAMES
from streamlit_app import resources, ui

RESULTS = "dx_results"
EXPLORER_IMAGE = "sal_image"
MAX_IMAGES = 12
IMAGE_WIDTH = 300  # px on screen: a thumbnail, capped at the column's width
CONCERN_BOX = {
    "low": st.info,
    "see_doctor": st.warning,
    "see_doctor_soon": st.error,
    "not_assessed": st.warning,
}
PHOTO_TIPS = """
- **Close**: fill most of the picture with the spot, with a little normal skin around it.
- **In focus**: tap the spot on your screen to focus, hold the phone still, retake if blurry.
- **Even light**: daylight from a window works best; avoid strong shadows.
- **No flash glare**: turn the flash off, or tilt the phone so no bright reflection covers the spot.
- **No filters or zoom**: send the photo as the camera took it.
- **Ruler (optional)**: a small ruler or coin beside the spot shows its size.
- **Two or three photos**: upload them together and switch on “These photos all show the same
  spot”: their combined answer is steadier than any one photo's.

The model learnt from *dermoscopy* images (taken through a skin magnifier with its own light), so
an ordinary phone photo may be answered with “this does not look like a close-up skin-lesion
photo”. That answer is the model being honest, not a sign that the spot is harmless.

The page also warns when a photo is darker, brighter or less sharp than nearly all the images the
model learned from: a dim photo can cost it much of its accuracy without looking odd to it.
"""


@dataclass
class Analysis:
    """One photo's result in this session."""

    key: str
    name: str
    pixels: np.ndarray | None = None
    notes: tuple[str, ...] = ()  # how the file was read
    photo_warnings: tuple[str, ...] = ()  # darker, brighter or blurrier than training images
    prediction: Prediction | None = None
    error: str | None = None
    overlay: np.ndarray | None = None
    context: Context | None = None  # what the prediction was made with
    signs: tuple[str, ...] = ()  # and the warning signs it was read with
    outputs: tuple[np.ndarray, np.ndarray] | None = None  # logits and features, for new contexts


# ----------------------------------------------------------------------------- inputs


def _inputs() -> list[tuple[Any, str]]:
    """The photos to analyse, as (uploaded file, name to show)."""
    types = ui.image_types()
    max_mb = settings().max_upload_mb
    uploads = st.file_uploader(
        "Upload one or more photos of the spot",
        type=types,
        accept_multiple_files=True,
        key="dx_upload",
        max_upload_size=max_mb,
        help=f"JPEG, PNG or WebP{', HEIC' if 'heic' in types else ''}; up to {max_mb} MB each.",
    )
    files = [(upload, upload.name or "photo") for upload in uploads or []]
    if st.toggle("Take a photo with my camera", key="dx_camera_on"):
        shot = st.camera_input("Take a photo of the spot", key="dx_camera")
        if shot is not None:
            files.append((shot, "Camera photo"))
    st.caption(ui.PRIVACY_NOTE)
    with st.expander("How to take a good photo", icon=":material/photo_camera:"):
        st.markdown(PHOTO_TIPS)
    return files


def _context_inputs(engine: resources.Engine) -> Context | None:
    """Optional age, sex and body site, where the model card has a context model."""
    if not engine.card.context:
        return None
    with st.expander("Add age, sex and body site (optional)", icon=":material/person:"):
        st.caption(
            "Doctors read a spot together with who has it and where, and so can the model"
            f"{_context_gain(engine.card.metrics)}. They apply to every photo on this page "
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
    context = Context(age, sex, site)
    return context if context.given else None


def _sign_inputs() -> tuple[str, ...]:
    """The warning signs the person has noticed (the weighted 7-point checklist and two signs
    beyond it)."""
    with st.expander("Warning signs you have noticed (optional)", icon=":material/checklist:"):
        st.caption(
            "A photo cannot show how a spot has changed or how it feels. Tick what you have "
            "noticed: these are the signs UK family doctors score for pigmented spots (NICE's "
            "weighted 7-point checklist). They can only make the advice more cautious, apply to "
            "every photo on this page and are not saved, logged or shared."
        )
        ticked = [_sign_box(sign) for sign in warning_signs.CHECKLIST]
        st.caption("Two more signs, which the checklist for pigmented spots misses:")
        ticked += [_sign_box(sign) for sign in warning_signs.BEYOND_CHECKLIST]
        return tuple(key for key in ticked if key)


def _sign_box(sign: warning_signs.Sign) -> str | None:
    """The sign's key if the person ticks it."""
    return sign.key if st.checkbox(sign.question, key=f"dx_sign_{sign.key}") else None


def _context_gain(metrics: dict[str, Any]) -> str:
    """The measured effect of the context on the test set, from the card ("" if unmeasured)."""
    with_context, without = metrics.get("test_with_context"), metrics.get("test")
    if not (with_context and without):
        return ""
    return (
        f": on its test set, balanced accuracy {ui.percent(with_context['balanced_accuracy'])} "
        f"with them, {ui.percent(without['balanced_accuracy'])} without"
    )


def _analyse(
    engine: resources.Engine,
    files: list[tuple[Any, str]],
    context: Context | None,
    signs: tuple[str, ...],
) -> list[Analysis]:
    held: dict[str, Analysis] = st.session_state.get(RESULTS, {})
    current: dict[str, Analysis] = {}
    for upload, name in files[:MAX_IMAGES]:
        key = upload.file_id
        analysis = held.get(key) or _analyse_one(engine, upload, name, context, signs)
        if analysis.outputs is not None and (analysis.context, analysis.signs) != (context, signs):
            _read(engine, analysis, context, signs)
        current[key] = analysis
    st.session_state[RESULTS] = current  # forget photos that were removed
    if len(files) > MAX_IMAGES:
        st.warning(f"Only the first {MAX_IMAGES} photos are analysed; remove some to see others.")
    return list(current.values())


def _analyse_one(
    engine: resources.Engine,
    upload: Any,
    name: str,
    context: Context | None,
    signs: tuple[str, ...],
) -> Analysis:
    try:
        loaded = ui.working_copy(upload.getvalue())
    except ImageRejected as error:
        return Analysis(upload.file_id, name, error=str(error))
    # One working copy for every step in the app (display, prediction, saliency, report).
    outputs = engine.forward(loaded.pixels)
    analysis = Analysis(upload.file_id, name, loaded.pixels, loaded.notes, outputs=outputs)
    analysis.photo_warnings = engine.predictor.photo_warnings(loaded.pixels)
    _read(engine, analysis, context, signs)
    return analysis


def _read(
    engine: resources.Engine,
    analysis: Analysis,
    context: Context | None,
    signs: tuple[str, ...],
) -> None:
    """The prediction from the network outputs, this context and these signs: new answers need
    no new forward pass."""
    assert analysis.outputs is not None
    previous = analysis.prediction
    prediction = replace(
        engine.postprocess(analysis.outputs, context), notes=analysis.photo_warnings
    )
    analysis.prediction = warning_signs.with_signs(prediction, signs)
    analysis.context, analysis.signs = context, signs
    if previous is None or previous.label != analysis.prediction.label:
        analysis.overlay = None  # the heat map is drawn for the top diagnosis


# ----------------------------------------------------------------------------- results


BATCH_HEADINGS = {
    "file": "File",
    "top_diagnosis": "Most likely",
    "probability": "Probability",
    "malignant_probability": "Cancer types",
    "concern": "Advice",
    "note": "Note",
}


def _batch_table(analyses: list[Analysis], combined: Prediction | None) -> None:
    rows = [(a.name, a.prediction if a.prediction is not None else a.error or "") for a in analyses]
    if combined is not None:
        rows.append((SAME_SPOT, combined))
    table = results_table(rows)
    shown = ui.probabilities_as_text(table, ["probability", "malignant_probability"])
    ui.table(
        shown,
        narrow=shown.fillna("—").rename(columns=BATCH_HEADINGS),
        hide_index=True,
        key="dx_table",
        placeholder="—",
        column_config={
            "file": st.column_config.TextColumn("File"),
            "top_diagnosis": st.column_config.TextColumn("Most likely"),
            "probability": st.column_config.TextColumn("Probability", alignment="right"),
            "malignant_probability": st.column_config.TextColumn("Cancer types", alignment="right"),
            "concern": st.column_config.TextColumn("Advice"),
            "note": st.column_config.TextColumn("Note"),
        },
    )
    st.download_button(
        "Download the table (CSV)",
        data=results_csv(table),
        file_name="skindx-results.csv",
        mime="text/csv",
        key="dx_csv",
        on_click="ignore",
        icon=":material/download:",
    )


def _same_spot(
    engine: resources.Engine, analyses: list[Analysis], signs: tuple[str, ...]
) -> Prediction | None:
    """The combined result when the person says the photos all show the same spot."""
    predictions = [a.prediction for a in analyses if a.prediction is not None]
    if len(predictions) < 2 or not st.toggle(
        "These photos all show the same spot: combine them",
        key="dx_same_spot",
        help="Photos of one spot often get different answers; their average is steadier.",
    ):
        return None
    combined = engine.predictor.combine(predictions)
    if combined is None:
        st.warning("None of these photos looks like a close-up skin-lesion photo, so there is "
                   "nothing to combine.")  # fmt: skip
        return None
    return warning_signs.with_signs(combined, signs)


def _combined_result(
    engine: resources.Engine, combined: Prediction, analyses: list[Analysis]
) -> None:
    with st.container(border=True, key="dx_combined"):
        _diagnosis(combined, "###", SAME_SPOT.capitalize())
        used = [a for a in analyses if a.prediction is not None and a.prediction.in_domain]
        st.caption(
            f"The average of the model's probabilities over the {len(used)} photos it could "
            "assess; its advice is never less cautious than any one photo's. "
            f"{same_spot_sentence(engine.skin_model.card.metrics)} Only combine photos of one "
            "spot: photos of different spots would blur their answers together."
        )
        photos = [(a.name, a.pixels) for a in used if a.pixels is not None]
        st.download_button(
            "Report of the combined result (PNG)",
            data=lambda: combined_report_png(photos, combined, model_name=engine.model_name),
            file_name="skindx-report-combined.png",
            mime="image/png",
            key="dx_report_combined",
            on_click="ignore",
            icon=":material/download:",
        )


def _summary(analysis: Analysis) -> str:
    """The one-line label of a result in a batch."""
    name, prediction = ui.escape(analysis.name), analysis.prediction
    if prediction is None:
        return f"{name} · not analysed"
    if not prediction.in_domain:
        return f"{name} · not assessed"
    probability = ui.probability(prediction.probabilities[prediction.label])
    return f"{name} · {prediction.label_name} {probability} · {CONCERN_LABELS[prediction.concern]}"


def _result(engine: resources.Engine, analysis: Analysis, index: int, batch: bool) -> None:
    if batch:
        box = st.expander(_summary(analysis), expanded=index == 0, key=f"dx_result_{index}")
    else:
        box = st.container(border=True, key=f"dx_result_{index}")
    with box:
        if not batch:
            st.markdown(f"**{ui.escape(analysis.name)}**")
        if analysis.error is not None:
            st.error(analysis.error, icon=":material/broken_image:")
            return
        prediction = analysis.prediction
        assert prediction is not None and analysis.pixels is not None
        for note in analysis.notes:
            st.caption(note)
        for warning in prediction.notes:
            st.warning(warning, icon=":material/photo_camera:")
        photo, summary = st.columns([1, 2], gap="medium")
        photo.image(
            ui.shrink(analysis.pixels, IMAGE_WIDTH),
            caption="Your photo",
            width="content",
            alt=f"Your photo {analysis.name}",
        )
        with summary:
            if prediction.in_domain:
                _diagnosis(prediction, heading="###" if batch else "##")
            else:
                _out_of_domain(prediction)
                if prediction.advice:  # the person's warning signs still call for a doctor
                    CONCERN_BOX[prediction.concern](prediction.concern_message)
        if not prediction.in_domain:
            with st.expander("The model's scores anyway (not a diagnosis)"):
                _chart(prediction, index)
            return
        # The heat map comes before the chart: plotly's script loads lazily in the browser,
        # and nothing should wait for it.
        _saliency(engine, analysis, prediction, index)
        st.markdown("**All seven diagnoses**")
        _chart(prediction, index)


def _saliency(
    engine: resources.Engine, analysis: Analysis, prediction: Prediction, index: int
) -> None:
    st.markdown("**Where the model looked**")
    cam, actions = st.columns([1, 2], gap="medium")
    with actions:
        st.caption(
            "The heat map (Grad-CAM) marks the parts of the photo that most raised the score "
            f"for “{prediction.label_name}”: yellow is strongest, dark blue weakest. It shows "
            "where the model looked, not why, and not whether it is right."
        )
        buttons = st.container(horizontal=True)
    with cam:
        slot = st.empty()
    if analysis.overlay is None:
        with slot, st.spinner("Drawing the heat map…"):
            saliency = engine.explain(analysis.pixels, "gradcam", prediction.label)
            analysis.overlay = overlay(analysis.pixels, saliency)
    slot.image(
        ui.shrink(analysis.overlay, IMAGE_WIDTH),
        caption=f"Grad-CAM for {prediction.label_name}",
        width="content",
        alt=f"Grad-CAM heat map over {analysis.name}",
    )
    with buttons:
        if st.button("Explore this map", key=f"dx_explore_{index}", icon=":material/visibility:"):
            st.session_state[EXPLORER_IMAGE] = {
                "id": analysis.key,
                "name": analysis.name,
                "pixels": analysis.pixels,
                "prediction": prediction,
                "features": analysis.outputs[1][0],  # for similar lesions: no second pass
            }
            ui.switch_to("saliency")
        ui.page_link(
            "lessons",
            f"About {prediction.label_name.lower()}",
            icon=":material/school:",
            query_params={"dx": prediction.label},
        )
        st.download_button(
            "Report (PNG)",
            data=_report_maker(analysis, engine.model_name),
            file_name=f"skindx-report-{index + 1}.png",
            mime="image/png",
            key=f"dx_report_{index}",
            on_click="ignore",
            icon=":material/download:",
        )


def _diagnosis(prediction: Prediction, heading: str, title: str = "Most likely") -> None:
    """The top diagnosis as a heading (``heading``: its markdown level, under the page's title
    or under "Results"), the advice and the cancer-type total."""
    label = prediction.label
    st.markdown(
        f"{heading} {title}: {prediction.label_name}, "
        f"{ui.probability(prediction.probabilities[label])}"
    )
    caption = BY_CODE[label].description
    if prediction.probabilities[label] < 0.5:
        caption += " The model is unsure: even its top answer has less than an even chance."
    st.caption(caption)
    CONCERN_BOX[prediction.concern](prediction.concern_message)
    malignant = prediction.malignant_probability
    st.markdown(
        f"Cancer types together: **{ui.probability(malignant)}** · "
        f"non-cancer types: **{ui.probability(1 - malignant)}**"
    )
    st.caption(f"Cancer types the model knows: {MALIGNANT_NAMES}.")
    if prediction.context_used:
        st.caption("Age, sex and body site were taken into account.")
    if prediction.signs:
        st.caption("The warning signs you ticked were taken into account.")


def _out_of_domain(prediction: Prediction) -> None:
    st.warning(
        "**This does not look like a close-up skin-lesion photo**, so the model gives no "
        "diagnosis for it. If a spot on your skin worries you, see a doctor.",
        icon=":material/help:",
    )
    st.caption(
        "This means the picture is unlike the dermoscopy images the model learnt from. It "
        "happens with ordinary phone photos, and also with some genuine dermoscopy images from "
        "other clinics and cameras: it says nothing about whether the spot is harmless. A "
        "sharper, closer photo (see the tips above) sometimes helps."
    )


def _chart(prediction: Prediction, index: int) -> None:
    figure = probability_figure(prediction)
    bars = figure.data[0]  # the page's one probability format on the bars too
    bars.update(
        text=[ui.probability(value / 100) for value in bars.x],
        hovertemplate="%{y}: %{text}<extra></extra>",
    )
    st.plotly_chart(
        figure,
        key=f"dx_chart_{index}",
        config={"displayModeBar": False},
    )
    st.caption(
        "Calibrated probabilities of the seven diagnoses the model knows (top three in blue). "
        "They add up to 100% even when the true answer is none of them."
    )


def _report_maker(analysis: Analysis, model_name: str):
    def make() -> bytes:
        assert analysis.prediction is not None and analysis.pixels is not None
        return report_png(
            analysis.pixels,
            analysis.prediction,
            analysis.overlay,
            file_name=analysis.name,
            model_name=model_name,
        )

    return make


# ----------------------------------------------------------------------------- page


def main() -> None:
    st.title("Check a skin spot")
    ui.phone_layout()
    ui.disclaimer()
    files = _inputs()
    engine = resources.engine()
    if engine is None:
        return
    context = _context_inputs(engine)
    signs = _sign_inputs()
    if not files:
        st.session_state.pop(RESULTS, None)
        ui.preload_charts("dx_preload")
        return
    analyses = _analyse(engine, files, context, signs)
    if len(analyses) > 1:
        st.header("Results")
        combined = _same_spot(engine, analyses, signs)
        _batch_table(analyses, combined)
        if combined is not None:
            _combined_result(engine, combined, analyses)
    for index, analysis in enumerate(analyses):
        _result(engine, analysis, index, batch=len(analyses) > 1)
    _bring_results_into_view(files, analyses)


def _bring_results_into_view(files: list[tuple[Any, str]], analyses: list[Analysis]) -> None:
    """On a phone the result starts a screen or more below the uploader: scroll its heading
    to the top once per new set of photos (never again on later reruns)."""
    first = analyses[0].prediction
    if len(analyses) > 1:
        selector = "h2#results"
    elif first is not None and first.in_domain:
        selector = ".st-key-dx_result_0 h2"
    else:
        selector = ".st-key-dx_result_0"
    token = tuple(getattr(upload, "file_id", name) for upload, name in files)
    ui.scroll_to(selector, token, key="dx_scrolled_for")


main()
