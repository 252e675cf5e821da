"""Re-balance a trained model's last layer without retraining its convolutions.

    python docs/training_logs/classifier_retrain.py --model models/default \\
        --images ../shared/data/ham10000/images \\
        --metadata ../shared/data/ham10000/HAM10000_metadata.csv [--out DIR]

"Decoupling representation and classifier for long-tailed recognition" (Kang et al., ICLR
2020) found that a network trained on imbalanced data learns good features but a biased last
layer, and that two cheap fixes recover much of what balanced accuracy loses:

- tau-normalisation: each class's weight vector divided by its norm to the power tau (in
  their experiments rare classes ended training with smaller norms), no training at all;
- classifier re-training (cRT): the last layer fitted again on the frozen features of the
  training split, every class weighted equally. Here a multinomial logistic regression
  (scikit-learn) on the penultimate features of the training images, as they are plus
  ``--passes`` randomly rotated, mirrored and zoomed copies (the training loop's geometry).

Each candidate is scored on the validation split with its temperature fitted again, and on
the training features it was fitted on (the gap between the two shows how far the frozen
features of seen images flatter a layer fitted on them). With
``--out``, the best candidate's last layer is written into a copy of the model, which is then
finished on validation like any trained model (temperature, out-of-domain reference, triage
thresholds, flip-TTA choice, age/sex/site context). Validation only: never point it at the
test set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from skindx.evaluation.evaluate import balanced_accuracy, expected_calibration_error
from skindx.model.bundle import load_model
from skindx.model.calibration import calibrated_probabilities, fit_temperature
from skindx.model.networks import LOGITS_LAYER
from skindx.training.augment import random_geometry
from skindx.training.decoded_split import split_arrays
from skindx.training.finishing import finish_with_validation, logits_and_features

TAUS = (0.5, 1.0)
REGULARISATION = (0.01, 0.1, 1.0)  # scikit-learn's C: inverse L2 strength


def tau_normalised(kernel: np.ndarray, tau: float) -> np.ndarray:
    """``kernel`` (features × classes) with each class column divided by its norm ** tau."""
    return kernel / np.linalg.norm(kernel, axis=0, keepdims=True) ** tau


def balanced_head(features: np.ndarray, labels: np.ndarray, c: float, n_classes: int):
    """(kernel, bias) of a class-balanced multinomial logistic regression on ``features``,
    fitted on standardised features and folded back so that a Dense layer reads raw ones."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    fit = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    fit.fit((features - mean) / scale, labels)
    coef = np.zeros((n_classes, features.shape[1]))
    intercept = np.full(n_classes, -1e4)  # a class absent from training is never predicted
    coef[fit.classes_], intercept[fit.classes_] = fit.coef_, fit.intercept_
    kernel = (coef / scale).T
    return kernel.astype("float32"), (intercept - kernel.T @ mean).astype("float32")


def training_features(model, x: np.ndarray, passes: int, seed: int):
    """Penultimate features of ``x`` as it is, then of ``passes`` random geometric copies."""
    rng = np.random.default_rng(seed)
    features = [logits_and_features(model, x)[1]]
    for _ in range(passes):  # one float copy of the images at a time
        features.append(logits_and_features(model, random_geometry(x, rng))[1])
    return np.concatenate(features)


def score(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Validation balanced accuracy and ECE of ``logits`` with the temperature fitted again."""
    probabilities = calibrated_probabilities(logits, fit_temperature(logits, labels))
    ece, _ = expected_calibration_error(labels, probabilities)
    return balanced_accuracy(labels, probabilities.argmax(axis=1)), ece


def candidates(kernel, bias, train_features, train_labels):
    """Every candidate last layer as (name, kernel, bias), the shipped one first."""
    yield "as shipped", kernel, bias
    for tau in TAUS:
        yield f"tau-normalised, tau {tau}", tau_normalised(kernel, tau), bias
    for c in REGULARISATION:
        head = balanced_head(train_features, train_labels, c, kernel.shape[1])
        yield f"class-balanced refit, C {c}", *head


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--images", required=True)
    parser.add_argument("--metadata", required=True)
    parser.add_argument("--passes", type=int, default=3, help="augmented copies of training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the best candidate's model here")
    args = parser.parse_args()
    skin_model = load_model(args.model)
    model = skin_model.model
    (x_train, y_train, _), (x_val, y_val, val_ids), _ = split_arrays(
        skin_model.card, args.images, args.metadata
    )
    val_features = logits_and_features(model, x_val)[1]
    features = training_features(model, x_train, args.passes, args.seed)
    labels = np.tile(y_train, args.passes + 1)
    print(f"{len(y_train)} training images × {args.passes + 1}, {len(y_val)} validation images")
    kernel, bias = model.get_layer(LOGITS_LAYER).get_weights()
    best = None
    for name, k, b in candidates(kernel, bias, features, labels):
        accuracy, ece = score(val_features @ k + b, y_val)
        seen = balanced_accuracy(labels, (features @ k + b).argmax(axis=1))
        print(
            f"{name}: validation balanced accuracy {accuracy:.4f}, ECE {ece:.4f}; "
            f"on its training features {seen:.4f}"
        )
        if best is None or accuracy > best[0]:
            best = accuracy, name, k, b
    print(f"best: {best[1]} ({best[0]:.4f})")
    if args.out:
        model.get_layer(LOGITS_LAYER).set_weights([best[2], best[3]])
        skin_model.card.training["classifier_refit"] = best[1]
        finish_with_validation(skin_model, x_val, y_val, val_ids, args.metadata)
        skin_model.save(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
