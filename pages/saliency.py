"""Saliency explorer: compare CAM methods, classes and layers on one image, with a measured
faithfulness figure next to each map. Layout only; the maps come from ``skindx.explain.explainer``,
their words from ``skindx.reports.saliency_view``.

The image arrives from the Diagnose page through this session's state (never a file or a URL),
is uploaded here, or is one of the real ISIC images with a known diagnosis that the person
running the app put in ``SKINDX_EXAMPLES_DIR``; maps are kept in this session only. With that
folder, the page also shows the labelled lesions most similar to the image
(skindx.diagnosis.similar).
"""

from __future__ import annotations

import functools

import streamlit as st

from skindx.datasets.examples import examples_dir
from skindx.diagnosis.predict import with_photo_warnings
from skindx.explain.explainer import (
    METHODS,
    LayerGroup,
    layer_groups,
    short_layer_label,
    uses_layer,
)
from skindx.explain.overlay import COLORMAPS, legend, overlay
from skindx.images import quality
from skindx.reports import png, saliency_view
from streamlit_app import resources, saliency_widgets, ui

COMPARE = ("Off", "Two methods", "Two classes")
WIDE_PX = 1100  # the map and its faithfulness figure side by side from this width on
SIMILAR_SHOWN = 6


def _panel(engine, image, method, target, layer, alpha, colormap, slot: int, alone: bool) -> None:
    """One map: the overlay, then its faithfulness figure (beside it when it is alone)."""
    saliency, faithfulness = saliency_widgets.saliency_map(engine, image, method, target, layer)
    blended = overlay(image["pixels"], saliency, alpha, colormap)
    picture, figures = st.columns([3, 2], gap="large") if alone else (st.container(),) * 2
    with picture:
        # The map, its colour scale right under it, then what the map is.
        with st.container(gap=None):
            st.image(blended, width="stretch", alt=saliency_view.map_alt(method, target))
            _legend(colormap, alpha, image["pixels"])
        caption = saliency_view.map_caption(
            method, target, engine.explainer.layer_label(saliency.layer)
        )
        st.caption(caption, text_alignment="center")
    with figures:
        saliency_widgets.faithfulness_metric(faithfulness, target)
        st.download_button(
            "Download overlay (PNG)",
            data=functools.partial(
                png.overlay_png,
                blended,
                colormap,
                alpha=alpha,
                photo=image["pixels"],
                caption=f"{image['name']} · {caption}",
            ),
            file_name=saliency_view.overlay_file_name(method, target, saliency.layer),
            mime="image/png",
            key=f"sal_download_{slot}",
            on_click="ignore",
            icon=":material/download:",
        )


def _legend(colormap: str, alpha: float, photo) -> None:
    """The colour scale under a map: a thin strip of the overlay's own colours, at its opacity
    over the photo, its ends named (a horizontal row, so a phone keeps them at the strip's
    ends)."""
    strip = legend(colormap, height=16, alpha=alpha, photo=photo)
    st.image(strip, width="stretch", alt=saliency_view.legend_alt(colormap))
    weaker, stronger = saliency_view.LEGEND_ENDS
    with st.container(horizontal=True, horizontal_alignment="distribute", gap=None):
        st.caption(f"← {weaker}", width="content")
        st.caption(saliency_view.LEGEND_MIDDLE, width="content")
        st.caption(f"{stronger} →", width="content")


def _layer_boxes(
    engine: resources.Engine, groups: list[LayerGroup], method: str, network_column, layer_column
) -> str:
    """The conv layer to explain from: an ensemble's network first (``network_column``; None
    for a single network), then the layer within it, the deepest by default. Greyed out, with a
    note, while no map on the page uses a layer (SmoothGrad alone), keeping the choice for when
    a layer method returns."""
    # A second method is never the first, so comparing two methods always uses a layer.
    needed = uses_layer(method) or st.session_state.get("sal_compare") == "Two methods"
    group = groups[0]
    if network_column is not None:
        by_label = {group.label: group for group in groups}
        deepest = engine.explainer.default_layer  # an ensemble: all members' last blocks
        default = next(k for k, group in enumerate(groups) if deepest in group.layers)
        network = network_column.selectbox(
            "Network",
            list(by_label),
            index=default,
            key="sal_network",
            disabled=not needed,
            help=saliency_view.NETWORK_HELP,
        )
        group = by_label[network]
    layer = layer_column.selectbox(
        "Conv layer",
        group.layers,
        index=len(group.layers) - 1,
        # Streamlit keeps a value whose label is among the options: another member's layer
        # must not pass as this one's "block 2 conv 1", so it goes back to the deepest.
        format_func=lambda name: short_layer_label(name) if name in group.layers else name,
        key="sal_layer",
        disabled=not needed,
        help=saliency_view.LAYER_HELP,
    )
    if not needed:
        layer_column.caption(saliency_view.LAYERLESS)
    return layer


def main() -> None:
    st.title("Saliency explorer")
    ui.phone_layout()  # among others: a widget label (the class box's) may wrap, not be cut
    st.caption("For clinicians, educators and students: where does the model look, and why?")
    ui.disclaimer()
    st.markdown(saliency_view.WHAT_IT_SHOWS)
    engine = resources.engine()
    if engine is None:
        return
    image = saliency_widgets.image_input(engine)
    if image is None:
        return
    if image.get("prediction") is None:  # once per image, not on every rerun
        outputs = engine.forward(image["pixels"])  # one pass: the prediction and the features
        # black and white, too small: refused as Predictor.predict refuses it
        refusal = quality.refusal(image["pixels"])
        image["prediction"] = with_photo_warnings(engine.postprocess(outputs), (), refusal)
        image["features"] = outputs[1][0]
    prediction = image["prediction"]
    classes = engine.classes
    ranked = [code for code, _ in prediction.top_k(len(classes))]
    label = saliency_view.target_label(prediction.probabilities)
    with st.container(key=saliency_widgets.RESULT):
        st.markdown(saliency_view.top_class_sentence(ui.escape(image["name"]), prediction))
    saliency_widgets.focus_after_upload(image)
    if image.get("truth") is not None:
        st.markdown(saliency_view.known_diagnosis_sentence(image["truth"], prediction.label))
        st.caption(saliency_view.known_diagnosis_caption(image["truth"]))
    for note in image.get("notes", ()):
        st.caption(note)
    if not prediction.in_domain:
        why = prediction.refusal or "This does not look like a close-up skin-lesion photo:"
        st.warning(f"{why} {saliency_view.UNTRUSTED_MAPS}", icon=":material/help:")

    methods = list(METHODS)
    with st.container(border=True):
        # Two to a row, the class box alone: at a tablet's width beside the sidebar, three
        # boxes in a row cut the class and layer names.
        first, second = st.columns(2)
        method = first.selectbox(
            "Method",
            methods,
            format_func=METHODS.get,
            key="sal_method",
            help=saliency_view.METHOD_HELP,
        )
        groups = layer_groups(engine.explainer.layers, engine.explainer.members)
        if len(groups) > 1:  # Method | Network, Conv layer | Colour map, the class, the opacity
            layer_column, colour_column = st.columns(2)
            layer = _layer_boxes(engine, groups, method, second, layer_column)
        else:  # Method | Conv layer, the class, Opacity | Colour map
            layer, colour_column = _layer_boxes(engine, groups, method, None, second), None
        target = saliency_widgets.class_box("Class to explain", ranked, label, "sal_target")
        opacity_column, colour_column = (
            (st.container(), colour_column) if colour_column else st.columns(2)
        )
        alpha = opacity_column.slider("Opacity", 0.0, 1.0, 0.45, 0.05, key="sal_alpha")
        colormap = colour_column.selectbox("Colour map", list(COLORMAPS), key="sal_colormap")
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
            target_b = saliency_widgets.class_box("Second class", other, label, "sal_target_b")
            panels.append((method, target_b))

    alone = len(panels) == 1
    with st.container(key="sal_maps"):
        columns = [st.container()] if alone else st.columns(len(panels), gap="large")
    # on a tablet, two maps side by side, or one beside its figure, cut the figures
    ui.stack_below("sal_maps", WIDE_PX)
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
        "Show the most similar lesions with known diagnoses",
        key="sal_similar",
        help=saliency_view.SIMILAR_HELP,
    ):
        return
    gallery = resources.gallery(engine)
    if gallery is None:
        st.info("The example folder on this server holds too few readable labelled images.")
        return
    truth = image.get("truth")
    neighbours = gallery.nearest(image["features"], skip=truth.path if truth else None)
    st.markdown(saliency_view.neighbours_sentence(neighbours))
    if not image["prediction"].in_domain:
        st.caption("This image is unlike the lesions the model learnt from, so even these are "
                   "only the least unlike it.")  # fmt: skip
    shown = neighbours[:SIMILAR_SHOWN]
    # A row of three at a time: a phone stacks each row's columns, so it too reads the most
    # similar first (one set of columns stacked 1st, 4th, 2nd, 5th…).
    for start in range(0, len(shown), 3):
        for column, neighbour in zip(st.columns(3), shown[start : start + 3], strict=False):
            column.image(
                str(neighbour.example.path),  # a file on the server, never an upload
                caption=saliency_view.neighbour_caption(neighbour),
                width="stretch",
                alt=saliency_view.neighbour_alt(neighbour.example),
            )
    st.caption(saliency_view.gallery_caption(gallery.figures))


main()
