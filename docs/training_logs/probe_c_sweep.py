"""Validation balanced accuracy of a frozen member's linear probe at several inverse
regularisation strengths C, read from the features `skindx train --head multiblock` cached in
its run folder (for information: the shipped probes choose C by cross-validation over the
training split's lesions, never by these figures).

    python docs/training_logs/probe_c_sweep.py runs/vgg16mb224 0.003,0.01,0.03,0.1,0.3 \\
        --metadata ../shared/data/ham10000/HAM10000_metadata.csv
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from skindx.datasets.labelled import read_labels
from skindx.evaluation.evaluate import balanced_accuracy
from skindx.taxonomy import CODES
from skindx.training.probe import fit_standardised
from skindx.training.train import class_weights


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("cs", help="comma-separated values of C")
    parser.add_argument("--metadata", required=True)
    args = parser.parse_args()
    diagnosis = read_labels(args.metadata).set_index("image_id")["diagnosis"]
    parts = []
    for name in ("frozen_outputs.npz", "val_frozen_outputs.npz"):
        with np.load(args.run / name) as stored:
            labels = np.array([CODES.index(diagnosis[i]) for i in stored["ids"]])
            parts.append((stored["outputs"].astype("float32"), labels))
    (x, y), (x_val, y_val) = parts
    weights = class_weights(y, 1.0)[y]  # the members' --class-weight-power 1.0
    for c in (float(value) for value in args.cs.split(",")):
        start = time.monotonic()
        probe, mean, std = fit_standardised(x, y, weights, c)
        val = balanced_accuracy(y_val, probe.predict((x_val - mean) / std))
        train = balanced_accuracy(y, probe.predict((x - mean) / std))
        seconds = time.monotonic() - start
        print(f"C {c:g}: validation {val:.4f}, training {train:.4f} ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
