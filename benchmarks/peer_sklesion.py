"""Side by side with a peer: the HAM10000 Keras model shipped by the ``sklesion`` package.

    pip install --no-deps sklesion        # optional; not a project requirement
    python benchmarks/peer_sklesion.py [--limit N] [--model DIR] [--json OUT]

``sklesion`` (MIT, Elio Pereira) ships an Xception at 254 px with a second input of patient
metadata (sex, body site, age). Its own test report (``cr_test.pkl``) gives a macro recall, i.e.
balanced accuracy, of 0.723 on 1,511 ISIC 2018 test images. Both models run here on
``../shared/data/isic2018_test`` (the same 1,512 images and ground truth), and the script
reports per model: latency per image (JPEG bytes → class probabilities, batch 1), throughput
(batches of 32), model file size, parameters, FLOPs per image, balanced accuracy and melanoma
sensitivity (recall of the melanoma class), all computed by ``skindx.evaluation.evaluate``;
and our balanced accuracy again with each image's age, sex and site, which the peer always reads.

The peer is run the way its package does it, with the per-image Dataset and ``model.predict``
replaced by one compiled call (so its latency is not charged for that overhead; the
"as shipped" API latency is reported separately): ``tf.image.decode_jpeg``, bilinear
``tf.image.resize`` to 254×254, the model's own ``Normalization`` layer, and the metadata
vector ``sex one-hot (3) + site one-hot (5) + age / 90 + age-missing`` built from its
``model_props.pkl``. HAM10000 body sites are mapped onto its five sites as in ``SITES`` (an
assumption: the package does not ship its mapping). Its pickles are read with an unpickler that
only admits the numpy types they contain.

``--limit N`` evaluates a stratified sample of about N images, at least 5 of each class (quick
runs; the accuracy figures are then noisy). Exits 0 with a message when ``sklesion`` is not
installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import statistics
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402  (after the path and log-level setup above)
import pandas as pd  # noqa: E402
from common import median_seconds  # noqa: E402

TEST_SET = REPO.parent / "shared" / "data" / "isic2018_test"
LABELS_CSV = TEST_SET / "ISIC2018_Task3_Test_GroundTruth.csv"
BATCH = 32
PEER_REPORTED_BALANCED_ACCURACY = 0.7232
SITES = {
    "upper extremity": "arm",
    "hand": "arm",
    "face": "head-or-neck",
    "ear": "head-or-neck",
    "neck": "head-or-neck",
    "scalp": "head-or-neck",
    "lower extremity": "leg-or-genital",
    "foot": "leg-or-genital",
    "genital": "leg-or-genital",
    "acral": "leg-or-genital",
    "abdomen": "trunk",
    "back": "trunk",
    "chest": "trunk",
    "trunk": "trunk",
}


class _NumpyOnly(pickle.Unpickler):
    """The package's pickles hold dicts, numbers and small numpy arrays; nothing else loads."""

    ALLOWED = frozenset({"_reconstruct", "ndarray", "dtype", "scalar"})

    def find_class(self, module: str, name: str):
        if module.split(".")[0] == "numpy" and name in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def peer_package() -> Path | None:
    spec = importlib.util.find_spec("sklesion")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class Peer:
    """The sklesion model, its metadata encoding and a compiled forward pass."""

    def __init__(self, package: Path) -> None:
        import tensorflow as tf

        from skindx.model.networks import import_keras

        keras = import_keras()
        with open(package / "model_props.pkl", "rb") as handle:
            self.props = _NumpyOnly(handle).load()
        with open(package / "cr_test.pkl", "rb") as handle:
            self.own_report = _NumpyOnly(handle).load()
        self.path = package / "model.keras"
        self.model = keras.saving.load_model(self.path, compile=False, safe_mode=True)
        self.size = tuple(int(v) for v in self.props["img_shape"])
        self.classes = [self.props["i_cl_map"][i] for i in sorted(self.props["i_cl_map"])]
        height, width = self.size
        meta_width = self.model.inputs[1].shape[-1]
        self._forward = tf.function(
            lambda x, m: self.model([x, m], training=False),
            input_signature=[
                tf.TensorSpec((None, height, width, 3), tf.float32),
                tf.TensorSpec((None, meta_width), tf.float32),
            ],
        )

    def pixels(self, jpeg: bytes) -> np.ndarray:
        import tensorflow as tf

        image = tf.image.decode_jpeg(jpeg, channels=3)
        return tf.image.resize(image, self.size).numpy()

    def metadata(self, sex: Any, site: Any, age: Any) -> np.ndarray:
        one_hot = self.props["oh_map"]
        sex_key = sex if sex in one_hot["sex"] else "unknown"
        site_key = SITES.get(str(site).strip().lower(), "unknown")
        missing = age is None or pd.isna(age)
        value = float(self.props["age_mean"] if missing else age) / float(self.props["age_max"])
        return np.asarray(
            [*one_hot["sex"][sex_key], *one_hot["loc"][site_key], value, float(missing)],
            np.float32,
        )

    def probabilities(self, jpegs: list[bytes], metas: list[np.ndarray]) -> np.ndarray:
        x = np.stack([self.pixels(j) for j in jpegs]).astype(np.float32)
        return np.asarray(self._forward(x, np.stack(metas)))


MIN_PER_CLASS = 5


def stratified(frame: pd.DataFrame, limit: int | None, seed: int = 0) -> pd.DataFrame:
    """About ``limit`` rows in the classes' proportions, with at least ``MIN_PER_CLASS`` of
    each class (per-class recall and the official scorer need a few of each)."""
    if not limit or limit >= len(frame):
        return frame
    share = limit / len(frame)
    parts = [
        group.sample(
            min(len(group), max(MIN_PER_CLASS, round(len(group) * share))), random_state=seed
        )
        for _, group in frame.groupby("dx")
    ]
    return pd.concat(parts).sort_values("image_id")


def shipped_api_latency(package: Path, jpeg: bytes, row: pd.Series) -> dict[str, Any]:
    """Latency of the package's own ``SkinLesionClassifier.predict_P`` (Dataset + predict)."""
    try:
        from sklesion.model import SkinLesionClassifier

        warnings.filterwarnings("ignore", category=FutureWarning)  # its pandas fillna(inplace)
        classifier = SkinLesionClassifier()
        sample = {
            "image": jpeg,
            "meta": {"age": row["age"], "sex": row["sex"], "location": "unknown"},
        }
        return {"seconds": median_seconds(lambda: classifier.predict_P(sample), 5)}
    except Exception as error:  # report why the shipped API does not run on this stack
        return {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"}


def run(args: argparse.Namespace) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory(prefix="skindx-peer-") as scratch:
        return compare(args, Path(scratch))


def compare(args: argparse.Namespace, scratch: Path) -> dict[str, Any] | None:
    package = peer_package()
    if package is None:
        print("sklesion is not installed; skipping (pip install --no-deps sklesion to run it).")
        return None
    if not LABELS_CSV.is_file():
        print(f"{LABELS_CSV} not found; skipping (needs the shared ISIC 2018 test set).")
        return None
    from run import interleaved, profiler_flops, resolve_model

    from skindx.diagnosis.predict import Predictor
    from skindx.evaluation.evaluate import CODES, evaluate_model, metrics_from_probabilities

    table = pd.read_csv(LABELS_CSV)
    table = table[table["dx"].isin(CODES)]
    table = stratified(table, args.limit)
    images = TEST_SET / "images"
    jpegs = [(images / f"{image_id}.jpg").read_bytes() for image_id in table["image_id"]]
    ours_model, ours_dir, ours_name = resolve_model(args.model, scratch)
    peer = Peer(package)
    print(f"ours: {ours_name}; peer: sklesion Xception; {len(table)} images", flush=True)

    print("peer: predicting ...", flush=True)
    metas = [peer.metadata(r.sex, r.localization, r.age) for r in table.itertuples()]
    peer_probs = np.concatenate(
        [
            peer.probabilities(jpegs[i : i + BATCH], metas[i : i + BATCH])
            for i in range(0, len(jpegs), BATCH)
        ]
    )
    order = [peer.classes.index(code) for code in CODES]
    labels = np.asarray([CODES.index(dx) for dx in table["dx"]])
    peer_metrics = metrics_from_probabilities(labels, peer_probs[:, order], None)

    print("ours: evaluating ...", flush=True)
    subset = scratch / "labels.csv"
    table.to_csv(subset, index=False)
    peer_predicted = peer_probs[:, order].argmax(axis=1)
    groups = table["lesion_id"].to_numpy()
    differences = {}
    try:
        written = scratch / "ours.csv"
        ours_metrics = evaluate_model(ours_model, images, subset, predictions_csv=written)
        ours_predicted = read_predicted(written, table)
        differences["image"] = paired_difference(labels, ours_predicted, peer_predicted, groups)
        # the peer always reads age, sex and site: ours given the same, where it can use them
        if ours_model.card.context:
            given = evaluate_model(
                ours_model, images, subset, with_context=True, predictions_csv=written
            )
            ours_metrics["balanced_accuracy_with_context"] = given["balanced_accuracy"]
            differences["with_context"] = paired_difference(
                labels, read_predicted(written, table), peer_predicted, groups
            )
    except ValueError as error:  # the official scorer gives up on some tiny samples
        print(f"  (evaluate_model failed on this sample: {error}; scoring directly)")
        predictions = Predictor(ours_model).predict_batch(jpegs)
        ours_probs = np.asarray([[p.probabilities[c] for c in CODES] for p in predictions])
        ours_metrics = metrics_from_probabilities(labels, ours_probs, None)

    print("timing ...", flush=True)
    predictor = Predictor(ours_model)
    rounds = 5 if args.limit else 9
    batch_jpegs = (jpegs * BATCH)[:BATCH]
    batch_metas = (metas * BATCH)[:BATCH]
    # Interleaved rounds (run.interleaved): the machine is shared, so both sides share its noise.
    latency = {
        name: statistics.median(times)
        for name, times in interleaved(
            {
                "ours": lambda: predictor.predict(jpegs[0]),
                "peer": lambda: peer.probabilities(jpegs[:1], metas[:1]),
            },
            rounds,
            calls=3,
        ).items()
    }
    per_batch = {
        name: statistics.median(times)
        for name, times in interleaved(
            {
                "ours": lambda: predictor.predict_batch(batch_jpegs, batch_size=BATCH),
                "peer": lambda: peer.probabilities(batch_jpegs, batch_metas),
            },
            max(3, rounds // 2),
            calls=1,
            warmup=1,
        ).items()
    }
    size = ours_model.input_size
    height, width = peer.size
    flops = {
        "ours": profiler_flops(ours_model.model, (size, size, 3)),
        "peer": profiler_flops(peer.model, (height, width, 3), (metas[0].shape[0],)),
    }
    shipped = shipped_api_latency(package, jpegs[0], table.iloc[0])

    def side(key: str, model, path: Path, metrics: dict[str, Any]) -> dict[str, Any]:
        return {
            "latency_ms": latency[key] * 1e3,
            "throughput_ips": BATCH / per_batch[key],
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "parameters": int(model.count_params()),
            "gflops_per_image": None if flops[key] is None else flops[key] / 1e9,
            "balanced_accuracy": metrics["balanced_accuracy"],
            "balanced_accuracy_with_context": metrics.get("balanced_accuracy_with_context"),
            "melanoma_sensitivity": metrics["melanoma_sensitivity"],
            "accuracy": metrics["accuracy"],
        }

    return {
        "command": "python benchmarks/peer_sklesion.py"
        + (f" --limit {args.limit}" if args.limit else ""),
        "images": len(table),
        "ours_description": ours_name,
        "ours": side("ours", ours_model.model, ours_dir / "model.keras", ours_metrics),
        "peer": side("peer", peer.model, peer.path, peer_metrics),
        "balanced_accuracy_difference": differences,
        "peer_reported_balanced_accuracy": PEER_REPORTED_BALANCED_ACCURACY,
        "peer_shipped_api_latency": shipped,
        "site_mapping": SITES,
    }


def read_predicted(predictions_csv: Path, table: pd.DataFrame) -> np.ndarray:
    """Our top class per image of ``table``, from the ISIC-format CSV evaluate_model wrote."""
    from skindx.taxonomy import ISIC2018_HEADER

    frame = pd.read_csv(predictions_csv).set_index("image").loc[table["image_id"]]
    return frame[list(ISIC2018_HEADER)].to_numpy().argmax(axis=1)


def paired_difference(labels, ours, peer, groups) -> dict[str, float]:
    """Our balanced accuracy minus the peer's, with its 95% interval from the same bootstrap
    resamples of lesions for both (paired: the images' difficulty cancels out)."""
    from skindx.evaluation.metrics import (
        balanced_accuracy,
        balanced_accuracy_resamples,
        percentile_interval,
    )

    resamples = balanced_accuracy_resamples(labels, [ours, peer], groups)
    low, high = percentile_interval(resamples[:, 0] - resamples[:, 1])
    estimate = balanced_accuracy(labels, ours) - balanced_accuracy(labels, peer)
    return {"estimate": round(estimate, 4), "low": round(low, 4), "high": round(high, 4)}


def print_report(report: dict[str, Any]) -> None:
    ours, peer = report["ours"], report["peer"]
    rows = [
        ("", "skindx (ours)", "sklesion (peer)", "peer / ours"),
        ("latency per image (ms, batch 1)", ours["latency_ms"], peer["latency_ms"], None),
        ("throughput (images/s, batch 32)", ours["throughput_ips"], peer["throughput_ips"], None),
        ("model file (MB)", ours["file_mb"], peer["file_mb"], None),
        ("parameters (M)", ours["parameters"] / 1e6, peer["parameters"] / 1e6, None),
        ("GFLOP per image", ours["gflops_per_image"], peer["gflops_per_image"], None),
        ("balanced accuracy", ours["balanced_accuracy"], peer["balanced_accuracy"], None),
        ("balanced accuracy, both given age, sex, site",
         ours.get("balanced_accuracy_with_context"), peer["balanced_accuracy"], None),
        ("melanoma sensitivity", ours["melanoma_sensitivity"], peer["melanoma_sensitivity"], None),
        ("accuracy", ours["accuracy"], peer["accuracy"], None),
    ]  # fmt: skip

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        return value if isinstance(value, str) else f"{value:.3g}"

    lines = [rows[0]]
    for name, a, b, _ in rows[1:]:
        ratio = b / a if isinstance(a, int | float) and isinstance(b, int | float) and a else None
        lines.append((name, cell(a), cell(b), cell(ratio)))
    widths = [max(len(str(line[i])) for line in lines) for i in range(4)]
    for n, line in enumerate(lines):
        print(" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)))
        if n == 0:
            print("-+-".join("-" * w for w in widths))
    print(
        f"\n{report['images']} ISIC 2018 test images; ours: {report['ours_description']}. "
        f"The peer's own report: balanced accuracy {report['peer_reported_balanced_accuracy']}."
    )
    for key, words in (("image", "image alone"), ("with_context", "both given age, sex, site")):
        if difference := report["balanced_accuracy_difference"].get(key):
            print(
                f"ours minus peer, balanced accuracy, {words}: {difference['estimate']:+.3f} "
                f"(95% interval {difference['low']:+.3f} to {difference['high']:+.3f}; "
                "the same lesions resampled for both)"
            )
    shipped = report["peer_shipped_api_latency"]
    if "seconds" in shipped:
        print(
            f"peer as shipped (SkinLesionClassifier.predict_P): {shipped['seconds'] * 1e3:.0f} ms"
        )
    else:
        print(f"peer as shipped (SkinLesionClassifier.predict_P) failed: {shipped['error']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="stratified sample of N test images")
    parser.add_argument("--model", help="our model directory (default: models/default)")
    parser.add_argument("--json", help="write the report here as JSON")
    args = parser.parse_args(argv)
    report = run(args)
    if report is None:
        return 0
    print()
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
