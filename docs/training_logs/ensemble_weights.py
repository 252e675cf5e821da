"""Validation figures of an ensemble for several shares of its last member, the others
sharing the rest equally (the logits `skindx ensemble --weights` would make; with
`--mix scaled`, the others' mean logits and the last member's each divided by its own
fitted temperature first, as the shipped `skindx-ensemble4-160` was built; with
`--mix probabilities`, the calibrated probabilities of the others' mean logits and of the
last member, each at its own temperature, mixed by the share).

    python docs/training_logs/ensemble_weights.py runs/split/member1 runs/split/member2 \\
        runs/split/member3 runs/vgg16 --images ../shared/data/ham10000/images \\
        --metadata ../shared/data/ham10000/HAM10000_metadata.csv --shares 0.3 0.5 0.7

Prints, per share: balanced accuracy, the negative log-likelihood at the fitted temperature
and melanoma sensitivity at the arg-max. Each member sees the validation images decoded at
its own size (and colour-corrected where it was trained so). Validation only: never point it
at the test set.
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
from skindx.training.ensemble import shared_validation, uses_colour_constancy
from skindx.training.finishing import logits_and_features


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--images", required=True)
    parser.add_argument("--metadata", required=True)
    parser.add_argument("--shares", type=float, nargs="+", required=True)
    parser.add_argument("--mix", choices=["logits", "scaled", "probabilities"], default="logits")
    parser.add_argument("--cache", type=Path, help="npz of the members' validation logits")
    args = parser.parse_args()
    logits, y_val = _validation_logits(args)
    rest, last = np.mean(logits[:-1], axis=0), logits[-1]
    if args.mix == "probabilities":
        # the shipped members as shipped (mean logits, one temperature) beside the last
        # member's own calibrated probabilities, as log-probabilities
        rest, last = _log_calibrated(rest, y_val), _log_calibrated(last, y_val)
    elif args.mix == "scaled":
        rest, last = rest / fit_temperature(rest, y_val), last / fit_temperature(last, y_val)
    mel = CODES.index("mel")
    for share in [0.0, *args.shares, 1.0]:
        mixed = _mean_over_members([rest, last], args.mix, [1 - share, share])
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


def _validation_logits(args) -> tuple[list[np.ndarray], np.ndarray]:
    if args.cache and args.cache.exists():
        cached = np.load(args.cache)
        return [cached[f"member{i}"] for i in range(len(args.models))], cached["labels"]
    models = [load_model(path) for path in args.models]
    (x_val, y_val, _), _ = shared_validation(models, args.images, args.metadata)
    decoded = {(x_val.shape[1], False): x_val}  # (size, colour constancy): decoded images

    def view(card):
        return card.input_size, uses_colour_constancy(card)

    for m in models:
        if view(m.card) not in decoded:
            decoded[view(m.card)] = validation_arrays(m.card, args.images, args.metadata)[0][0]
    logits = [logits_and_features(m.model, decoded[view(m.card)])[0] for m in models]
    if args.cache:
        np.savez(args.cache, labels=y_val, **{f"member{i}": x for i, x in enumerate(logits)})
    return logits, y_val


def _log_calibrated(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.log(calibrated_probabilities(logits, fit_temperature(logits, labels)) + 1e-12)


def _mean_over_members(logits, mix: str, weights) -> np.ndarray:
    """Weighted mean of logits, or (``probabilities``) the log of the weighted mean of the
    probabilities that log-probabilities stand for."""
    weights, stacked = np.asarray(weights), np.stack(logits)
    if mix != "probabilities":
        return np.tensordot(weights, stacked, axes=1)
    return np.log(np.tensordot(weights, np.exp(stacked), axes=1) + 1e-12)


if __name__ == "__main__":
    raise SystemExit(main())
