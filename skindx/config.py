"""One settings object, with ``SKINDX_*`` environment overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent
DEFAULT_MODEL_DIR = PROJECT_ROOT / "models" / "default"
CONTENT_DIR = PROJECT_ROOT / "content"
STATS_SUMMARY_PATH = CONTENT_DIR / "stats_summary.json"  # `skindx stats summarize` output


@dataclass(frozen=True)
class Settings:
    """Runtime settings. Build with :func:`settings` to pick up the environment."""

    model_dir: Path | None = None
    max_upload_mb: int = 10
    max_pixels: int = 40_000_000
    examples_dir: Path | None = None
    # Memory one decode may use (Pillow's buffers + the RGB result), estimated from the header:
    # a tiny file can declare 40 megapixels, so the stored size alone does not bound memory.
    decode_budget_mb: int = 320
    # Uploads decoded or run through the model at once; with the budget, this bounds a
    # server's memory by about heavy_slots × decode_budget_mb however many sessions upload.
    heavy_slots: int = 2

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def decode_budget_bytes(self) -> int:
        return self.decode_budget_mb * 1024 * 1024


def settings() -> Settings:
    """Settings from the environment (read on each call so tests can monkeypatch it)."""
    env = os.environ
    model = env.get("SKINDX_MODEL")
    examples = env.get("SKINDX_EXAMPLES_DIR")
    return Settings(
        model_dir=Path(model) if model else None,
        max_upload_mb=int(env.get("SKINDX_MAX_UPLOAD_MB", "10")),
        max_pixels=int(env.get("SKINDX_MAX_PIXELS", "40000000")),
        examples_dir=Path(examples) if examples else None,
        decode_budget_mb=int(env.get("SKINDX_DECODE_BUDGET_MB", "320")),
        heavy_slots=max(1, int(env.get("SKINDX_HEAVY_SLOTS", "2"))),
    )
