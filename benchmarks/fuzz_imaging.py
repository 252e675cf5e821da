"""The long fuzz run of ``skindx.images.loading.load_image``.

    python benchmarks/fuzz_imaging.py --seconds 300 [--out DIR] [--engine auto|atheris|loop]

With atheris importable (``pip install atheris``; not a project requirement) the run is
coverage-guided by libFuzzer, seeded with the images from ``tests/fuzz_mutators.py`` and mutating
with those mutators half of the time and libFuzzer's own the other half; libFuzzer also saves
hangs (``timeout-*``) and memory blow-ups (``oom-*``) under ``--out``. Without atheris a plain
loop applies the same mutators for the given time.

A finding is any exception other than ``ImageRejected``, a result that is not H×W×3 uint8, or a
rejection that hides an error raised outside the decoders (Pillow and pillow-heif): our own code
failing. Each distinct finding is printed and its input saved as ``--out/finding-<sha1>.bin``
with the traceback next to it (``.txt``); reproduce with ``python -c "from skindx.imaging import
load_image; load_image(open('finding-….bin', 'rb').read(), max_pixels=16384)"``. The slowest
input is kept as ``slowest.bin``. Exit status: 0 when nothing was found, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import os
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
# The repo root makes ``skindx`` importable without installing it. The mutators are imported as
# the top-level ``fuzz_mutators``, as pytest does, because a third-party wheel in the venv ships
# a regular ``tests`` package that would shadow the repo's ``tests`` directory.
for _path in (REPO_ROOT / "tests", REPO_ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

_DECODER_MODULES = (
    "PIL.Image",
    "PIL.ImageFile",
    "PIL.ImageOps",
    "PIL.JpegImagePlugin",
    "PIL.MpoImagePlugin",
    "PIL.PngImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.WebPImagePlugin",
    "PIL.BmpImagePlugin",
    "PIL.TiffImagePlugin",
    "PIL.TiffTags",
    "pillow_heif.as_plugin",
    "pillow_heif.heif",
)
_REPORT_EVERY_S = 10.0


class Findings:
    """Runs cases through the oracle, saves reproducers and prints progress."""

    def __init__(self, harness: ModuleType, out: Path) -> None:
        self.harness = harness
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.cases = 0
        self.found = 0
        self.signatures: set[str] = set()
        self.started = time.monotonic()
        self.last_report = self.started
        self.slowest = (0.0, b"")
        self.exit_at: float | None = None
        """When set, the process ends there with the final report (libFuzzer never returns)."""

    def check(self, data: bytes) -> None:
        began = time.perf_counter()
        error = self.harness.unexpected_error(data)
        took = time.perf_counter() - began
        self.cases += 1
        if took > self.slowest[0]:
            self.slowest = (took, data)
        if error is not None:
            self.record(data, error)
        now = time.monotonic()
        if self.exit_at is not None and now >= self.exit_at:
            self.report(final=True)
            os._exit(1 if self.found else 0)
        if now - self.last_report >= _REPORT_EVERY_S:
            self.report()

    def record(self, data: bytes, error: BaseException) -> None:
        self.found += 1
        frames = traceback.extract_tb(error.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        signature = f"{type(error).__name__}@{where}"
        if signature in self.signatures:
            return
        self.signatures.add(signature)
        digest = hashlib.sha1(data).hexdigest()[:16]
        path = self.out / f"finding-{digest}.bin"
        path.write_bytes(data)
        path.with_suffix(".txt").write_text(self.harness.describe(error))
        print(f"FINDING {type(error).__name__}: {error} at {where} -> {path}", flush=True)

    def report(self, final: bool = False) -> None:
        self.last_report = time.monotonic()
        elapsed = max(self.last_report - self.started, 1e-9)
        label = "done" if final else "running"
        print(
            f"[{label}] {self.cases} cases in {elapsed:.0f} s = {self.cases / elapsed:.0f} cases/s;"
            f" {self.found} findings ({len(self.signatures)} distinct);"
            f" slowest case {self.slowest[0] * 1000:.1f} ms",
            flush=True,
        )
        if final and self.slowest[1]:
            (self.out / "slowest.bin").write_bytes(self.slowest[1])


def _harness(atheris: ModuleType | None) -> ModuleType:
    """Import the code under test (instrumented for atheris when given), then the mutators."""
    if atheris is not None:
        with atheris.instrument_imports(include=["PIL", "skindx"]):
            for name in (*_DECODER_MODULES, "skindx.images.loading"):
                importlib.import_module(name)
    return importlib.import_module("fuzz_mutators")


def run_loop(seconds: float, out: Path, seed: int) -> int:
    harness = _harness(None)
    findings = Findings(harness, out)
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    for data in harness.seed_images():
        findings.check(data)
    while time.monotonic() < deadline:
        _, _, data = harness.random_case(rng)
        findings.check(data)
    findings.report(final=True)
    return 1 if findings.found else 0


def run_atheris(atheris: ModuleType, seconds: float, out: Path, seed: int) -> int:
    harness = _harness(atheris)
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for index, data in enumerate(harness.seed_images()):
        (corpus / f"seed-{index:02d}").write_bytes(data)
    findings = Findings(harness, out)
    findings.exit_at = time.monotonic() + seconds
    mutators = harness.MUTATORS

    def custom_mutator(data: bytes, max_size: int, mutation_seed: int) -> bytes:
        rng = random.Random(mutation_seed)
        if rng.random() < 0.5:
            return atheris.Mutate(data, max_size)
        steps = [
            (rng.randrange(len(mutators)), rng.getrandbits(32)) for _ in range(rng.randint(1, 3))
        ]
        return harness.apply_mutations(data, steps)[:max_size]

    libfuzzer_args = [
        sys.argv[0],
        f"-max_total_time={int(seconds) + 60}",
        f"-max_len={harness.MAX_CASE_BYTES}",
        f"-artifact_prefix={out}/",
        f"-seed={seed or 1}",
        "-timeout=20",
        "-rss_limit_mb=4096",
        "-print_final_stats=1",
        str(corpus),
    ]
    atheris.Setup(libfuzzer_args, findings.check, custom_mutator=custom_mutator)
    atheris.Fuzz()
    return 1 if findings.found else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz")
    parser.add_argument("--out", type=Path, help="where findings go (default: a new temp dir)")
    parser.add_argument("--engine", choices=("auto", "atheris", "loop"), default="auto")
    parser.add_argument("--seed", type=int, default=0, help="random seed (loop engine, libFuzzer)")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="skindx-fuzz-imaging-"))
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if importlib.util.find_spec("atheris") else "loop"
    print(
        f"fuzzing load_image for {args.seconds:.0f} s with {engine}; findings -> {out}", flush=True
    )
    if engine == "atheris":
        return run_atheris(importlib.import_module("atheris"), args.seconds, out, args.seed)
    return run_loop(args.seconds, out, args.seed)


if __name__ == "__main__":
    sys.exit(main())
