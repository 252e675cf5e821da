"""Validation balanced accuracy of a trained model run at other input sizes, no retraining.

    python docs/training_logs/input_size_check.py --model models/default --sizes 128,144,160,176 \\
        --images ../shared/data/ham10000/images \\
        --metadata ../shared/data/ham10000/HAM10000_metadata.csv

The graph is rebuilt with a different input shape and the same weights (the VGGs end in global
pooling, so any size runs). Zoom augmentation shows training lesions larger than they are, so
a somewhat larger test size can match what the network learnt ("FixRes", Touvron et al.,
NeurIPS 2019). ``--average`` also scores the mean of the calibrated probabilities over all the
sizes (multi-scale test-time augmentation). Validation only: never point it at the test set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from skindx.datasets.labelled import card_validation_table, labelled_paths, load_arrays
from skindx.evaluation.evaluate import balanced_accuracy
from skindx.model.bundle import load_model
from skindx.model.calibration import calibrated_probabilities
from skindx.model.networks import import_keras
from skindx.training.finishing import logits_and_features


def at_size(model, size: int):
    """``model`` with a ``size``×``size`` input and the same weights."""
    keras = import_keras()
    config = json.loads(json.dumps(model.get_config()))
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_shape"] = [None, size, size, 3]
    resized = keras.Model.from_config(config)
    resized.set_weights(model.get_weights())
    return resized


def size_scores(skin_model, paths, labels, sizes: list[int]) -> dict[str, float]:
    """Balanced accuracy of ``skin_model`` at each size, and of the mean of its calibrated
    probabilities over all of them (key ``"mean"``)."""
    prep, temperature = skin_model.card.preprocessing, skin_model.card.temperature
    scores, probabilities = {}, []
    for size in sizes:
        x = load_arrays(
            paths, size, bool(prep.get("color_constancy")), bool(prep.get("hair_removal"))
        )
        logits, _ = logits_and_features(at_size(skin_model.model, size), x)
        scores[f"{size} px"] = balanced_accuracy(labels, logits.argmax(axis=1))
        probabilities.append(calibrated_probabilities(logits, temperature))
    scores["mean"] = balanced_accuracy(labels, np.mean(probabilities, axis=0).argmax(axis=1))
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--sizes", default="128,144,160")
    parser.add_argument("--images", required=True)
    parser.add_argument("--metadata", required=True)
    parser.add_argument("--average", action="store_true", help="also score the sizes' mean")
    args = parser.parse_args()
    skin_model = load_model(args.model)
    validation = card_validation_table(skin_model.card.training, args.metadata)
    paths, labels = labelled_paths(validation, args.images)
    scores = size_scores(skin_model, paths, labels, [int(s) for s in args.sizes.split(",")])
    if not args.average:
        del scores["mean"]
    for name, score in scores.items():
        name = f"mean over {args.sizes} px" if name == "mean" else name
        print(f"{name}: validation balanced accuracy {score:.4f} ({len(labels)} images)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
