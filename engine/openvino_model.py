"""The descriptor on OpenVINO: the fast CPU engine (INT8, BF16 or FP32, picked by measurement).

TensorFlow builds VGG16 from the Keras weights once; the whole descriptor
function (pixels in, GeM vectors out) is converted to an OpenVINO model, and
NNCF quantises its convolutions to INT8 (post-training, on deterministic
synthetic images, so every machine makes the same model). Both are cached in
``<cache>/models/``, keyed by the weights file and the OpenVINO and NNCF
versions, written atomically and checked by hash on load (a damaged one is
rebuilt).

The quantisation, the first compile of each precision, a self-test against
TensorFlow float32 and a short timed probe run in a child process, once per
cached model: OpenVINO has a reported crash on some AMD Zen 4 CPUs, and a crash
there must not take the app down. The verdict is kept next to the model
(``probe.json``); "auto" takes the fastest precision that passed. Every load
repeats the self-test in this process (one small batch); any failure raises,
and ``features`` falls back to TensorFlow with a notice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import descriptor
from .atomic import atomic_write_bytes
from .decode import MODEL_SIZE
from .weights import WeightsSource

log = logging.getLogger(__name__)

PRECISIONS = ("int8", "bfloat16", "float32")  # most to least preferred when as fast
_HINT = {"bfloat16": "bf16", "float32": "f32"}  # int8: the plugin's default for what is not quantised
MIN_COSINE = 0.99  # self-test: every test image's vector against TensorFlow float32
CALIBRATION_IMAGES = 64
PROBE_BATCHES = 2  # timed batches per precision in the probe, after one warm-up batch
PROBE_BATCH = 8
TIE = 0.05  # a precision within 5 % of the fastest counts as as fast
CHILD_TIMEOUT = 1800.0


class OpenVinoError(Exception):
    """OpenVINO cannot be used here; the message says why in one line."""


def model_folder(cache_dir: str | os.PathLike, weights: WeightsSource) -> Path:
    """Where the models for ``weights`` live: a new folder for new weights, descriptor or library versions."""
    from importlib.metadata import version  # not ``import nncf``: that takes seconds

    name = (
        f"vgg16-{descriptor.LAYER}-gem{descriptor.GEM_P:g}x{descriptor.PARTS}-v{descriptor.VERSION}-"
        f"{weights.identity()}-ov{version('openvino')}-nncf{version('nncf')}"
    )
    return Path(cache_dir) / "models" / name


def needs_preparing(folder: Path) -> bool:
    return not (folder / "probe.json").is_file()


def recorded_choice(folder: Path) -> str | None:
    """The precision "auto" takes from the recorded verdict; "" if OpenVINO failed it, None if not prepared yet."""
    try:
        probe = json.loads((folder / "probe.json").read_text())
    except (OSError, ValueError):
        return None
    return "" if probe.get("error") else str(probe.get("choice", ""))


def cpu_precisions() -> list[str]:
    """The precisions worth trying on this CPU."""
    from .features import cpu_has_bf16

    return [p for p in PRECISIONS if p != "bfloat16" or cpu_has_bf16()]


@dataclass
class OpenVinoModel:
    """A compiled descriptor model; called like ``FeatureExtractor.run_batch``."""

    precision: str
    compiled: object

    def __post_init__(self):
        self._request = self.compiled.create_infer_request()

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        self._request.infer({0: np.ascontiguousarray(pixels, dtype=np.uint8)})
        return np.array(self._request.get_output_tensor(0).data, dtype=np.float32)  # a copy: the buffer is reused


def load(folder: Path, weights: WeightsSource, precision: str = "auto") -> OpenVinoModel:
    """The compiled model for ``precision`` ("auto": the probe's pick), preparing it first if need be.

    Raises ``OpenVinoError`` (or any OpenVINO error) when it cannot be used;
    ``WeightsError`` when the weights cannot be loaded.
    """
    if precision != "auto" and precision not in PRECISIONS:
        raise OpenVinoError(f"OpenVINO has no {precision} precision")
    if precision == "bfloat16" and "bfloat16" not in cpu_precisions():
        raise OpenVinoError("this CPU has no bfloat16 instructions (AVX512-BF16 or AMX)")
    probe = _probe(folder, weights)
    if not _intact(folder, probe):
        log.warning("the cached OpenVINO model in %s is damaged; it is rebuilt", folder)
        _discard(folder)
        probe = _probe(folder, weights)
    if probe.get("error"):
        raise OpenVinoError(probe["error"])
    passed = {p: r for p, r in probe["precisions"].items() if r.get("ok")}
    if precision == "auto":
        if not passed:
            raise OpenVinoError("no precision passed the self-test: " + _why_not(probe))
        precision = probe["choice"]
    elif precision not in passed:
        raise OpenVinoError(f"{precision} failed the self-test: " + _why_not(probe, precision))
    model = OpenVinoModel(precision, _compile(folder, precision))
    cosine = self_test(model, np.load(folder / "reference.npy"))
    if cosine < MIN_COSINE:
        raise OpenVinoError(f"its {precision} vectors disagree with TensorFlow float32 (cosine {cosine:.3f})")
    return model


def self_test(model, reference: np.ndarray) -> float:
    """The lowest cosine between ``model``'s vectors of the test images and TensorFlow float32's."""
    got = np.asarray(model(test_images()), dtype=np.float64)
    if got.shape != reference.shape or not np.isfinite(got).all():
        return -1.0
    ref = reference.astype(np.float64)
    cos = (got * ref).sum(1) / np.maximum(np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1), 1e-12)
    return float(cos.min())


def synthetic_image(seed: int) -> np.ndarray:
    """A deterministic photo-like image (smooth colours, soft shapes, noise): calibration and self-test input."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    n = MODEL_SIZE
    img = Image.fromarray(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)).resize((n, n), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 12))):
        x0, y0 = (int(v) for v in rng.integers(0, n, 2))
        w, h = (int(v) for v in rng.integers(10, n // 2, 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.integers(0, 2) else draw.rectangle
        shape([x0, y0, x0 + w, y0 + h], fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 2))))
    arr = np.asarray(img, np.int16) + rng.integers(-12, 13, (n, n, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def test_images() -> np.ndarray:
    return np.stack([synthetic_image(10_000 + i) for i in range(4)])


# ---- preparing (once per weights file) ------------------------------------------------
def _probe(folder: Path, weights: WeightsSource) -> dict:
    """The recorded verdict, or prepare the models and run the child that makes it."""
    from filelock import FileLock

    path = folder / "probe.json"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / ".prepare.lock"):  # a window and a command line preparing at once: one does it
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except (OSError, ValueError):
                log.warning("%s is unreadable; the OpenVINO model is prepared again", path)
        _convert(folder, weights)
        probe = _run_child(folder, cpu_precisions())
        atomic_write_bytes(path, json.dumps(probe, indent=1).encode())
        return probe


def _convert(folder: Path, weights: WeightsSource) -> None:
    """TensorFlow float32 descriptor -> OpenVINO model (fp32 IR), plus the self-test's reference vectors."""
    if (folder / "fp32" / "meta.json").is_file() and (folder / "reference.npy").is_file():
        return
    import openvino

    from .features import build_tf_describer

    describe = build_tf_describer(weights, "float32")
    buf = _npy_bytes(describe(test_images()).numpy())
    model = openvino.convert_model(describe)
    _save_ir(model, folder / "fp32")
    atomic_write_bytes(folder / "reference.npy", buf)


def _run_child(folder: Path, candidates: list[str]) -> dict:
    """Quantise, self-test and time each precision in a child process; its crash is a verdict, not ours."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), *sys.path]))
    args = [sys.executable, "-c", "from engine.openvino_model import _child_main; _child_main()"]
    args += [str(folder), ",".join(candidates), str(CALIBRATION_IMAGES), str(PROBE_BATCHES)]
    started = time.perf_counter()
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"its self-test did not finish in {CHILD_TIMEOUT:.0f} s"}
    log.info("OpenVINO prepared in %.0f s", time.perf_counter() - started)
    if done.returncode == 0:
        try:
            return json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            pass
    tail = " ".join(done.stderr.strip().splitlines()[-1:])[-300:]
    log.warning("OpenVINO self-test process failed (exit %s): %s", done.returncode, done.stderr[-2000:])
    if done.returncode < 0:
        return {"error": f"it crashed in its self-test (signal {-done.returncode})"}
    return {"error": f"its self-test failed ({tail or f'exit {done.returncode}'})"}


def _child_main() -> None:
    """Child process: argv = folder, candidates, calibration images, probe batches; prints the verdict as JSON."""
    folder, candidates, calibration, batches = Path(sys.argv[1]), sys.argv[2].split(","), *map(int, sys.argv[3:5])
    logging.basicConfig(level=logging.WARNING)
    reference = np.load(folder / "reference.npy")
    results: dict[str, dict] = {}
    pixels = np.stack([synthetic_image(20_000 + i) for i in range(PROBE_BATCH)])
    for precision in candidates:
        try:
            if precision == "int8" and not (folder / "int8" / "meta.json").is_file():
                _quantise(folder, calibration)
            model = OpenVinoModel(precision, _compile(folder, precision))
            cosine = self_test(model, reference)
            model(pixels)  # warm-up
            t0 = time.perf_counter()
            for _ in range(batches):
                model(pixels)
            rate = batches * len(pixels) / (time.perf_counter() - t0)
            results[precision] = {
                "ok": cosine >= MIN_COSINE,
                "cosine": round(cosine, 5),
                "images_per_s": round(rate, 2),
            }
        except Exception as exc:
            results[precision] = {"ok": False, "why": f"{type(exc).__name__}: {exc}"[:300]}
    passed = {p: r["images_per_s"] for p, r in results.items() if r["ok"]}
    choice = ""
    if passed:
        best = max(passed.values())
        choice = next(p for p in PRECISIONS if p in passed and passed[p] >= (1 - TIE) * best)
    print(json.dumps({"precisions": results, "choice": choice, "made": time.strftime("%Y-%m-%d %H:%M:%S")}))


def _quantise(folder: Path, calibration: int) -> None:
    """INT8 by NNCF post-training quantisation of the convolutions only (the pooling stays in float)."""
    import nncf
    import openvino

    model = openvino.Core().read_model(folder / "fp32" / "model.xml")
    data = nncf.Dataset([synthetic_image(i)[None] for i in range(calibration)])
    keep_float = ["Power", "ReduceMean", "Multiply", "Add", "Subtract", "Concat", "Split", "VariadicSplit", "Relu"]
    quantised = nncf.quantize(
        model,
        data,
        subset_size=calibration,
        ignored_scope=nncf.IgnoredScope(types=keep_float, validate=False),
    )
    _save_ir(quantised, folder / "int8")


def _compile(folder: Path, precision: str):
    import openvino

    variant = "int8" if precision == "int8" else "fp32"
    config = {"INFERENCE_PRECISION_HINT": _HINT[precision]} if precision in _HINT else {}
    core = openvino.Core()
    return core.compile_model(core.read_model(folder / variant / "model.xml"), "CPU", config)


# ---- files: atomic writes and integrity --------------------------------------------------
def _save_ir(model, dest: Path) -> None:
    """Write ``model`` as dest/model.xml + .bin + meta.json (their hashes) into a temp folder, then rename it."""
    import openvino

    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        openvino.save_model(model, tmp / "model.xml", compress_to_fp16=False)
        meta = {name: _hash(tmp / name) for name in ("model.xml", "model.bin")}
        (tmp / "meta.json").write_text(json.dumps(meta))
        if dest.exists():
            shutil.rmtree(dest)  # our own cached model, found damaged or incomplete
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _intact(folder: Path, probe: dict) -> bool:
    """Whether the models the verdict is about are still what was written (hashes in meta.json)."""
    if probe.get("error"):
        return True  # nothing to check: the verdict stands
    variants = {"int8" if p == "int8" else "fp32" for p in probe.get("precisions", {})}
    try:
        np.load(folder / "reference.npy")
        for variant in variants:
            meta = json.loads((folder / variant / "meta.json").read_text())
            if any(_hash(folder / variant / name) != digest for name, digest in meta.items()):
                return False
    except (OSError, ValueError):
        return False
    return True


def _discard(folder: Path) -> None:
    for name in ("probe.json", "reference.npy"):
        (folder / name).unlink(missing_ok=True)
    for variant in ("fp32", "int8"):
        shutil.rmtree(folder / variant, ignore_errors=True)


def _hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    out = io.BytesIO()
    np.save(out, np.asarray(array, dtype=np.float32))
    return out.getvalue()


def _why_not(probe: dict, precision: str | None = None) -> str:
    items = probe.get("precisions", {}).items()
    parts = [
        f"{p}: {r.get('why') or 'cosine ' + str(r.get('cosine'))}"
        for p, r in items
        if not r.get("ok") and (precision is None or p == precision)
    ]
    return "; ".join(parts) or "not tried on this CPU"
