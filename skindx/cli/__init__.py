"""The ``skindx`` command. Exit 0 on success, 1 on a failure, 2 on bad arguments.

Errors print one line (``skindx: error: …``), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from skindx import __version__
from skindx.cli import data, ensemble, evaluation, explain, predict, stats, teaching, training
from skindx.cli.common import CommandError, Parser, UsageError, _known_errors

__all__ = ["CommandError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="skindx",
        description="Skin-lesion classification, saliency, training and ISIC statistics. "
        "Educational software, not a medical device.",
    )
    parser.add_argument("--version", action="version", version=f"skindx {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    predict.add_predict(commands)
    explain.add_explain(commands)
    predict.add_similar(commands)
    data.add_data(commands)
    training.add_train(commands)
    ensemble.add_ensemble(commands)
    ensemble.add_split_ensemble(commands)
    evaluation.add_evaluate(commands)
    training.add_context(commands)
    explain.add_saliency_check(commands)
    evaluation.add_photo_quality(commands)
    evaluation.add_same_spot_check(commands)
    evaluation.add_model_card(commands)
    teaching.add_handout(commands)
    stats.add_stats(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # 3 also hides TensorFlow's C++ errors, such as "failed call to cuInit" on every machine
    # without a GPU; real failures still surface as Python exceptions, told in one line below.
    # TF_CPP_MIN_LOG_LEVEL=0 shows them all again.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("skindx: interrupted", file=sys.stderr)
        return 130
    except UsageError as error:
        print(f"skindx {args.command}: error: {error}", file=sys.stderr)
        return 2
    except _known_errors() as error:
        print(f"skindx: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # the last line of defence: one line, no traceback
        print(f"skindx: unexpected error ({type(error).__name__}): {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
