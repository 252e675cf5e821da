"""The similar-lesions gallery's leave-one-out vote, with and without centring the features.

    python docs/training_logs/similar_check.py --model models/default \\
        --examples ../shared/data/ham10000

Builds the gallery the Saliency explorer builds from ``--examples`` (at most
``GALLERY_PER_CLASS`` lesions per diagnosis, one image each, leaving out the images the model
trained on where the folder's metadata reproduces the card's split) and prints, for several
neighbourhood sizes, how often the most common diagnosis among each lesion's nearest others is
its own, comparing the features centred on the gallery's mean (as the app does) and as they are.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from skindx.diagnosis.predict import Predictor
from skindx.diagnosis.similar import gallery_from_folder
from skindx.model.bundle import load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--examples", type=Path, required=True, help="a labelled ISIC folder")
    parser.add_argument("--neighbours", default="5,10,15", help="comma-separated k values")
    args = parser.parse_args(argv)
    skin_model = load_model(args.model)
    predictor = Predictor(skin_model)
    for centred in (True, False):
        gallery = gallery_from_folder(
            predictor, args.examples, skin_model.card.training, centred=centred
        )
        if centred:
            examples = gallery.examples
            split = "held out from training" if examples[0].held_out else "unknown split"
            counts = Counter(e.code for e in examples)
            print(f"{len(examples)} lesions ({split}): {dict(counts)}")
        for k in map(int, args.neighbours.split(",")):
            figures = gallery.leave_one_out(k)
            print(
                f"{'centred' if centred else 'as they are'}, k={k}: accuracy "
                f"{figures['accuracy']:.3f}, balanced accuracy {figures['balanced_accuracy']:.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
