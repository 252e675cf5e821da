"""bfloat16 where the CPU computes it natively: which CPU flags say so, and serving in it.

A CPU with AMX (``amx_bf16``) or AVX-512 BF16 (``avx512_bf16``) runs bfloat16 convolutions
faster than float32; one without them emulates bfloat16 at 7-20x the cost (docs/benchmarks.md).
Training reads the flags through :mod:`skindx.training.precision`; the app and
``skindx predict``/``explain`` call :func:`serve_in_bfloat16` before they load a model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MODES = ("auto", "on", "off")
BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")
SERVING_ENV = "SKINDX_BFLOAT16"  # auto (default), on or off
REWRITE = "auto_mixed_precision_onednn_bfloat16"  # TensorFlow's grappler option


def cpu_bfloat16_flags(cpuinfo: str | None = None) -> list[str]:
    """The CPU flags among :data:`BFLOAT16_FLAGS` (from ``/proc/cpuinfo`` unless given)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux: no way to tell, so no claim
            return []
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    present = set(flags.partition(":")[2].split())
    return [flag for flag in BFLOAT16_FLAGS if flag in present]


def serving_choice(mode: str | None = None, cpuinfo: str | None = None) -> tuple[bool, str]:
    """``(bfloat16 or not, why)`` for ``mode`` (default: ``$SKINDX_BFLOAT16``, else auto)."""
    mode = (mode or os.environ.get(SERVING_ENV) or "auto").strip().lower()
    if mode not in MODES:
        raise ValueError(f"{SERVING_ENV} takes one of {', '.join(MODES)}. Received: {mode}")
    if mode != "auto":
        return mode == "on", f"{SERVING_ENV}={mode}"
    if flags := cpu_bfloat16_flags(cpuinfo):
        return True, f"auto: the CPU has {' and '.join(flags)}"
    return False, "auto: the CPU has no native bfloat16 (amx_bf16, avx512_bf16)"


def serve_in_bfloat16(mode: str | None = None) -> tuple[bool, str]:
    """Run the TensorFlow graphs this process compiles from now on (the Predictor's forward
    pass, which also scores Score-CAM's masked copies, and SmoothGrad's batch) in bfloat16
    where :func:`serving_choice` says so; returns that choice.

    TensorFlow's graph optimiser rewrites each graph's convolutions and matrix products to
    oneDNN's bfloat16 kernels (weights stay float32; softmax and reductions stay float32).
    The switch is process-wide and reaches only graphs first run after it, so it belongs at
    start-up, before a model is loaded; evaluation and training leave it off, so the model
    card's figures are float32 ones. Answers agree with float32 to within 0.02 in each
    probability. The explainer's gradients graphs (Grad-CAM, Grad-CAM++, LayerCAM and
    Score-CAM's maps) stay float32 (:func:`float32_graphs`), so every method's map stays
    within 0.15 of float32's per pixel (SmoothGrad 0.25), 0.05 at the 99th percentile
    (``tests/test_serving_precision.py``, docs/benchmarks.md).
    """
    bfloat16, why = serving_choice(mode)
    if bfloat16:
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.optimizer.set_experimental_options({REWRITE: True})
        else:
            return False, f"{why}, but only the TensorFlow backend serves in bfloat16"
    return bfloat16, why


@contextmanager
def float32_graphs() -> Iterator[None]:
    """A block whose TensorFlow graph calls, from this thread, run without the bfloat16
    rewrite of :func:`serve_in_bfloat16` (a no-op where it is off).

    ``tf.config.optimizer.set_experimental_options``, the one documented way to set the
    rewrite, sets it for the whole process: no option scopes it to a function. But each call
    of a compiled function carries its thread's optimiser config (TensorFlow's eager
    ``function_call_options``), and TensorFlow optimises a function once per config, so
    calls made here get a float32 copy of the graph (optimised on its first call here) while
    other calls and threads keep the bfloat16 one. This uses TensorFlow's internal eager
    context: ``tests/test_serving_precision.py`` checks it still takes effect.
    """
    if not _rewrite_on():
        yield
        return
    eager, switched = _float32_options()
    if switched is None:
        yield
        return
    before = eager.function_call_options
    eager.function_call_options = switched
    try:
        yield
    finally:
        eager.function_call_options = before


_UNAVAILABLE = (None, None)
_switched: dict[tuple[str | None, bytes], Any] = {}  # a thread's options → them, rewrite off


def _float32_options() -> tuple[Any, Any]:
    """The eager context and this thread's call options with the rewrite off, built once per
    distinct options (one, in practice) rather than on every explain call; ``(None, None)``
    where TensorFlow's internals have moved."""
    try:
        from tensorflow.python.eager import context

        eager = context.context()
        before = eager.function_call_options
        key = (before.executor_type, before.config_proto_serialized)
        if key not in _switched:
            from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2

            config = config_pb2.ConfigProto.FromString(before.config_proto_serialized)
            off = rewriter_config_pb2.RewriterConfig.OFF
            setattr(config.graph_options.rewrite_options, REWRITE, off)
            # Two threads racing here build equal options; none is ever changed once made.
            _switched[key] = context.FunctionCallOptions(before.executor_type, config)
    except (ImportError, AttributeError):  # internals moved in another TensorFlow: the maps
        return _UNAVAILABLE  # come in bfloat16, as before this block existed, not a failure
    return eager, _switched[key]


def _rewrite_on() -> bool:
    """Whether the bfloat16 rewrite is on, without importing TensorFlow where nothing has."""
    if "tensorflow" not in sys.modules:
        return False
    import tensorflow as tf

    return bool(tf.config.optimizer.get_experimental_options().get(REWRITE))
