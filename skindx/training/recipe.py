"""What defines a training run (``TrainConfig``), kept free of heavy imports so the CLI
can read its defaults without loading NumPy, SciPy or Keras.

The defaults are a CPU recipe: a compact VGG at 112 px that trains on a 2-core CPU in well
under an hour (the earlier shipped members'; today's were trained on a GPU with
``--engine torch``, as their cards record).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ENGINES = (
    "keras",
    "torch",
)  # "torch": skindx.training.torch_engine's loop (compact VGG, CUDA GPUs)

# Geometric augmentation: any rotation, a mirror, zoom in up to 25% or out up to 10% (factor
# of the field of view). Colour jitter in Keras' layer arguments: saturation factor 0.5 is the
# identity (a single float f would mean (-f, f) and wash most images out to grey, so the range
# is explicit). Both training loops read these.
ZOOM_RANGE = (-0.25, 0.1)
COLOUR_JITTER = {"brightness": 0.12, "contrast": 0.2, "saturation": (0.4, 0.6), "hue": 0.03}
# ``--exposure x``: each training image's pixel values are also multiplied by a factor drawn
# log-uniformly from [e^-x, e^x], as a darker or brighter photo would be. The additive
# brightness jitter above moves a typical image by at most about 20%, and networks trained
# with it alone lost a quarter of their validation balanced accuracy on images 30% darker.


@dataclass
class TrainConfig:
    """Everything that defines a training run; stored in the model card."""

    images: str
    metadata: str
    out: str
    architecture: str = "compact_vgg"
    input_size: int = 112
    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    convs_per_block: int | tuple[int, ...] = (1, 1, 2, 2, 2)
    dropout: float = 0.3
    weights: str | None = None
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.02
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    class_weight_power: float = 0.75
    val_fraction: float = 0.15
    patience: int = 15
    seed: int = 42
    split_seed: int | None = None  # None: ``seed``; fix it to train members on one split
    color_constancy: bool = False
    hair_removal: bool = False
    max_per_class: int | None = None
    # torch engine: each epoch draws at most this many images of each class afresh
    epoch_class_cap: int | None = None
    mixed_precision: bool = False
    strategy: str | None = None
    max_minutes: float | None = None
    teacher: str | None = None
    distill_weight: float = 0.5
    exposure: float = 0.0  # 0: off, as in the members trained before it existed
    init_from: str | None = None  # a trained model's directory: fine-tune its weights
    loader_workers: int = 1
    engine: str = "keras"  # one of ENGINES
    # VGG16 only: blocks 1..n stay frozen and run once per image (skindx.training.transfer)
    freeze_blocks: int = 0
    # torch engine, pretrained VGG16: blocks 1..n run on every augmented batch but take no step
    lock_blocks: int = 0
    blocks: int = 5  # VGG16 only: conv blocks kept
    head: str = "gap"  # VGG16 only: "multiblock" pools the last three blocks (head only)
    probe_c: float | None = None  # a pretrained VGG16's probe: None chooses it by cross-validation
    refit_head: bool = False  # torch engine, pretrained VGG16: the probe refitted every epoch
    version: str = "0.1.0"

    def recipe(self) -> dict[str, Any]:
        """The fields that define the model (the card's ``recipe``): all but where the data
        and the output are and how many loader processes ran."""
        run_only = {"images", "metadata", "out", "loader_workers"}
        return {k: v for k, v in asdict(self).items() if k not in run_only}

    def architecture_dict(self) -> dict[str, Any]:
        if self.architecture == "vgg16":
            return {
                "name": "vgg16",
                "input_size": self.input_size,
                "dropout": self.dropout,
                "weights": self.weights,
                **({"blocks": self.blocks} if self.blocks != 5 else {}),
                **({"head": self.head} if self.head != "gap" else {}),
            }
        return {
            "name": "compact_vgg",
            "input_size": self.input_size,
            "widths": list(self.widths),
            "convs_per_block": (
                self.convs_per_block
                if isinstance(self.convs_per_block, int)
                else list(self.convs_per_block)
            ),
            "dropout": self.dropout,
        }


def default(name: str) -> Any:
    """``TrainConfig``'s default for one field (the CLI's defaults)."""
    return TrainConfig.__dataclass_fields__[name].default
