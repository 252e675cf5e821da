"""The Saliency explorer's widgets: the image to explain (sent from the Diagnose page, uploaded
or picked from the examples, kept in this session only), the session's map cache and the
faithfulness metric."""

from __future__ import annotations

import streamlit as st

from skindx.config import settings
from skindx.datasets.examples import ExampleImage, in_class_order
from skindx.explain.explainer import METHODS
from skindx.explain.faithfulness import Faithfulness
from skindx.images.loading import ImageRejected
from skindx.reports.results import diagnosis_label
from skindx.reports.saliency_view import FAITHFULNESS_HELP, faithfulness_words
from streamlit_app import resources, ui

IMAGE = "sal_image"  # {"id", "name", "pixels", …} from the Diagnose page, an upload or an example
UPLOADER = "sal_upload"
CURRENT = "sal_current"
UPLOAD_SEEN = "sal_upload_seen"
EXAMPLE_SEEN = "sal_example_seen"
RESULT = "sal_result"  # the container of the sentence naming the model's top class
RESULT_SHOWN = "sal_result_shown"  # the upload last focused on it
EXAMPLES_PER_CLASS = 5
MAPS = "sal_maps"
MAX_MAPS = 8
PER_IMAGE_KEYS = ("sal_target", "sal_target_b")


def image_input(engine: resources.Engine) -> dict | None:
    # Streamlit drops the uploader's state while the page is not shown: an empty uploader on
    # return is not the person removing their file.
    returning = UPLOADER not in st.session_state
    upload = st.file_uploader(
        "Upload a dermoscopic image",
        type=ui.image_types(),
        key=UPLOADER,
        max_upload_size=settings().max_upload_mb,
        help="Or press “Explore this map” under a result on the Check a skin spot page.",
    )
    ui.shrink_photos_before_upload()
    if upload is None:
        seen = st.session_state.pop(UPLOAD_SEEN, None)
        if seen is not None and not returning:
            forget_images({seen[0]})
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


def focus_after_upload(image: dict) -> None:
    """After an upload, the keyboard focus, lost with the uploader's button (it gives way to
    the file's name), goes to the sentence naming the model's top class: a screen reader reads
    it and Tab goes on to the map's controls, where it went back to the page's top. Once per
    upload; an example or an image from the Diagnose page leaves the focus where it is."""
    seen = st.session_state.get(UPLOAD_SEEN)
    if seen is not None and seen[0] == image["id"]:
        ui.scroll_to(f".st-key-{RESULT} p", image["id"], key=RESULT_SHOWN, focus=True)


def class_box(label: str, classes: list[str], label_of, key: str) -> str:
    """A box of ``classes`` (most probable first, written by ``label_of``) that a new image
    starts at its first class. It starts there through session state, which Streamlit also
    sends to the browser: dropped from the state alone, the value went back to the first class
    while the box kept showing the last image's choice ("43% · Melanoma" over a map of why
    "Melanocytic nevus")."""
    st.session_state.setdefault(key, classes[0])
    return st.selectbox(label, classes, format_func=label_of, key=key)


def forget_images(ids: set[str]) -> None:
    """Drop the explorer's copy of these images and their maps: a photo the person removed
    from an uploader, here or on the Diagnose page, must not stay behind in the explorer."""
    if (st.session_state.get(IMAGE) or {}).get("id") in ids:
        st.session_state.pop(IMAGE, None)
    maps = st.session_state.get(MAPS, {})
    for key in [key for key in maps if key[0] in ids]:
        del maps[key]


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


def saliency_map(engine: resources.Engine, image: dict, method: str, target: str, layer: str):
    """The map and its faithfulness, computed once per image, method, class and layer in this
    session (the last :data:`MAX_MAPS` kept)."""
    maps: dict = st.session_state.setdefault(MAPS, {})
    key = (image["id"], method, target, layer)
    if key not in maps:
        with st.spinner(f"Computing {METHODS[method]} for {diagnosis_label(target)}…"):
            saliency = engine.explain(image["pixels"], method, target, layer)
            maps[key] = (saliency, engine.faithfulness(image["pixels"], saliency))
        while len(maps) > MAX_MAPS:
            maps.pop(next(iter(maps)))
    return maps[key]


def faithfulness_metric(faithfulness: Faithfulness, target: str) -> None:
    words = faithfulness_words(faithfulness, target)
    st.metric(
        words.label,
        words.value,
        # In words, no arrow and no second sign: green means the map found pixels that matter
        # more than random ones (a faithful map), orange that it did not.
        delta=words.beyond,
        delta_color=words.colour,
        delta_arrow="off",
        help=FAITHFULNESS_HELP,
    )
    st.caption(words.caption)
