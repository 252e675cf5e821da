"""Where one epoch of fine-tuning VGG16 lost its validation balanced accuracy: in the head or
in the backbone's features. Reads the checkpoint that the REFIT=0 run of cpu_bf16_vgg16_refit.sh
left when it was stopped after epoch 1 (the probe's weights, "best", and epoch 1's, "module"),
and scores each twice on the validation split: with its own head, and with a head refitted
on its own clean training features (C cross-validated over training lesions, as the probe
was fitted). If the refitted head recovers the probe's score, the backbone kept its features
and the head was what fine-tuning disturbed; if not, the features themselves got worse.

    python docs/training_logs/vgg16_finetune_probe_check.py runs/vgg16_bf16_cv \\
        --images ../shared/data/ham10000/images \\
        --metadata ../shared/data/ham10000/HAM10000_metadata.csv
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from skindx.evaluation.evaluate import balanced_accuracy
from skindx.model.networks import build_model
from skindx.training.decoded_split import load_split
from skindx.training.probe import fitted_probe
from skindx.training.recipe import TrainConfig
from skindx.training.torch_engine import CHECKPOINT_FILE, autocast, torch_vgg16
from skindx.training.train import class_weights
from skindx.training.transfer import lesion_groups


def outputs(torch, module, x, features: bool) -> np.ndarray:
    """The module's pooled features (or logits) for uint8 NHWC images, in bfloat16."""
    out = []
    with torch.no_grad(), autocast(torch, torch.device("cpu"), True):
        for i in range(0, len(x), 64):
            batch = torch.from_numpy(x[i : i + 64]).permute(0, 3, 1, 2).float()
            out.append(module(batch, features=features).float().numpy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--images", required=True)
    parser.add_argument("--metadata", required=True)
    args = parser.parse_args()
    import torch

    saved = torch.load(args.run / CHECKPOINT_FILE, weights_only=False)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    config = TrainConfig(
        images=args.images, metadata=args.metadata, out=str(args.run),
        **{k: v for k, v in saved["recipe"].items() if k in known},
    )  # fmt: skip
    (x_train, y_train, train_ids), (x_val, y_val, _), _ = load_split(config, progress=False)
    weights = class_weights(y_train, config.class_weight_power)[y_train]
    groups = lesion_groups(config, train_ids)
    module = torch_vgg16(build_model(config.architecture_dict())).eval()
    for name, state in (("linear probe (epoch 0)", saved["best"]), ("epoch 1", saved["module"])):
        module.load_state_dict(state)
        own = balanced_accuracy(y_val, outputs(torch, module, x_val, False).argmax(1))
        train_features = outputs(torch, module, x_train, True)
        kernel, bias, details = fitted_probe(train_features, y_train, weights, groups)
        refit = outputs(torch, module, x_val, True) @ kernel + bias
        print(
            f"{name}: validation balanced accuracy {own:.4f} with its own head, "
            f"{balanced_accuracy(y_val, refit.argmax(1)):.4f} with a head refitted at "
            f"C={details['probe_c']:g}",
            flush=True,
        )


if __name__ == "__main__":
    main()
