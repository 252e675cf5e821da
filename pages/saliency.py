"""Saliency explorer: compare CAM methods, classes and layers on one image, with a measured
faithfulness figure next to each map. Layout only; the maps come from ``skindx.explain.explainer``.

The image arrives from the Diagnose page through this session's state (never a file or a URL),
is uploaded here, or is one of the real ISIC images with a known diagnosis that the person
running the app put in ``SKINDX_EXAMPLES_DIR``; maps are kept in this session only. With that
folder, the page also shows the labelled lesions most similar to the image
(skindx.diagnosis.similar).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import streamlit as st

from skindx.config import settings
from skindx.diagnosis.similar import vote
from skindx.explain.explainer import COLORMAPS, METHODS, Faithfulness, layer_label, overlay
from skindx.images.loading import ImageRejected
from skindx.reports.results import diagnosis_label
from skindx.teaching.lessons import ExampleImage, examples_dir, in_class_order
from streamlit_app import resources, ui

IMAGE = "sal_image"  # {"id", "name", "pixels", …} from the Diagnose page, an upload or an example
CURRENT = "sal_current"
UPLOAD_SEEN = "sal_upload_seen"
EXAMPLE_SEEN = "sal_example_seen"
EXAMPLES_PER_CLASS = 5
MAPS = "sal_maps"
MAX_MAPS = 8
COMPARE = ("Off", "Two methods", "Two classes")
PER_IMAGE_KEYS = ("sal_target", "sal_target_b")
WHAT_IT_SHOWS = (
    "A saliency map shows which parts of this image most raised the model's score for the "
    "chosen class, as seen from the chosen layer; it is a view of the model's evidence, not "
    "of the lesion's biology. It does not show why those pixels matter, whether the model is "
    "right, or where the lesion's border is, and a bright patch on a ruler, a hair or the "
    "dark corner of a dermoscope is a warning sign, not an explanation."
)
SIMILAR_SHOWN = 6
SIMILAR_HELP = (
    "Content-based image retrieval (Tschandl et al., Br J Dermatol 2019): the labelled images "
    "whose features, as the network's last layer before its answer sees them, lie nearest to "
    "this one. Dermatologists can check a diagnosis against similar cases they can see."
)
FAITHFULNESS_HELP = (
    "How the class probability changes when the 20% most salient pixels are blurred away, "
    "against blurring the same share of random pixels. A map that points at what the model "
    "really uses makes the probability fall clearly further than random blurring does (a green "
    "arrow); a red one means the map is no better than chance for this image."
)


def _image(engine: resources.Engine) -> dict | None:
    upload = st.file_uploader(
        "Upload a dermoscopic image",
        type=ui.image_types(),
        key="sal_upload",
        max_upload_size=settings().max_upload_mb,
        help="Or press “Explore this map” under a result on the Check a skin spot page.",
    )
    if upload is None:
        st.session_state.pop(UPLOAD_SEEN, None)
    else:
        # Each upload is read once: an image sent later from the Diagnose page then wins over
        # an upload that is still sitting in the uploader.
        problem = ui.once_per_upload(UPLOAD_SEEN, upload, _read)
        if problem is not None:
            st.error(problem, icon=":material/broken_image:")
    offered = _pick_example(engine)
    image = st.session_state.get(IMAGE)
    if image is None:
        example = ", pick an example" if offered else ""
        st.info(f"Upload an image{example}, or open one from the Check a skin spot page.")
        return None
    if st.session_state.get(CURRENT) != image["id"]:  # a new image: targets default again
        for key in PER_IMAGE_KEYS:
            st.session_state.pop(key, None)
        st.session_state[CURRENT] = image["id"]
    return image


def _read(upload) -> str | None:
    """Put an upload in this session's explorer image; the rejection message if it is unusable."""
    try:
        loaded = ui.working_copy(upload.getvalue())
    except ImageRejected as error:
        return str(error)
    st.session_state[IMAGE] = {
        "id": upload.file_id,
        "name": upload.name,
        "pixels": loaded.pixels,
        "notes": loaded.notes,
    }
    return None


def _pick_example(engine: resources.Engine) -> bool:
    """A real ISIC image with its known diagnosis, where the server has a folder of them: the
    maps then show where the model looks when it is right and when it is wrong. Whether any
    example is on offer."""
    choices = in_class_order(ui.examples(EXAMPLES_PER_CLASS, engine.card.training))
    if not choices:
        return False
    example = st.selectbox(
        "Or pick an ISIC image with a known diagnosis",
        choices,
        index=None,
        format_func=lambda e: e.caption,
        placeholder="Choose an example image",
        key="sal_example",
    )
    if example is None:
        st.session_state.pop(EXAMPLE_SEEN, None)
        return True
    # Read once, like an upload: an image sent later from the Diagnose page then wins.
    problem = ui.once(EXAMPLE_SEEN, example.path, lambda: _load_example(example))
    if problem is not None:
        st.error(problem, icon=":material/broken_image:")
    return True


def _load_example(example: ExampleImage) -> str | None:
    """Put an example in this session's explorer image; a message if it cannot be read."""
    try:
        loaded = ui.working_copy(example.path.read_bytes())
    except (OSError, ImageRejected):
        return f"The example image {example.path.name} could not be read."
    st.session_state[IMAGE] = {
        "id": f"example:{example.path}",
        "name": example.path.name,
        "pixels": loaded.pixels,
        "notes": loaded.notes,
        "truth": example,
    }
    return None


def _known_diagnosis(example: ExampleImage, label: str) -> None:
    agrees = "matches it" if example.code == label else "is different"
    st.markdown(
        f"Known diagnosis: **{diagnosis_label(example.code)}**; the model's top class {agrees}."
    )
    st.caption(f"From the example folder's metadata: {example.caption}. {_fairness(example)}")


def _fairness(example: ExampleImage) -> str:
    if example.held_out:
        return "The model did not train on this lesion (it is in its validation split)."
    return (
        "The folder's metadata does not show whether the model trained on this image; if it "
        "did, a match says little about how it does on new lesions."
    )


def _map(engine: resources.Engine, image: dict, method: str, target: str, layer: str):
    maps: dict = st.session_state.setdefault(MAPS, {})
    key = (image["id"], method, target, layer)
    if key not in maps:
        with st.spinner(f"Computing {METHODS[method]} for {diagnosis_label(target)}…"):
            saliency = engine.explain(image["pixels"], method, target, layer)
            maps[key] = (saliency, engine.faithfulness(image["pixels"], saliency))
        while len(maps) > MAX_MAPS:
            maps.pop(next(iter(maps)))
    return maps[key]


def _panel(engine, image, method, target, layer, alpha, colormap, slot: int, alone: bool) -> None:
    """One map: the overlay, then its faithfulness figure (beside it when it is alone)."""
    saliency, faithfulness = _map(engine, image, method, target, layer)
    blended = overlay(image["pixels"], saliency, alpha, colormap)
    where = "input pixels" if saliency.layer is None else layer_label(saliency.layer)
    picture, figures = st.columns([3, 2], gap="large") if alone else (st.container(),) * 2
    picture.image(
        blended,
        caption=f"{METHODS[method]} · why “{diagnosis_label(target)}” · {where}",
        width="stretch",
        alt=f"{METHODS[method]} saliency overlay for {diagnosis_label(target)}",
    )
    with figures:
        _figures(faithfulness, target)
        st.download_button(
            "Download overlay (PNG)",
            data=functools.partial(ui.png_bytes, blended),
            file_name=f"saliency-{method.replace('+', 'plus')}-{target}.png",
            mime="image/png",
            key=f"sal_download_{slot}",
            on_click="ignore",
            icon=":material/download:",
        )


def _figures(faithfulness: Faithfulness, target: str) -> None:
    # Shown as changes in probability (a fall is negative), so the sign reads as it sounds.
    change, random_change = -faithfulness.salient_drop, -faithfulness.random_drop
    share = f"{faithfulness.fraction:.0%}"
    beyond, colour = _against_random(change, random_change, share)
    st.metric(
        f"Faithfulness: blur the top {share} salient pixels",
        f"{_signed_points(change)} points",
        # In words, no arrow and no second sign: green means the map found pixels that matter
        # more than random ones (a faithful map), orange that it did not.
        delta=beyond,
        delta_color=colour,
        delta_arrow="off",
        help=FAITHFULNESS_HELP,
    )
    st.caption(
        f"Probability of {diagnosis_label(target)} {_change(change)} when the {share} most "
        f"salient pixels are blurred, and {_change(random_change)} when {share} random pixels are."
    )


def _against_random(change: float, random_change: float, share: str) -> tuple[str, str]:
    """The salient blur's effect beside the random blur's, in words, and its colour."""
    points = abs(100 * (change - random_change))
    if points < 0.05:
        return f"the same as blurring {share} random pixels", "gray"
    if change < random_change:
        return f"{points:.1f} points lower than blurring {share} random pixels", "green"
    return f"{points:.1f} points higher than blurring {share} random pixels", "orange"


def _signed_points(change: float) -> str:
    return f"{100 * change:+.1f}".replace("-", "−")


def _change(change: float) -> str:
    points = abs(100 * change)
    if points < 0.05:
        return "hardly changes"
    return f"{'falls' if change < 0 else 'rises'} by {points:.1f} points"


def _target_label(probabilities) -> Callable[[str], str]:
    # The probability first, so a narrow box cuts the name, never the number.
    def label(code: str) -> str:
        return f"{ui.percent(probabilities[code], 0)} · {diagnosis_label(code)}"

    return label


def main() -> None:
    st.title("Saliency explorer")
    ui.phone_layout()  # among others: a widget label (the class box's) may wrap, not be cut
    st.caption("For clinicians, educators and students: where does the model look, and why?")
    ui.disclaimer()
    st.markdown(WHAT_IT_SHOWS)
    engine = resources.engine()
    if engine is None:
        return
    image = _image(engine)
    if image is None:
        return
    if image.get("prediction") is None:  # once per image, not on every rerun
        outputs = engine.forward(image["pixels"])  # one pass: the prediction and the features
        image["prediction"], image["features"] = engine.postprocess(outputs), outputs[1][0]
    prediction = image["prediction"]
    classes = engine.classes
    ranked = [code for code, _ in prediction.top_k(len(classes))]
    label = _target_label(prediction.probabilities)
    st.markdown(
        f"**{ui.escape(image['name'])}**: the model's top class is "
        f"**{prediction.label_name}** ({ui.percent(prediction.probabilities[prediction.label])})."
    )
    if image.get("truth") is not None:
        _known_diagnosis(image["truth"], prediction.label)
    for note in image.get("notes", ()):
        st.caption(note)
    if not prediction.in_domain:
        st.warning(
            "This does not look like a close-up skin-lesion photo: the maps below explain "
            "scores the model would not stand behind.",
            icon=":material/help:",
        )

    methods = list(METHODS)
    layers = list(engine.explainer.layers)
    with st.container(border=True):
        first, second, third = st.columns([2, 3, 2])  # the class box widest: long names
        method = first.selectbox("Method", methods, format_func=METHODS.get, key="sal_method")
        target = second.selectbox(
            "Class to explain", ranked, format_func=label, key="sal_target", index=0
        )
        layer = third.selectbox(
            "Conv layer",
            layers,
            index=len(layers) - 1,
            format_func=layer_label,
            key="sal_layer",
            help="Deeper blocks see larger, more abstract patterns; block 1 sees edges. In an "
            "ensemble each member has its own layers, and the last block of all members together "
            "(the default) explains the whole ensemble at once. SmoothGrad works on the input "
            "pixels and ignores this.",
        )
        fourth, fifth = st.columns(2)
        alpha = fourth.slider("Opacity", 0.0, 1.0, 0.45, 0.05, key="sal_alpha")
        colormap = fifth.selectbox("Colour map", list(COLORMAPS), key="sal_colormap")
        compare = st.segmented_control(
            "Compare side by side", COMPARE, default=COMPARE[0], required=True, key="sal_compare"
        )
        panels = [(method, target)]
        if compare == "Two methods":
            other = [m for m in methods if m != method]
            method_b = st.selectbox(
                "Second method", other, format_func=METHODS.get, key="sal_method_b"
            )
            panels.append((method_b, target))
        elif compare == "Two classes":
            other = [c for c in ranked if c != target]
            target_b = st.selectbox(
                "Second class", other, format_func=label, key="sal_target_b", index=0
            )
            panels.append((method, target_b))

    alone = len(panels) == 1
    columns = [st.container()] if alone else st.columns(len(panels), gap="large")
    for slot, ((panel_method, panel_target), column) in enumerate(
        zip(panels, columns, strict=True)
    ):
        with column:
            _panel(engine, image, panel_method, panel_target, layer, alpha, colormap, slot, alone)
    _similar(engine, image)


def _similar(engine: resources.Engine, image: dict) -> None:
    """The most similar labelled lesions, where the server has a folder of them."""
    if examples_dir() is None:
        return
    st.header("Similar lesions")
    if not st.toggle(
        "Show the most similar lesions with known diagnoses", key="sal_similar", help=SIMILAR_HELP
    ):
        return
    gallery = resources.gallery(engine)
    if gallery is None:
        st.info("The example folder on this server holds too few readable labelled images.")
        return
    truth = image.get("truth")
    neighbours = gallery.nearest(image["features"], skip=truth.path if truth else None)
    counts = ", ".join(
        f"{n} × {diagnosis_label(code)}" for code, n in vote([x.example for x in neighbours])
    )
    st.markdown(f"Known diagnoses of the {len(neighbours)} most similar lesions: {counts}.")
    if not image["prediction"].in_domain:
        st.caption("This image is unlike the lesions the model learnt from, so even these are "
                   "only the least unlike it.")  # fmt: skip
    columns = st.columns(3)
    for k, neighbour in enumerate(neighbours[:SIMILAR_SHOWN]):
        example = neighbour.example
        columns[k % 3].image(
            str(example.path),  # a file on the server, never an upload
            caption=f"{example.caption} · similarity {neighbour.similarity:.2f}",
            width="stretch",
            alt=f"Similar lesion {example.path.stem}: {diagnosis_label(example.code)}",
        )
    figures = gallery.figures
    st.caption(
        "Similar as this model sees them, not necessarily as a dermatologist would. "
        f"On the {figures['n']} lesions of this server's gallery, the most common diagnosis "
        f"among each one's {figures['k']} most similar others was its own for "
        f"{ui.percent(figures['accuracy'], 0)} of them (balanced accuracy "
        f"{ui.percent(figures['balanced_accuracy'], 0)})."
    )


main()
