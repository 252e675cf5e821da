"""Explanations: the ``Explainer`` with the Grad-CAM family in one compiled pass (tf-keras-vis
kept as the reference the tests compare against), SmoothGrad, overlays and the faithfulness
check. Explanation never draws on a page; it returns heat maps.
"""

from skindx.explain.explainer import (
    Explainer,
    Faithfulness,
    Saliency,
    colorize,
    layer_label,
    overlay,
)

__all__ = ["Explainer", "Faithfulness", "Saliency", "colorize", "layer_label", "overlay"]
