"""Explanations: the ``Explainer`` (explainer.py) over the Grad-CAM family's compiled one-pass
graphs, Score-CAM and SmoothGrad (cams.py; tf-keras-vis kept as the reference the tests compare
against), the faithfulness check (faithfulness.py) and overlays with their colour scale
(overlay.py). Explanation never draws on a page; it returns heat maps, and only overlay.py turns
them into pictures.
"""

from skindx.explain.explainer import Explainer, Saliency, layer_label
from skindx.explain.faithfulness import Faithfulness
from skindx.explain.overlay import colorize, legend, overlay

__all__ = ["Explainer", "Faithfulness", "Saliency", "colorize", "layer_label", "legend", "overlay"]
