"""The Diagnose page's results: one photo's analysis kept in session state, and how results
are laid out (diagnosis, advice, heat map, chart, batch table, the same-spot combination).

Uploads stay in memory: results live in this session's state (keyed by the uploader's file
id) and nowhere else. Streamlit forgets the uploader's files when the person opens another
page, so the analyses of those photos are kept (:data:`KEPT`) and shown again on their return,
until they clear them, reload the page or close the tab.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from skindx.datasets import themes
from skindx.diagnosis import signs as warning_signs
from skindx.diagnosis.context import Context
from skindx.diagnosis.predict import SAME_SPOT, Prediction, with_photo_warnings
from skindx.explain.overlay import overlay
from skindx.images import quality
from skindx.images.loading import ImageRejected
from skindx.reports import png, results
from skindx.reports.card_sections import same_spot_sentence
from skindx.reports.numbers import counted, probability
from skindx.reports.results import diagnosis_label
from skindx.taxonomy import BY_CODE, MALIGNANT_NAMES
from streamlit_app import resources, saliency_widgets, ui

RESULTS = "dx_results"  # the analyses of the photos in the uploader (and camera), by file id
KEPT = "dx_kept"  # those of photos from before the person left the page, by file id
KEPT_INPUTS = "dx_inputs"  # the values of the page's other widgets, for the same return
OPENED = "dx_opened"  # the input expanders open in this visit to the page (:func:`opened`)
UPLOADER = "dx_upload"
MAX_IMAGES = 12
IMAGE_WIDTH = 300  # px on screen: a thumbnail, capped at the column's width
CONCERN_BOX = {
    "low": st.info,
    "see_doctor": st.warning,
    "see_doctor_soon": st.error,
    "not_assessed": st.warning,
}


@dataclass
class Analysis:
    """One photo's result in this session."""

    key: str
    name: str
    pixels: np.ndarray | None = None
    notes: tuple[str, ...] = ()  # how the file was read
    photo_warnings: tuple[str, ...] = ()  # darker, brighter or blurrier than training images
    refusal: str | None = None  # why it gets no diagnosis: black and white, too small
    prediction: Prediction | None = None
    error: str | None = None
    overlay: np.ndarray | None = None
    context: Context | None = None  # what the prediction was made with
    signs: tuple[str, ...] = ()  # and the warning signs it was read with
    outputs: tuple[np.ndarray, np.ndarray] | None = None  # logits and features, for new contexts


# ----------------------------------------------------------------------------- coming back


def kept_photos() -> dict[str, Analysis]:
    """The analyses of photos from earlier in this session that the uploader no longer holds.

    Call it before the page draws its widgets: Streamlit drops a widget's state while its page
    is not shown, and a missing uploader state means the person has just come back (or opened
    the page for the first time). Its photos' analyses then move to :data:`KEPT`, and the
    other widgets get back the values kept in :data:`KEPT_INPUTS` (``ui.keep``)."""
    if UPLOADER not in st.session_state:
        st.session_state.pop(OPENED, None)  # a new visit: open what holds values (opened)
        kept = {**st.session_state.get(KEPT, {}), **st.session_state.pop(RESULTS, {})}
        st.session_state[KEPT] = dict(list(kept.items())[:MAX_IMAGES])
        ui.restore(KEPT_INPUTS)
    return st.session_state.get(KEPT, {})


def opened(name: str, *keys: str) -> bool:
    """Whether the expander ``name`` of optional inputs is drawn open: once one of its widgets
    ``keys`` holds a value, kept from earlier or entered now, so that a person coming back
    sees what their result took into account (a closed one hid values the result said it
    used). It then stays open for the rest of the visit, so that clearing its last value
    does not shut it under the person's hand."""
    held = (st.session_state.get(key) for key in keys)
    given = any(value is not None and value is not False for value in held)  # an age of 0 too
    names = st.session_state.setdefault(OPENED, set())
    if given:
        names.add(name)
    return name in names


def kept_note(kept: dict[str, Analysis]) -> None:
    """Which photos from earlier are shown, and the button that clears them."""
    names = ", ".join(f"“{ui.escape(a.name)}”" for a in kept.values())
    with st.container(key="dx_kept_box"):
        st.info(
            f"Still here from earlier in this session: {names}. "
            "They stay until you clear them, reload the page or close the tab; "
            "photos you add now join them.",
            icon=":material/history:",
        )
        st.button(
            "Clear these photos",
            key="dx_clear_kept",
            on_click=_clear_kept,
            icon=":material/delete:",
        )


def _clear_kept() -> None:
    saliency_widgets.forget_images(set(st.session_state.pop(KEPT, {})))


# ----------------------------------------------------------------------------- analysis


def analyse(
    engine: resources.Engine,
    files: list[tuple[Any, str]],
    context: Context | None,
    signs: tuple[str, ...],
) -> list[Analysis]:
    """The analyses of the kept photos (:func:`kept_photos`), then of these files."""
    kept: dict[str, Analysis] = st.session_state.get(KEPT, {})
    held: dict[str, Analysis] = st.session_state.get(RESULTS, {})
    room = MAX_IMAGES - len(kept)
    current: dict[str, Analysis] = {}
    for upload, name in files[:room]:
        key = upload.file_id
        current[key] = held.get(key) or _analyse_one(engine, upload, name, context, signs)
    st.session_state[RESULTS] = current  # forget photos that were removed
    if len(files) > room:
        st.warning(f"Only {MAX_IMAGES} photos are analysed at a time; remove some to see others.")
    analyses = [*kept.values(), *current.values()]
    for analysis in analyses:
        if analysis.outputs is not None and (analysis.context, analysis.signs) != (context, signs):
            _read(engine, analysis, context, signs)
    return analyses


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
    analysis.refusal = quality.refusal(loaded.pixels)
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
    prediction = with_photo_warnings(
        engine.postprocess(analysis.outputs, context), analysis.photo_warnings, analysis.refusal
    )
    analysis.prediction = warning_signs.with_signs(prediction, signs)
    analysis.context, analysis.signs = context, signs
    if previous is None or previous.label != analysis.prediction.label:
        analysis.overlay = None  # the heat map is drawn for the top diagnosis


# ----------------------------------------------------------------------------- results


def batch_table(analyses: list[Analysis], combined: Prediction | None) -> None:
    rows = [(a.name, a.prediction if a.prediction is not None else a.error or "") for a in analyses]
    if combined is not None:
        rows.append((SAME_SPOT, combined))
    table = results.results_table(rows)
    with st.container(key="dx_table"):
        table_rows = batch_rows(table)
        st.table(table_rows.set_index(table_rows.columns[0]))
    st.download_button(
        "Download the table (CSV)",
        data=results.results_csv(table),
        file_name="skindx-results.csv",
        mime="text/csv",
        key="dx_csv",
        on_click="ignore",
        icon=":material/download:",
    )


def batch_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The batch table (:func:`results.results_table`) as the page shows it, a static table
    that wraps its cells at every width: a data grid of the CSV's six columns cut the advice,
    the diagnosis and the note on a desktop and ran off a phone. Four columns, the note (the
    only cell that says why a photo got no answer) under the file name. st.table reads its
    cells as Markdown, hence the escaping."""
    malignant = results.probabilities_as_text(table)["malignant_probability"]
    files = [
        ui.escape(name) + (f"  \n*{ui.escape(note)}*" if note else "")
        for name, note in zip(table["file"], table["note"].fillna(""), strict=True)
    ]
    answers = [
        "—" if pd.isna(label) else results.answer(label, value)
        for label, value in zip(table["top_diagnosis"], table["probability"], strict=True)
    ]
    return pd.DataFrame(
        {
            "File": files,
            "Most likely": answers,
            "Cancer types": malignant.fillna("—"),
            "Advice": table["advice"],
        }
    )


def same_spot(
    engine: resources.Engine, analyses: list[Analysis], signs: tuple[str, ...]
) -> Prediction | None:
    """The combined result when the person says the photos all show the same spot: offered
    only for two or more photos the model could assess (read, and in its domain)."""
    predictions = [a.prediction for a in analyses if a.prediction is not None]
    assessed = [p for p in predictions if p.in_domain]
    if len(assessed) < 2:
        ui.forget(KEPT_INPUTS, "dx_same_spot")  # new photos start uncombined
        st.caption(
            "Photos of one spot can be combined once the model can assess two or more of them; "
            f"it could assess {counted(len(assessed), 'photo') if assessed else 'none'} of these."
        )
        return None
    wanted = st.toggle(
        "These photos all show the same spot: combine them",
        key="dx_same_spot",
        help="Photos of one spot often get different answers; their average is steadier.",
    )
    ui.keep(KEPT_INPUTS, "dx_same_spot")
    if not wanted:
        return None
    combined = engine.predictor.combine(assessed)
    return None if combined is None else warning_signs.with_signs(combined, signs)


def combined_result(
    engine: resources.Engine, combined: Prediction, analyses: list[Analysis]
) -> None:
    with st.container(border=True, key="dx_combined"):
        _diagnosis(combined, "###", SAME_SPOT)
        used = [a for a in analyses if a.prediction is not None and a.prediction.in_domain]
        st.caption(
            f"The average of the model's probabilities over the {counted(len(used), 'photo')} "
            "it could assess; its advice is never less cautious than any one photo's. "
            f"{same_spot_sentence(engine.skin_model.card.metrics)} Only combine photos of one "
            "spot: photos of different spots would blur their answers together."
        )
        photos = [(a.name, a.pixels) for a in used if a.pixels is not None]
        st.download_button(
            "Report of the combined result (PNG)",
            data=lambda: png.combined_report_png(photos, combined, model_name=engine.model_name),
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
        return f"{name} · {results.NOT_ANALYSED}"
    advice = results.short_advice(prediction)  # the words of the table's Advice column
    if not prediction.in_domain:
        # "Not assessed: …", or the advice of the person's warning signs after it
        return (
            f"{name} · {advice}"
            if prediction.advice is None
            else f"{name} · Not assessed · {advice}"
        )
    return f"{name} · {_answer(prediction)} · {advice}"


def _answer(prediction: Prediction) -> str:
    """The top diagnosis and its probability in the batch table's words."""
    return results.answer(prediction.label_name, prediction.probabilities[prediction.label])


def result(engine: resources.Engine, analysis: Analysis, index: int, batch: bool) -> None:
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
        for warning in prediction.notes if prediction.in_domain else ():  # else: why no answer
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
            if prediction.refusal is None:  # a refused photo's scores are known to mislead
                with st.expander("The model's scores anyway (not a diagnosis)"):
                    _chart(prediction)
            return
        _saliency(engine, analysis, prediction, index, batch)
        st.markdown("**All seven diagnoses**")
        _chart(prediction)


def _saliency(
    engine: resources.Engine, analysis: Analysis, prediction: Prediction, index: int, batch: bool
) -> None:
    # In a batch, each photo's buttons name it: a screen reader's list of buttons read
    # "Explore this map" and "Report (PNG)" once per photo.
    name = ui.escape(_short_name(analysis.name))
    explore, report = (
        (f"Explore the map of {name}", f"Report of {name} (PNG)")
        if batch
        else ("Explore this map", "Report (PNG)")
    )
    st.markdown("**Where the model looked**")
    cam, actions = st.columns([1, 2], gap="medium")
    with actions:
        st.caption(
            "The heat map (Grad-CAM) marks the parts of the photo that most raised the score "
            f"for “{prediction.label_name}”: yellow is strongest, dark purple weakest. It shows "
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
        if st.button(explore, key=f"dx_explore_{index}", icon=":material/visibility:"):
            st.session_state[saliency_widgets.IMAGE] = {
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
            report,
            data=_report_maker(analysis, engine.model_name),
            file_name=f"skindx-report-{index + 1}.png",
            mime="image/png",
            key=f"dx_report_{index}",
            on_click="ignore",
            icon=":material/download:",
        )


def _short_name(name: str, limit: int = 32) -> str:
    """A file name short enough for a button on a phone, its start and its end kept (photos
    of one batch often differ only in their last digits)."""
    half = (limit - 1) // 2
    return name if len(name) <= limit else f"{name[:half]}…{name[-half:]}"


def _diagnosis(prediction: Prediction, heading: str, title: str = "Most likely") -> None:
    """The top diagnosis as a heading (``heading``: its markdown level, under the page's title
    or under "Results"), the advice and the cancer-type total."""
    label = prediction.label
    st.markdown(f"{heading} {title}: {_answer(prediction)}")
    caption = BY_CODE[label].description
    if prediction.probabilities[label] < 0.5:
        caption += " The model is unsure: even its top answer has less than an even chance."
    st.caption(caption)
    CONCERN_BOX[prediction.concern](prediction.concern_message)
    malignant = prediction.malignant_probability
    st.markdown(
        f"Cancer types together: **{probability(malignant)}** · "
        f"non-cancer types: **{probability(1 - malignant)}**"
    )
    st.caption(f"Cancer types the model knows: {MALIGNANT_NAMES}.")
    if prediction.context_used:
        st.caption("Age, sex and body site were taken into account.")
    if prediction.signs:
        st.caption("The warning signs you ticked were taken into account.")


def _out_of_domain(prediction: Prediction) -> None:
    if prediction.refusal:
        st.warning(prediction.concern_message, icon=":material/help:")
        return
    st.warning(
        "**This does not look like a close-up skin-lesion photo**, so the model gives no "
        "diagnosis for it. If a spot on your skin worries you, see a doctor.",
        icon=":material/help:",
    )
    st.caption(
        "This means the picture is unlike the dermoscopy images the model learnt from. It "
        "happens with ordinary phone photos, and also with some genuine dermoscopy images from "
        "other clinics and cameras: it says nothing about whether the spot is harmless. A "
        "sharper, closer photo in even light (see the tips above) sometimes helps."
    )


def _chart(prediction: Prediction) -> None:
    st.html(probability_bars_html(prediction, dark=ui.dark()))
    st.caption(
        "Calibrated probabilities of the seven diagnoses the model knows (top three in blue). "
        "They add up to 100% even when the true answer is none of them. "
        f"{results.LIMITS_SHORT} See “What this check cannot do” above."
    )


# Name, bar and figure in a row; the name wraps on a phone and the figures line up.
_BARS_STYLE = (
    "list-style:none;margin:0;padding:0;display:grid;row-gap:.45rem;"
    "grid-template-columns:fit-content(40%) minmax(4rem,1fr) 3.2rem;column-gap:.6rem;"
    "align-items:center"
)
# Each item a grid on the list's columns (subgrid): display:contents would drop the items from
# some browsers' accessibility trees.
_ROW_STYLE = "display:grid;grid-column:1/-1;grid-template-columns:subgrid;align-items:center"
_TRACK_STYLE = "height:1.1rem;background:{};border-radius:3px;overflow:hidden"
_VALUE_STYLE = "text-align:right;font-variant-numeric:tabular-nums"


def probability_bars_html(prediction: Prediction, highlight: int = 3, dark: bool = False) -> str:
    """All seven calibrated probabilities as a bar list, likeliest first, the top
    ``highlight`` bars in colour (as the PNG report draws them). Plain HTML rather than a
    plotly chart: the page needs no chart library (plotly's script is 4.7 MB, which a phone
    downloaded and compiled for seven bars), and screen readers read each name with its
    figure, as one list item. In the dark theme's colours when ``dark``."""
    rows = []
    track = _TRACK_STYLE.format(themes.colour(themes.TRACK, dark))
    for rank, (code, value) in enumerate(prediction.top_k(len(prediction.probabilities))):
        colour = themes.colour(themes.HIGHLIGHT if rank < highlight else themes.MUTED, dark)
        width = f"{100 * value:.1f}%" if value >= 0.005 else "1px"  # a sliver, never nothing
        rows.append(
            f"<li data-code='{code}' data-value='{float(value)!r}' style='{_ROW_STYLE}'>"
            f"<span>{html.escape(diagnosis_label(code))}</span>"
            f"<span aria-hidden='true' style='{track}'>"
            f"<span style='display:block;height:100%;width:{width};background:{colour}'>"
            f"</span></span><span style='{_VALUE_STYLE}'>{html.escape(probability(value))}</span>"
            "</li>"
        )
    return (
        f"<ul class='skindx-probabilities' aria-label='All seven diagnoses, likeliest first' "
        f"style='{_BARS_STYLE}'>{''.join(rows)}</ul>"
    )


def _report_maker(analysis: Analysis, model_name: str):
    def make() -> bytes:
        assert analysis.prediction is not None and analysis.pixels is not None
        return png.report_png(
            analysis.pixels,
            analysis.prediction,
            analysis.overlay,
            file_name=analysis.name,
            model_name=model_name,
        )

    return make
