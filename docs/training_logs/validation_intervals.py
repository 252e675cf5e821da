"""Validation balanced accuracy's 95% bootstrap interval for a model built before the build
recorded it (``skindx.training.finishing`` does since), without refitting anything.

    python docs/training_logs/validation_intervals.py --model models/default \
        --images ../shared/data/ham10000/images \
        --metadata ../shared/data/ham10000/HAM10000_metadata.csv [--write]

Decodes the validation split the card records as the build did (``validation_arrays``), takes
the model's calibrated probabilities and, with the card's context model, those given each
image's age, sex and site, and checks that they reproduce the card's validation balanced
accuracy on both rows to the fourth decimal. Only then does it print the intervals (whole
lesions resampled) and, with ``--write``, record them in ``card.json``. Validation only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--images", required=True)
    parser.add_argument("--metadata", required=True)
    parser.add_argument("--write", action="store_true", help="record the intervals in card.json")
    args = parser.parse_args()

    from skindx.datasets.metadata import read_metadata
    from skindx.diagnosis.context import apply_context, contexts_from_frame
    from skindx.diagnosis.predict import Predictor
    from skindx.evaluation.evaluate import interval_record, lesion_ids
    from skindx.evaluation.metrics import balanced_accuracy
    from skindx.model.bundle import load_model
    from skindx.training.decoded_split import validation_arrays

    skin_model = load_model(args.model)
    card = skin_model.card
    (x_val, y_val, val_ids), _ = validation_arrays(card, args.images, args.metadata)
    predictor = Predictor(skin_model, tta=False)  # the card's validation rows are without TTA
    logits = np.concatenate(
        [predictor.forward(x_val[i : i + 64])[0] for i in range(0, len(x_val), 64)]
    )
    probabilities = predictor.probabilities(logits)
    frame = read_metadata(args.metadata).drop_duplicates("image_id")
    val_frame = frame.set_index("image_id", drop=False).reindex(val_ids)
    lesions = lesion_ids(val_frame, val_ids)
    rows = {"validation": probabilities}
    if card.context:
        rows["validation_with_context"] = apply_context(
            card.context, probabilities, contexts_from_frame(val_frame)
        )[0]
    for split, shown in rows.items():
        recorded = card.metrics[split]["balanced_accuracy"]
        again = round(balanced_accuracy(y_val, shown.argmax(axis=1)), 4)
        print(f"{split}: {len(y_val)} images, balanced accuracy {again} (card: {recorded})")
        if again != recorded:
            print("  not the card's figure: nothing recorded", file=sys.stderr)
            return 1
        interval = interval_record(y_val, shown.argmax(axis=1), lesions)
        low, high, unit = interval["low"], interval["high"], interval["resampled"]
        print(f"  95% interval {low:.4f}–{high:.4f}, {unit} resampled")
        card.metrics[split]["balanced_accuracy_interval"] = interval
    if args.write:
        card.save(skin_model.directory)
        print(f"recorded in {skin_model.directory}/card.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
