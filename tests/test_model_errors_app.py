"""Issue #28, item 5: a broken model directory, in the app and the CLI.

Every page that loads the model (or reads its card) shows its plain "not available" message
for each way a model directory can break, with no traceback and no server path anywhere on
the page; the full error goes to the server log instead. The CLI says what is wrong in one
line. Each case is a copy of the tiny test model (tests/conftest.py) broken by one function.

The CLI cases that ``tests/test_hardening.py`` already runs through ``skindx.cli.main`` (a card
holding ``[]``, ``null`` or a field of the wrong type, a damaged ood.npz) are not repeated here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from skindx.model.bundle import MODEL_FILE, OOD_FILE
from skindx.model.card import CARD_FILE

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "streamlit_app" / "app.py"
PAGES = REPO / "pages"
TIMEOUT = 120
MODEL_NAME = "skindx-model-q7z"  # the broken copy's folder: it must appear on no page
NOT_AVAILABLE = "not available on this server"
LOGGER = "streamlit_app.resources"

pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")


# ----------------------------------------------------------------------------- the cases


def _missing_directory(directory: Path) -> None:
    shutil.rmtree(directory)


def _card(text: str) -> Callable[[Path], None]:
    def breaker(directory: Path) -> None:
        (directory / CARD_FILE).write_text(text)

    return breaker


def _card_field_of_the_wrong_type(directory: Path) -> None:
    card = json.loads((directory / CARD_FILE).read_text())
    card["training"] = "ISIC 2019"  # an object in a real card (pages read it for the split)
    (directory / CARD_FILE).write_text(json.dumps(card))


def _corrupt_model_file(directory: Path) -> None:
    """A damaged zip with no checksum in the card, so Keras itself has to read it."""
    card = json.loads((directory / CARD_FILE).read_text())
    card["weights_sha256"] = ""
    (directory / CARD_FILE).write_text(json.dumps(card))
    (directory / MODEL_FILE).write_bytes(b"PK\x03\x04 broken zip")


def _sha_mismatch(directory: Path) -> None:
    with open(directory / MODEL_FILE, "ab") as handle:
        handle.write(b"\0")


def _corrupt_ood(directory: Path) -> None:
    (directory / OOD_FILE).write_bytes(b"PK\x03\x04 not a zip")


def _pickled_ood(directory: Path) -> None:
    np.savez(directory / OOD_FILE, mean=np.array([{"x": 1}], dtype=object))


# (case, breaker, the file the server log names, whether the card itself is unreadable)
CASES = [
    ("missing directory", _missing_directory, MODEL_NAME, True),
    ("card holds []", _card("[]"), CARD_FILE, True),
    ("card holds null", _card("null"), CARD_FILE, True),
    ("card field of the wrong type", _card_field_of_the_wrong_type, CARD_FILE, True),
    ("corrupt model.keras", _corrupt_model_file, MODEL_FILE, False),
    ("sha256 mismatch", _sha_mismatch, MODEL_FILE, False),
    ("corrupt ood.npz", _corrupt_ood, OOD_FILE, False),
    ("pickled ood.npz", _pickled_ood, OOD_FILE, False),
]
BY_NAME = {case[0]: case for case in CASES}


@pytest.fixture(params=[case[0] for case in CASES])
def broken(request, tmp_path, tiny_model_dir, monkeypatch) -> Iterator[tuple[Path, str, bool]]:
    """(the broken model directory, the file the log must name, card unreadable), with
    ``SKINDX_MODEL`` pointing at the directory."""
    _, breaker, logged_file, card_broken = BY_NAME[request.param]
    directory = tmp_path / MODEL_NAME
    shutil.copytree(tiny_model_dir, directory)
    breaker(directory)
    monkeypatch.setenv("SKINDX_MODEL", str(directory))
    yield directory, logged_file, card_broken


# ----------------------------------------------------------------------------- helpers


def _run(target) -> AppTest:
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _all_text(at: AppTest) -> str:
    """Every element's and block's protobuf as text: labels, bodies, help, expanders …"""
    parts: list[str] = []

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def _assert_plain_message(at: AppTest, directory: Path, message: str = NOT_AVAILABLE) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert any(message in error.value for error in at.error), [e.value for e in at.error]
    shown = _all_text(at)
    for secret in (str(directory.parent), MODEL_NAME, "Traceback", "pickle"):
        assert secret not in shown, secret
    assert not [e.label for e in at.expander if "Details" in e.label]  # paths went there


def _assert_logged_once(caplog, directory: Path, logged_file: str) -> None:
    records = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR]
    assert len(records) == 1, [r.getMessage() for r in records]
    text = records[0].getMessage()
    assert str(directory) in text and logged_file in text, text  # the log says where and what


# ----------------------------------------------------------------------------- pages


@pytest.mark.parametrize("page", ["diagnose", "saliency"])
def test_pages_that_load_the_model_show_the_plain_message(broken, page, caplog) -> None:
    directory, logged_file, _ = broken
    caplog.set_level(logging.ERROR, logger=LOGGER)
    at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=TIMEOUT)
    _assert_plain_message(_run(at), directory)
    _run(at)  # a rerun tries again, shows the message again, and does not log it again
    _assert_plain_message(at, directory)
    _assert_logged_once(caplog, directory, logged_file)


def test_check_model_dir_finds_every_case_without_tensorflow(broken) -> None:
    """What the Diagnose page runs when it opens (the model loads in the background): every
    broken directory is found by checks that need no TensorFlow, and the error names the file."""
    _, logged_file, _ = broken
    code = (
        "import sys\n"
        "from skindx.model.bundle import check_model_dir\n"
        "from skindx.model.networks import ModelLoadError\n"
        "try:\n"
        "    check_model_dir()\n"
        "except ModelLoadError as error:\n"
        "    print(error)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    message, imported = done.stdout.strip().splitlines()
    assert logged_file in message, message
    assert imported == "False False"


def test_diagnose_page_opens_without_loading_the_model(tiny_model_dir, monkeypatch) -> None:
    """A first visitor gets the page (uploader, options) from the card alone; the model is
    loaded only once there is a photo to analyse."""
    from streamlit_app import resources

    monkeypatch.setenv("SKINDX_MODEL", str(tiny_model_dir))
    loads: list[str] = []
    real = resources.engine
    monkeypatch.setattr(resources, "engine", lambda: loads.append("engine") or real())
    at = _run(AppTest.from_file(str(PAGES / "diagnose.py"), default_timeout=TIMEOUT))
    assert not at.error and loads == []
    assert any("Warning signs" in e.label for e in at.expander)


def test_the_app_shell_shows_the_plain_message(broken) -> None:
    directory, _, _ = broken
    at = _run(AppTest.from_file(str(APP), default_timeout=TIMEOUT))
    _assert_plain_message(at, directory)
    assert "not a medical device" in at.sidebar.caption[0].value


def test_model_card_page(broken, caplog) -> None:
    """The card page reads only card.json: it says the card is unavailable when the card is,
    and shows the card (whose figures still describe the trained model) when only the
    weights or the out-of-domain reference are damaged."""
    directory, logged_file, card_broken = broken
    caplog.set_level(logging.ERROR, logger=LOGGER)
    at = _run(AppTest.from_file(str(PAGES / "model_card.py"), default_timeout=TIMEOUT))
    if card_broken:
        _assert_plain_message(at, directory, "The model card is not available")
        _assert_logged_once(caplog, directory, logged_file)
    else:
        assert not at.error and "tiny-test-model" in _all_text(at)
        assert str(directory.parent) not in _all_text(at)


def test_lessons_image_quiz_shows_the_plain_message(broken, tmp_path, monkeypatch) -> None:
    """The lessons page reads the card for its figures and the examples' split, and loads the
    model only for the image quiz's answer."""
    directory, _, _ = broken
    examples = tmp_path / "examples"
    examples.mkdir()
    rows = ["lesion_id,image_id,dx,dx_type"]
    for i, code in enumerate(["mel", "nv", "df"]):
        rows.append(f"HAM_{i},ISIC_{i:07d},{code},histo")
        Image.new("RGB", (64, 48), (150 + 30 * i, 90, 60)).save(examples / f"ISIC_{i:07d}.jpg")
    (examples / "metadata.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("SKINDX_EXAMPLES_DIR", str(examples))
    st.cache_data.clear()  # the page keeps the card it read for 10 minutes
    at = _run(AppTest.from_file(str(PAGES / "lessons.py"), default_timeout=TIMEOUT))
    _run(at.button(key="lessons_iq_start").click())
    _run(at.radio(key="lessons_iq_0").set_value("mel"))
    _run(at.button(key="lessons_iq_check").click())
    _assert_plain_message(at, directory)
    assert any("The model's answer: **none" in m.value for m in at.markdown)
    at.query_params["lesson"] = "melanoma"  # figures from the card: "not available" if broken
    assert str(directory.parent) not in _all_text(_run(at))


# ----------------------------------------------------------------------------- CLI

# Lines TensorFlow's C++ runtime may write to stderr on a machine with CUDA libraries but no
# GPU (absl log lines such as "E0000 00:00:… cuda_platform.cc:52] failed call to cuInit");
# they depend on the machine, not on skindx.
_ABSL_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:")


@pytest.mark.parametrize(
    ("case", "code", "expected"),
    [
        ("missing directory", 2, "argument --model: no such directory"),
        ("corrupt model.keras", 1, "could not be read (ValueError)"),
        ("sha256 mismatch", 1, "does not match the sha256"),
        ("pickled ood.npz", 1, "ood.npz is damaged"),
    ],
)
def test_cli_predict_says_what_is_wrong_in_one_line(
    case, code, expected, tmp_path, tiny_model_dir
) -> None:
    """``python -m skindx predict IMG --model BROKEN``: one line, no traceback (exit 1; a
    directory that does not exist is a bad argument, exit 2, as for any bad option)."""
    _, breaker, _, _ = BY_NAME[case]
    directory = tmp_path / MODEL_NAME
    shutil.copytree(tiny_model_dir, directory)
    breaker(directory)
    image = tmp_path / "lesion.png"
    Image.new("RGB", (64, 48), (150, 90, 60)).save(image)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "skindx", "predict", str(image), "--model", str(directory)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == code, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if not _ABSL_LINE.match(line)]
    if code == 2:  # argparse: the usage, then one error line
        assert lines[-1].startswith("skindx predict: error:") and expected in lines[-1], lines
    else:
        assert len(lines) == 1 and lines[0].startswith("skindx: error:"), lines
        assert expected in lines[0] and "pickle" not in lines[0], lines[0]
