"""Validation figures of an ensemble for several shares of its last member, the others
sharing the rest equally (the logits `skindx ensemble --weights` would make).

    python docs/training_logs/ensemble_weights.py runs/split/member1 runs/split/member2 \\
        runs/split/member3 runs/vgg16 --images ../shared/data/ham10000/images \\
        --metadata ../shared/data/ham10000/HAM10000_metadata.csv --shares 0.3 0.5 0.7

Prints, per share: balanced accuracy, the negative log-likelihood at the fitted temperature
and melanoma sensitivity at the arg-max. Each member sees the validation images decoded at
its own size. Validation only: never point it at the test set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from skindx.evaluation.evaluate import balanced_accuracy
from skindx.model.bundle import load_model
from skindx.model.calibration import calibrated_probabilities, fit_temperature
from skindx.taxonomy import CODES
from skindx.training.decoded_split import validation_arrays
from skindx.training.ensemble import shared_validation
from skindx.training.finishing import logits_and_features


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--images", required=True)
    parser.add_argument("--metadata", required=True)
    parser.add_argument("--shares", type=float, nargs="+", required=True)
    args = parser.parse_args()
    models = [load_model(path) for path in args.models]
    (x_val, y_val, _), _ = shared_validation(models, args.images, args.metadata)
    decoded = {x_val.shape[1]: x_val}
    for m in models:
        if m.card.input_size not in decoded:
            decoded[m.card.input_size] = validation_arrays(m.card, args.images, args.metadata)[0][0]
    logits = [logits_and_features(m.model, decoded[m.card.input_size])[0] for m in models]
    rest, last = np.mean(logits[:-1], axis=0), logits[-1]
    mel = CODES.index("mel")
    for share in [0.0, *args.shares, 1.0]:
        mixed = (1 - share) * rest + share * last
        temperature = fit_temperature(mixed, y_val)
        p = calibrated_probabilities(mixed, temperature)
        nll = -np.mean(np.log(p[np.arange(len(y_val)), y_val] + 1e-12))
        predicted = mixed.argmax(axis=1)
        print(
            f"share {share:.2f}: balanced accuracy {balanced_accuracy(y_val, predicted):.4f}, "
            f"NLL {nll:.4f} (T {temperature:.3f}), melanoma sensitivity "
            f"{np.mean(predicted[y_val == mel] == mel):.4f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
