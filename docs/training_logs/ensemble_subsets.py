"""Validation balanced accuracy of every subset of trained models, averaged as `skindx
ensemble` averages them (mean logits; temperature does not change the arg-max).

    python docs/training_logs/ensemble_subsets.py runs/member1 runs/member2 runs/member3 \\
        --images ../shared/data/ham10000/images \\
        --metadata ../shared/data/ham10000/HAM10000_metadata.csv

The models must share a validation split (as `skindx ensemble` requires); each sees it at its
own input size. Prints one line per subset, members numbered in the order given; ``--recall
mel`` adds that class's sensitivity at the arg-max. Validation only: never point it at the
test set.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from skindx.evaluation.evaluate import balanced_accuracy
from skindx.model.bundle import load_model
from skindx.taxonomy import CODES
from skindx.training.decoded_split import validation_arrays
from skindx.training.ensemble import shared_validation
from skindx.training.finishing import logits_and_features


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--images", required=True)
    parser.add_argument("--metadata", required=True)
    parser.add_argument("--recall", choices=CODES, help="also print this class's sensitivity")
    args = parser.parse_args()
    models = [load_model(path) for path in args.models]
    (x_val, y_val, _), _ = shared_validation(models, args.images, args.metadata)  # the largest
    decoded = {x_val.shape[1]: x_val}
    for m in models:  # any smaller member sees the images decoded at its own size
        if m.card.input_size not in decoded:
            decoded[m.card.input_size] = validation_arrays(m.card, args.images, args.metadata)[0][0]
    logits = [logits_and_features(m.model, decoded[m.card.input_size])[0] for m in models]
    for size in range(1, len(models) + 1):
        for subset in itertools.combinations(range(len(models)), size):
            mean = np.mean([logits[k] for k in subset], axis=0)
            predicted = mean.argmax(axis=1)
            line = f"{[k + 1 for k in subset]}: {balanced_accuracy(y_val, predicted):.4f}"
            if args.recall:
                target = CODES.index(args.recall)
                recall = np.mean(predicted[y_val == target] == target)
                line += f", {args.recall} sensitivity {recall:.4f}"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
