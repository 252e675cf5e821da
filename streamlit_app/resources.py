"""The model, predictor and explainer: loaded once per process and shared by every session.

``st.cache_resource`` keys the bundle by the resolved model directory and the modification
times of its files, so reruns never reload the model while a retrained model in the same
directory is picked up on the next run. Loading failures are not cached: the page shows a
plain message and the next run tries again.

Sharing is safe: :class:`~skindx.diagnosis.predict.Predictor`
runs a fixed-signature graph that is traced
here once, at load time, and never edits the model. Saliency runs under a lock, because
tf-keras-vis builds per-method state (and Score-CAM calls ``Model.predict``) lazily.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from skindx.datasets.examples import examples_dir
from skindx.diagnosis.similar import Gallery, gallery_from_folder
from skindx.model.bundle import MODEL_FILE, OOD_FILE, check_model_dir, resolve_model_dir
from skindx.model.card import CARD_FILE, ModelCard
from skindx.model.networks import ModelLoadError
from skindx.teaching.figures import load_model_card

MODEL_MISSING = (
    "The diagnosis model is not available on this server at the moment, so photos cannot be "
    "analysed. Please try again later."
)
CARD_MISSING = "The model card is not available on this server at the moment."
LOG_HINT = "The person running this app can find the reason in the server log."
CARD_FIX = (
    ". Set SKINDX_MODEL to a model directory written by `skindx train`, or restore "
    "models/default from the repository."
)

logger = logging.getLogger(__name__)
_logged: set[tuple] = set()  # (what, directory, stamp, error) already logged
_logged_lock = threading.Lock()


@dataclass
class Engine:
    """One loaded model with its predictor and explainer (shared, never mutated)."""

    skin_model: Any
    predictor: Any
    explainer: Any
    _saliency_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _in_flight: int = field(default=0, repr=False)
    _idle: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def card(self) -> ModelCard:
        return self.skin_model.card

    @property
    def classes(self) -> list[str]:
        return self.skin_model.classes

    @property
    def model_name(self) -> str:
        return self.card.display_name

    @contextmanager
    def _serving(self) -> Iterator[None]:
        """Counts a visitor's call in flight, which the saliency warm-up waits out."""
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self) -> None:
        """Return once no visitor's diagnosis or map is being computed."""
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0)

    def predict(self, pixels: np.ndarray, context=None):
        with self._serving():
            return self.predictor.predict(pixels, context)

    def forward(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's outputs for one image, kept so a new context needs no second pass."""
        with self._serving():
            return self.predictor.forward(self.predictor.preprocess(pixels))

    def postprocess(self, outputs: tuple[np.ndarray, np.ndarray], context=None):
        """The prediction from :meth:`forward`'s outputs and an optional context."""
        return self.predictor.postprocess(*outputs, None if context is None else [context])[0]

    def explain(self, pixels: np.ndarray, method: str = "gradcam", target=None, layer=None):
        with self._serving(), self._saliency_lock:
            return self.explainer.explain(pixels, method=method, target=target, layer=layer)

    def faithfulness(self, pixels: np.ndarray, saliency):
        with self._serving():
            return self.explainer.faithfulness(pixels, saliency)


def model_dir() -> Path:
    """The directory the app uses: ``SKINDX_MODEL`` or the shipped default, resolved."""
    return resolve_model_dir(None).resolve()


def _stamp(directory: Path) -> tuple[int, ...]:
    stamps = []
    for name in (MODEL_FILE, CARD_FILE, OOD_FILE):
        try:
            stamps.append((directory / name).stat().st_mtime_ns)
        except OSError:
            stamps.append(0)
    return tuple(stamps)


@st.cache_resource(show_spinner="Loading the model…", max_entries=2)
def load_engine(directory: str, stamp: tuple[int, ...] = ()) -> Engine:
    """Load and warm up one model bundle (``stamp`` only makes a changed model a new entry)."""
    from skindx.diagnosis.predict import Predictor
    from skindx.explain.explainer import Explainer
    from skindx.model.bundle import load_model
    from skindx.model.precision import serve_in_bfloat16

    serve_in_bfloat16()  # where the CPU has it natively (SKINDX_BFLOAT16 decides otherwise)
    _keep_kernel_cache()
    skin_model = load_model(directory)
    predictor = Predictor(skin_model)
    explainer = Explainer(skin_model, predictor)
    blank = np.full((skin_model.input_size, skin_model.input_size, 3), 128, np.uint8)
    predictor.predict(blank)  # trace the graph now, not on the first upload
    explainer.explain(blank, "gradcam")
    _freeze_long_lived()
    return Engine(skin_model, predictor, explainer)


def _keep_kernel_cache() -> None:
    """Make ``keras.backend.clear_session`` a no-op in this process.

    Streamlit calls it after every script run (``_clean_problem_modules``), for apps that build
    Keras models as they run. This app builds none (its model loads once per process), but the
    call empties TensorFlow's kernel cache: the next run's forward pass and each Grad-CAM graph
    were instantiated and optimised again on every upload, click and new session (the
    before/after figures: ``benchmarks/app_latency.py``, in docs/benchmarks.md). Only the
    public name is replaced, the one Streamlit calls; Keras's own code calls its internal
    function.
    """
    import keras

    keras.backend.clear_session = _session_kept


def _session_kept(free_memory: bool = True) -> None:
    """``keras.backend.clear_session`` in the app: nothing (:func:`_keep_kernel_cache`)."""


def _freeze_long_lived() -> None:
    """Move everything alive now (TensorFlow, the model, its traced graphs: ~450,000 objects)
    out of the cyclic garbage collector's reach.

    Streamlit runs a full ``gc.collect`` after every script run (``runner.postScriptGC``),
    holding the GIL: over this heap that took 200–450 ms, during which the server answered
    no request, so the heat map and the buttons' scripts reached the browser that much after
    the diagnosis. Reference counting still frees a frozen object that is dropped; only
    cycles among them stay, which suits what lives as long as the process. What sessions
    create later is collected as before. Each load thaws the heap first, so the cycles of a
    model the cache has since dropped (a retrained model replacing it) are collected then."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def engine() -> Engine | None:
    """The shared engine, or ``None`` after showing a plain message (no traceback, no path).

    Any failure to load counts: a :class:`ModelLoadError` names the file and the fix, and
    anything else a damaged directory might still raise (in the predictor's or explainer's
    warm-up) is logged with its traceback."""
    try:
        directory = model_dir()
        return load_engine(str(directory), _stamp(directory))
    except Exception as error:  # Streamlit's rerun and stop are BaseExceptions, not caught
        _log_load_error("model", error)
        _model_missing()
        return None


@st.cache_resource(show_spinner=False, max_entries=2)
def _checked_card(directory: str, stamp: tuple[int, ...] = ()) -> ModelCard:
    return check_model_dir(directory)


def checked_card() -> ModelCard | None:
    """The model's card once its directory passes every check that needs no TensorFlow
    (:func:`~skindx.model.bundle.check_model_dir`), or ``None`` after the plain message.

    A page opens with this while the model itself loads in the background (:func:`warm_up`),
    so a visitor never waits for TensorFlow before the page is there."""
    try:
        directory = model_dir()
        return _checked_card(str(directory), _stamp(directory))
    except Exception as error:  # as in engine(): every failure gets the plain message
        _log_load_error("model", error)
        _model_missing()
        return None


@st.cache_resource(show_spinner="Reading the example images once for this server…", max_entries=2)
def _gallery(directory: str, model: str, stamp: tuple[int, ...], _engine: Engine) -> Gallery | None:
    """The similar-lesions gallery for one examples folder and one model (``model`` and
    ``stamp`` key it to the model's files, as :func:`load_engine` is)."""
    try:
        predictor = _Counted(_engine.predictor)  # counts images read, for warm_up's progress
        return gallery_from_folder(predictor, Path(directory), _engine.card.training)
    except ValueError:  # fewer than two readable images
        return None


def gallery(engine: Engine) -> Gallery | None:
    """Labelled images to find similar lesions in, where ``SKINDX_EXAMPLES_DIR`` names a
    folder of them (else ``None``); built once per server and model."""
    directory = examples_dir()
    if directory is None:
        return None
    model = model_dir()
    return _gallery(str(directory), str(model), _stamp(model), engine)


class _Counted:
    """A predictor that counts the images it preprocesses into :data:`WARM_UP`."""

    def __init__(self, predictor: Any) -> None:
        self._predictor = predictor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._predictor, name)

    def preprocess(self, image: Any) -> np.ndarray:
        WARM_UP.images_read += 1
        return self._predictor.preprocess(image)


@dataclass
class WarmUp:
    """What the background warm-up is doing: ``stage`` is "waiting", "model", "gallery",
    "saliency", "ready" or "failed"; ``images_read`` counts the gallery's example images so
    far."""

    stage: str = "waiting"
    images_read: int = 0


WARM_UP = WarmUp()
_WARM_THREAD = "skindx-warm-up"
_warm_started = threading.Event()
_warm_lock = threading.Lock()


def warm_up() -> WarmUp:
    """Load the model, then the similar-lesions gallery, into the shared caches in a background
    thread, once per process (the entry script runs per session; this starts on the first),
    then build the Saliency explorer's graphs.

    The first person to open a page then finds the model loading or loaded instead of waiting
    for it alone; a session that needs it meanwhile waits on the same cache entry (Streamlit
    computes one value per key). The saliency graphs come last, one at a time, each once no
    diagnosis or map is in flight (:meth:`Engine.wait_idle`): each network's gradients graph
    cost a clinician 0.6-1.4 s on first use, and costs the server about 0.1 GB from the start
    (docs/benchmarks.md).
    Returns the shared :class:`WarmUp` status.
    """
    with _warm_lock:
        if not _warm_started.is_set():
            _warm_started.set()
            threading.Thread(target=_warm, name=_WARM_THREAD, daemon=True).start()
    return WARM_UP


class _OutsideScriptFilter(logging.Filter):
    """Drops Streamlit's "missing ScriptRunContext" warnings from the warm-up thread, which
    calls cached functions outside any session on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != _WARM_THREAD


def _warm() -> None:
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        _OutsideScriptFilter()
    )
    try:
        WARM_UP.stage = "model"
        directory = model_dir()
        loaded = load_engine(str(directory), _stamp(directory))
        if examples_dir() is not None:
            WARM_UP.stage = "gallery"
            gallery(loaded)
        WARM_UP.stage = "saliency"
        for _, step in loaded.explainer.warm_up_steps():
            loaded.wait_idle()  # a visitor's diagnosis goes first; a step takes 0.1-2 s
            step()
        _freeze_long_lived()  # the traced graphs too, out of Streamlit's full collections
        WARM_UP.stage = "ready"
    except Exception:  # the pages load it again and show the error in words
        WARM_UP.stage = "failed"


def _model_missing(message: str = MODEL_MISSING) -> None:
    """The plain message a visitor sees: never a path, an error type or a traceback (those
    go to the server log, see :func:`_log_load_error`)."""
    st.error(message, icon=":material/cloud_off:")
    st.caption(LOG_HINT)


def _log_load_error(what: str, error: Exception, fix: str = "") -> None:
    """Log why the model (or its card) is unavailable, once per model directory state.

    Only server facts are logged (the directory, the error), never anything from a session.
    A :class:`ModelLoadError` is logged by its message, which names the file and the fix,
    with its cause; anything unexpected with its traceback."""
    try:
        where: Path | str = model_dir()
        key: tuple | None = (what, str(where), _stamp(Path(where)), repr(error))
    except Exception:  # SKINDX_MODEL itself unusable: log every time rather than never
        where, key = "SKINDX_MODEL", None
    if key is not None:
        with _logged_lock:
            if key in _logged:
                return
            _logged.add(key)
    if isinstance(error, ModelLoadError | OSError | ValueError | TypeError):
        cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        because = f" (cause: {type(cause).__name__}: {cause})" if cause is not None else ""
        logger.error("The %s in %s is not available: %s%s%s", what, where, error, because, fix)
    else:
        logger.error("The %s in %s is not available%s", what, where, fix, exc_info=error)


def card_json() -> dict[str, Any] | None:
    """The model card's JSON object for pages that only quote from it (the lessons), or
    ``None``, quietly, when it is missing or not a valid card: they then say the figure is
    not available, and the pages that need the model say why."""
    raw = load_model_card()
    try:
        ModelCard.from_dict(raw)
    except (ValueError, TypeError):
        return None
    return raw


def card() -> tuple[ModelCard, dict[str, Any]] | None:
    """The model card (and its raw JSON) without loading the model, or ``None`` + a message."""
    try:
        path = model_dir() / CARD_FILE
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ModelCard.from_dict(raw), raw  # ValueError naming the field for a bad shape
    except Exception as error:
        _log_load_error(f"model card {CARD_FILE}", error, CARD_FIX)
        _model_missing(CARD_MISSING)
        return None
