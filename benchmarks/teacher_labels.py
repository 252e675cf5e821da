"""Soft labels from the ``sklesion`` peer model, for distillation (``skindx train --teacher``).

    pip install --no-deps sklesion
    python benchmarks/teacher_labels.py --metadata HAM10000_metadata.csv --images DIR \\
        --out teacher.csv

Writes one row per image in the ISIC 2018 Task 3 submission format (``image`` + one
probability column per class), the format ``skindx evaluate --predictions-csv`` writes too.
The peer is run exactly as in ``benchmarks/peer_sklesion.py`` (image + age/sex/site). It was
trained on HAM10000, so its soft labels are only used for the training split; selection,
calibration and the test evaluation never see them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from peer_sklesion import BATCH, Peer, peer_package  # noqa: E402

from skindx.evaluation.evaluate import submission_frame  # noqa: E402
from skindx.taxonomy import CODES  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metadata", required=True, help="HAM10000-style metadata CSV")
    parser.add_argument("--images", required=True, help="folder of <image_id>.jpg")
    parser.add_argument("--out", required=True, help="CSV to write")
    args = parser.parse_args(argv)
    package = peer_package()
    if package is None:
        print("sklesion is not installed (pip install --no-deps sklesion).", file=sys.stderr)
        return 2
    table = pd.read_csv(args.metadata)
    images = Path(args.images)
    table = table[[(images / f"{i}.jpg").is_file() for i in table["image_id"]]]
    peer = Peer(package)
    order = [peer.classes.index(code) for code in CODES]
    rows = []
    for start in range(0, len(table), BATCH):
        part = table.iloc[start : start + BATCH]
        jpegs = [(images / f"{i}.jpg").read_bytes() for i in part["image_id"]]
        metas = [peer.metadata(r.sex, r.localization, r.age) for r in part.itertuples()]
        rows.append(peer.probabilities(jpegs, metas)[:, order])
        print(f"{start + len(part)}/{len(table)}", flush=True)
    frame = submission_frame(list(table["image_id"]), np.concatenate(rows))
    frame.to_csv(args.out, index=False, float_format="%.6f")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
