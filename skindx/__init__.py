"""skindx: skin-lesion diagnosis and teaching library (never imports streamlit)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_model"]

if TYPE_CHECKING:
    from skindx.model.bundle import SkinModel


def load_model(path: Any = None) -> SkinModel:
    """Load a model bundle; ``None`` means ``SKINDX_MODEL`` or the shipped default."""
    from skindx.model.bundle import load_model as _load

    return _load(path)
