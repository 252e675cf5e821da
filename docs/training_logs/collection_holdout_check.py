"""A judge of how a frozen-feature probe carries to other acquisitions, from HAM10000 alone:
fit the probe on three of its four source collections and score it on the fourth. The test
set's weakest images come from outside HAM10000's collections (the model card's figures by
source), which one split of HAM10000 cannot show; a collection held out can.

    python docs/training_logs/collection_holdout_check.py runs/vgg16mb160cv runs/vgg16mb160cc

Each run folder holds the frozen features `skindx train --head multiblock` cached
(`frozen_outputs.npz`, `val_frozen_outputs.npz`); train and validation images are pooled,
since the held-out collection is the judge here. The probe is the shipped recipe's
(:func:`skindx.training.probe.fit_standardised`, class-balanced weights) at each C given.
Scores: balanced accuracy over the classes with at least 20 images in the held-out collection,
and melanoma AUC, per held-out collection and their mean (the "holdout mean" of
cpu_vgg16_holdout.sh's rule). Never reads the test set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from skindx.taxonomy import CODES as CLASSES
from skindx.training.probe import fit_standardised
from skindx.training.train import class_weights

METADATA = "../shared/data/ham10000/HAM10000_metadata.csv"
HELD_OUT = ("rosendahl", "vidir_modern")
MIN_IMAGES = 20


def features(run: Path) -> pd.DataFrame:
    """The run's cached frozen features of every HAM10000 image, indexed by image id."""
    parts = [np.load(run / name) for name in ("frozen_outputs.npz", "val_frozen_outputs.npz")]
    ids = np.concatenate([p["ids"] for p in parts])
    return pd.DataFrame(np.concatenate([p["outputs"] for p in parts]).astype("float32"), ids)


def holdout_scores(table: pd.DataFrame, meta: pd.DataFrame, collection: str, c: float):
    """(balanced accuracy over the held-out collection's common classes, melanoma AUC)."""
    held = meta["dataset"] == collection
    labels = meta["dx"].map(CLASSES.index).to_numpy()
    x = table.loc[meta["image_id"]].to_numpy()
    train = ~held.to_numpy()
    weights = class_weights(labels[train], 1.0)[labels[train]]  # --class-weight-power 1.0
    probe, mean, std = fit_standardised(x[train], labels[train], weights, c)
    scores = probe.predict_proba((x[~train] - mean) / std)
    truth = labels[~train]
    common = [k for k in range(len(CLASSES)) if (truth == k).sum() >= MIN_IMAGES]
    keep = np.isin(truth, common)
    predicted = probe.classes_[scores.argmax(axis=1)]
    mel = CLASSES.index("mel")
    return (
        balanced_accuracy_score(truth[keep], predicted[keep]),
        roc_auc_score(truth == mel, scores[:, list(probe.classes_).index(mel)]),
    )


def main() -> int:
    warnings.filterwarnings("ignore", "y_pred contains classes")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--c", type=float, nargs="+", default=[0.001, 0.1])
    args = parser.parse_args()
    meta = pd.read_csv(METADATA)
    for run in args.runs:
        table = features(run)
        for c in args.c:
            cells, scores = [], []
            for collection in HELD_OUT:
                ba, auc = holdout_scores(table, meta, collection, c)
                cells.append(f"{collection} balanced accuracy {ba:.4f}, melanoma AUC {auc:.4f}")
                scores.append(ba)
            cells.append(f"mean balanced accuracy {np.mean(scores):.4f}")
            print(f"{run} C={c:g}: " + "; ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
