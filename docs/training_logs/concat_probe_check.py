"""The frozen VGG16 probe on both views of each image, as it is and colour-corrected: the
multiblock features of `runs/vgg16mb160cv` (plain) and `runs/vgg16mb160cc` (Shades of Gray)
side by side (5,120 per image), C cross-validated over training lesions as `skindx train`
chooses it, then mixed with the shipped compact members as the shipped build mixes its VGG16
member (temperature-scaled logits).

    python docs/training_logs/concat_probe_check.py runs/vgg16mb160cv runs/vgg16mb160cc \\
        --cache runs/vgg16mb160cc/val_logits.npz

`--cache` is the compact members' validation logits that `ensemble_weights.py --cache`
wrote (members 0–2 are the shipped compact members). Validation and HAM10000 only: never
reads the test set.

The rule, written and committed before any figure of this probe was scored here (the same as
`cpu_vgg16_holdout.sh`'s, against the second build of `skindx-ensemble4-160`):
- eligible shares: the mix's validation balanced accuracy is at least 0.6975 (the shipped
  build's), and the probe's collection-holdout mean (`collection_holdout_check.py`) is at least
  0.4022 (the shipped member's 0.3822 + 0.02);
- the eligible share with the highest validation balanced accuracy is built as an ensemble; it
  ships if the built ensemble also scores 0.6975 or more, and is then tested once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
from collection_holdout_check import HELD_OUT, METADATA, holdout_scores

from skindx.evaluation.evaluate import balanced_accuracy
from skindx.model.calibration import fit_temperature
from skindx.taxonomy import CODES
from skindx.training.probe import cross_validated_c, fit_standardised
from skindx.training.train import class_weights

SHIPPED_VALIDATION, HOLDOUT_BAR = 0.6975, 0.3822 + 0.02
SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def side_by_side(runs: list[Path], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(image ids, features of every run side by side) from each run's cached ``name``."""
    parts = [np.load(run / name) for run in runs]
    for part in parts[1:]:
        assert (part["ids"] == parts[0]["ids"]).all(), "runs cached different images"
    return parts[0]["ids"], np.concatenate([p["outputs"] for p in parts], 1).astype("float32")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--cache", type=Path, required=True)
    args = parser.parse_args()
    meta = pd.read_csv(METADATA).set_index("image_id")
    train_ids, x_train = side_by_side(args.runs, "frozen_outputs.npz")
    val_ids, x_val = side_by_side(args.runs, "val_frozen_outputs.npz")
    y_train = meta.loc[train_ids, "dx"].map(CODES.index).to_numpy()
    y_val = meta.loc[val_ids, "dx"].map(CODES.index).to_numpy()
    weights = class_weights(y_train, 1.0)[y_train]
    groups = meta.loc[train_ids, "lesion_id"].to_numpy()
    c, scores = cross_validated_c(x_train, y_train, weights, groups)
    print(f"{x_train.shape[1]} features; C by 3-fold CV over training lesions: {scores}; C={c:g}")
    probe, mean, std = fit_standardised(x_train, y_train, weights, c)
    member = probe.decision_function((x_val - mean) / std)
    alone = balanced_accuracy(y_val, member.argmax(1))
    print(f"probe alone: validation balanced accuracy {alone:.4f}")

    table = pd.DataFrame(np.concatenate([x_train, x_val]), np.concatenate([train_ids, val_ids]))
    holdout = np.mean([holdout_scores(table, meta.reset_index(), k, c)[0] for k in HELD_OUT])
    print(f"collection-holdout mean balanced accuracy {holdout:.4f} (bar {HOLDOUT_BAR:.4f})")

    cached = np.load(args.cache)
    assert (cached["labels"] == y_val).all(), "the cache holds other validation images"
    rest = np.mean([cached[f"member{i}"] for i in range(3)], axis=0)
    rest, member = rest / fit_temperature(rest, y_val), member / fit_temperature(member, y_val)
    eligible = {}
    for share in SHARES:
        score = balanced_accuracy(y_val, ((1 - share) * rest + share * member).argmax(1))
        print(f"share {share:.1f}: validation balanced accuracy {score:.4f}", flush=True)
        if score >= SHIPPED_VALIDATION and holdout >= HOLDOUT_BAR:
            eligible[share] = score
    if not eligible:
        print("verdict: not eligible")
    else:
        print(f"verdict: build share {max(eligible, key=eligible.get):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
