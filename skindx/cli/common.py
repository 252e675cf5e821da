"""What every ``skindx`` sub-command shares: argparse types that check options at parse time
(exit 2 with a clear message), model loading, progress bars, the card-check command shape and
the errors reported as one line."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path


class CommandError(Exception):
    """A failure to report as one line with exit status 1."""


class UsageError(CommandError):
    """An option the command cannot use, found before any long run: one line, exit status 2."""


def _unwritable(path: Path | None, creates_folder: bool = False) -> str | None:
    """Why the file ``path`` cannot be written (checked before a long run), or ``None``.
    ``creates_folder``: the writer makes missing folders, so the nearest existing one counts."""
    if path is None:
        return None
    target = Path(path)
    if target.is_dir():
        return "it is a folder"
    folder = target.parent if str(target.parent) else Path(".")
    while creates_folder and not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"its folder {folder} does not exist"
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        return "permission denied"
    return None


def _check_output_file(option: str, path: Path | None, creates_folder: bool = False) -> None:
    if problem := _unwritable(path, creates_folder):
        raise UsageError(f"{option} {path}: {problem}")


def _check_output_folder(option: str, path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file, not a folder")


def _check_new_model(option: str, path: Path, overwrite: bool) -> None:
    """A trained model is hours of work: a folder already holding one is not written over
    unless asked (a cut-off run's checkpoint alone, which resumes, is no model yet)."""
    from skindx.model.bundle import MODEL_FILE
    from skindx.model.card import CARD_FILE

    _check_output_folder(option, path)
    if not overwrite and any((path / name).exists() for name in (CARD_FILE, MODEL_FILE)):
        raise UsageError(
            f"{option} {path} already holds a model; choose another folder, or add "
            "--overwrite to replace it"
        )


MODEL_HELP = "model directory (default: $SKINDX_MODEL, else the shipped models/default)"


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help, with each option's default where it has one: a run is reproduced from
    its options, and an option whose default goes unsaid has to be looked up in the code."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default
        unsaid = shown is None or shown is False or shown == () or shown == argparse.SUPPRESS
        if unsaid or "default" in text:  # ``is False``: a default of 0 is still said
            return text
        if isinstance(shown, tuple | list):
            shown = ",".join(map(str, shown))
        return f"{text} (default: {str(shown).replace('%', '%%')})".lstrip()


class Parser(argparse.ArgumentParser):
    """Every ``skindx`` parser and sub-parser (``add_subparsers`` makes its own kind)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {minimum} or more, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)


def _non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


MAX_IMAGE_SIDE = 2048  # the models take 224 px at most; 100000 px asked OpenCV for 30 GB


def _image_side(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_IMAGE_SIDE:
        raise argparse.ArgumentTypeError(f"expected {MAX_IMAGE_SIDE} or less, got {value}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _open_fraction(text: str) -> float:
    value = _number(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a value above 0 and below 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = _number(text)
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {value}")
    return value


def _fraction(text: str) -> float:
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a value between 0 and 1, got {value}")
    return value


def _existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such directory: {text}")
    return path


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def _label(text: str) -> str:
    """A name to show (a dataset's): not blank, spaces around it dropped."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a name, got nothing")
    return text.strip()


def _context_field(field: str):
    """An argparse type checking one Context field (age, sex, site) with its own message."""

    def check(text: str):
        from skindx.diagnosis.context import Context, ContextError

        try:
            return getattr(Context(**{field: text}), field)
        except ContextError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    check.__name__ = field  # argparse names the type in its fallback message
    return check


def _signs(text: str) -> tuple[str, ...]:
    from skindx.diagnosis.signs import SignsError, parse

    try:
        return parse(text)
    except SignsError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _widths(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def _load(model_dir: Path | None):
    from skindx.model.bundle import load_model

    return load_model(model_dir)


def _load_image(path: Path, min_side: int | None = None):
    """An image's pixels; an unreadable one is reported with its path (one line, status 1)."""
    from skindx.images.loading import ImageRejected, load_image

    try:
        return load_image(path, min_side=min_side)
    except ImageRejected as error:
        raise CommandError(f"{path}: {error}") from None


def _progress(items: Sequence, desc: str, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="img", file=sys.stderr)


def _readable(paths: Sequence[Path], desc: str, min_side: int | None = None):
    """``(index, pixels)`` of the images that decode; unreadable ones are counted on stderr,
    not fatal (as in ``skindx evaluate``)."""
    from skindx.images.loading import ImageRejected, load_image

    loaded = []
    for i, path in enumerate(_progress(paths, desc, True)):
        with contextlib.suppress(ImageRejected):
            loaded.append((i, load_image(path, min_side=min_side)))
    skipped = len(paths) - len(loaded)
    if skipped:
        print(f"skindx: {skipped:,} unreadable {desc} images skipped", file=sys.stderr)
    return loaded


def _refuse_test_set(metadata: Path) -> None:
    """The ISIC 2018 test set is the held-out benchmark: training on it, or measuring
    "validation" figures on it, would leak it into every later choice (docs/data.md)."""
    from skindx.datasets.metadata import MetadataError, is_isic2018_test

    try:
        held_out = is_isic2018_test(metadata)
    except MetadataError:
        return  # the command itself says what is wrong with the file
    if held_out:
        raise UsageError(
            f"--metadata {metadata} is the ISIC 2018 test set, the held-out benchmark: train "
            "and validate on HAM10000 only, and score the test set once with `skindx evaluate`"
        )


def _on_training_data(handler):
    """``handler``, run once its ``--metadata`` is known not to be the held-out test set."""

    def run(args: argparse.Namespace) -> int:
        _refuse_test_set(args.metadata)
        return handler(args)

    return run


def _card_check(commands, name: str, help: str, handler, update_card: bool = True):
    """A command that measures a model on the HAM10000 split its card records (--model,
    --images, --metadata and, unless told, --update-card)."""
    command = commands.add_parser(name, help=help, description=help)
    command.add_argument("--model", type=_existing_dir, help=MODEL_HELP)
    command.add_argument("--images", type=_existing_dir, required=True, help="the HAM10000 images")
    command.add_argument(
        "--metadata",
        type=_existing_file,
        required=True,
        help="the HAM10000 metadata CSV the model was trained from: its card's lesion split "
        "gives the validation images",
    )
    if update_card:
        command.add_argument(
            "--update-card", action="store_true", help="also record the result in card.json"
        )
    command.set_defaults(handler=_on_training_data(handler))
    return command


def _known_errors() -> tuple[type[BaseException], ...]:
    from skindx.datasets.metadata import MetadataError
    from skindx.images.loading import ImageRejected
    from skindx.model.networks import ModelLoadError

    # ImportError: an optional dependency a chosen option needs (--engine torch: PyTorch).
    return (
        ImageRejected,
        MetadataError,
        ModelLoadError,
        CommandError,
        ValueError,
        OSError,
        ImportError,
    )
