"""Whether to train in bfloat16: ``skindx train --mixed-precision auto`` (the default).

bfloat16 pays where the hardware computes it natively: a CUDA GPU, or a CPU with AMX
(``amx_bf16``) or AVX-512 BF16 (``avx512_bf16``; ``benchmarks/transfer_speed.py`` measures the
gain on a given machine). Elsewhere (AVX2 only) it is emulated and 7-20x slower
than float32 (docs/benchmarks.md), so ``auto`` keeps float32 there. ``auto`` applies to the
torch engine (and the transfer recipe's torch loop), whose speed in both precisions that
script measures; the Keras loop stays in float32 unless asked (``--mixed-precision on``).
"""

from __future__ import annotations

from skindx.model.precision import BFLOAT16_FLAGS, MODES, cpu_bfloat16_flags

__all__ = ["BFLOAT16_FLAGS", "MODES", "cpu_bfloat16_flags", "resolve"]


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def resolve(mode: str, engine: str, cpuinfo: str | None = None) -> tuple[bool, str]:
    """``(bfloat16 or not, why)`` for a ``--mixed-precision`` mode and training engine.

    Raises:
        ValueError: ``mode`` is not one of :data:`MODES`.
    """
    if mode not in MODES:
        raise ValueError(f"--mixed-precision takes one of {', '.join(MODES)}. Received: {mode}")
    if mode != "auto":
        return mode == "on", f"--mixed-precision {mode}"
    if engine != "torch":
        return False, "auto: the Keras loop trains in float32 unless asked"
    if _cuda():
        return True, "auto: a CUDA GPU"
    if flags := cpu_bfloat16_flags(cpuinfo):
        return True, f"auto: the CPU has {' and '.join(flags)}"
    return False, "auto: no GPU, and the CPU has no native bfloat16 (amx_bf16, avx512_bf16)"
