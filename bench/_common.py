"""Shared helpers for the benchmark scripts in bench/ (not a test module).

Every script: ``python bench/NAME.py [--data DIR] [--weights FILE] ...`` from the
repository root. Defaults point at ``../shared`` beside the repository (the
project's read-only data and weights); nothing is ever written there. Each
measurement that extracts features gets a fresh temporary cache folder, so no
figure is flattered by an earlier run.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported anywhere

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_DATA = SHARED / "data" / "scenes6"
DEFAULT_WEIGHTS = SHARED / "models" / "vgg16_imagenet_notop.weights.h5"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# ---------------------------------------------------------------- command line


def parser(description: str, *, data: bool = True, model: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    if data:
        p.add_argument(
            "--data",
            type=Path,
            default=DEFAULT_DATA,
            help="labelled photo folder: one sub-folder per class (the folder name is the label)",
        )
    if model:
        p.add_argument(
            "--weights",
            type=Path,
            default=None,
            help=f"VGG16 no-top weights (default: $PHOTOCLUSTER_WEIGHTS, else {DEFAULT_WEIGHTS})%(default).0s",
        )
        p.add_argument("--batch-size", type=int, default=32, help="images per model call (the CLI's default)")
    return p


def weights_source(args):
    """The engine's WeightsSource for ``--weights`` / $PHOTOCLUSTER_WEIGHTS / ../shared."""
    from engine.weights import resolve_weights

    if args.weights is None and not os.environ.get("PHOTOCLUSTER_WEIGHTS"):
        args.weights = DEFAULT_WEIGHTS
    if args.weights is not None:
        return resolve_weights(str(args.weights))
    return resolve_weights(None)


def check_data(args) -> None:
    if not Path(args.data).is_dir():
        sys.exit(f"{Path(sys.argv[0]).name}: data folder {args.data} not found (use --data)")


def header(title: str, args=None, **settings) -> None:
    """Title, the command that reproduces the run, and the conditions it ran under."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_text = script.relative_to(REPO).as_posix()
    except ValueError:
        script_text = str(script)
    print(f"== {title}")
    print(f"command : python {shlex.join([script_text, *sys.argv[1:]])}   (from the repository root)")
    parts = []
    if args is not None:
        for name in ("data", "weights", "batch_size"):
            if hasattr(args, name) and getattr(args, name) is not None:
                value = getattr(args, name)
                parts.append(f"{name}={_short_path(value)}")
    parts += [f"{k}={v}" for k, v in settings.items()]
    if parts:
        print("settings: " + ", ".join(parts))
    print(f"code    : {code_version()}")
    print(
        f"machine : {platform.machine()}, {os.cpu_count()} CPUs, {cpu_name()}, python {platform.python_version()}, "
        f"load average at start {load():.1f}"
    )


def footer(started: float) -> None:
    print(f"(took {time.perf_counter() - started:.0f} s; load average at end {load():.1f})")


def code_version() -> str:
    """The commit the engine was measured at, and engine files modified on top of it."""
    import subprocess

    def git(*cmd):
        out = subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True, check=False)
        return out.stdout.rstrip() if out.returncode == 0 else ""

    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "engine").splitlines() if line.strip()]
    return f"git {rev}" + (f", engine changes not committed: {' '.join(dirty)}" if dirty else ", engine clean")


def load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _short_path(value) -> str:
    if isinstance(value, Path):
        for base, name in ((SHARED, "../shared"), (REPO, ".")):
            try:
                return f"{name}/{value.resolve().relative_to(base.resolve()).as_posix()}"
            except ValueError:
                continue
    return str(value)


def table(headers: list[str], rows: list[list]) -> None:
    """A plain aligned table: numbers right, text left."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(r[i], (int, float, np.floating, np.integer)) or r[i] in ("", "-", None) for r in rows)
        for i in range(len(headers))
    ]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    print(line(headers))
    print(line(["-" * w for w in widths]))
    for r in cells:
        print(line(r))


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "NO"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "-"
        if abs(v) >= 100:
            return f"{v:.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3f}" if abs(v) < 1 else f"{v:.2f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# ---------------------------------------------------------------- engine helpers


@contextlib.contextmanager
def fresh_dir(prefix: str):
    """A temporary folder, removed afterwards (caches, copies, synthetic photos)."""
    path = Path(tempfile.mkdtemp(prefix=f"pc-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def extractor(
    weights,
    precision: str = "auto",
    batch_size: int = 32,
    decode_workers: int = 2,
    warm: bool = True,
    engine: str | None = None,
):
    """A FeatureExtractor with the model built and traced (one throw-away batch), so timings are steady-state.

    ``engine`` None: what the app picks ($PHOTOCLUSTER_ENGINE, else auto). The OpenVINO model is prepared in
    the user cache folder (once per weights file), as the app does.
    """
    from engine.features import FeatureExtractor

    fe = FeatureExtractor(weights, precision, batch_size, decode_workers, engine=engine)
    if warm:
        t0 = time.perf_counter()
        fe.load()
        fe.run_batch(np.zeros((batch_size, 224, 224, 3), np.uint8))
        fe.warm_seconds = time.perf_counter() - t0
        _ = fe.model_id  # hashes the weights file once; a real run does this once too
    return fe


class CountingExtractor:
    """Wraps an extractor's run_batch to count the images that really went through the model."""

    def __init__(self, fe):
        self.fe, self.images, self.calls = fe, 0, 0
        self._run = fe.run_batch

        def counted(pixels):
            self.images += len(pixels)
            self.calls += 1
            return self._run(pixels)

        fe.run_batch = counted

    def reset(self):
        self.images = self.calls = 0


def analyse(folder, fe, cache_dir):
    """engine.pipeline.analyse driven to the end; returns (Analysis, wall seconds)."""
    from engine.pipeline import analyse as _analyse
    from engine.pipeline import run

    t0 = time.perf_counter()
    result = run(_analyse(folder, fe, cache_dir))
    return result, time.perf_counter() - t0


def chunk_folders(folder, size: int, dest: Path) -> list[tuple[Path, list[str]]]:
    """Split the photos of ``folder`` into folders of ``size`` photos under ``dest`` (0 = one folder).

    Symbolic links keep each photo's relative path (so its class folder, the
    label) and the scan order. Returns (chunk folder, absolute source paths) pairs.
    Lets two things be timed alternately, chunk by chunk, so that other load on
    the machine hits both alike.
    """
    root = Path(folder).resolve()
    paths = image_paths(folder)
    size = size if size > 0 else max(1, len(paths))
    out = []
    for g, start in enumerate(range(0, len(paths), size)):
        sub = Path(dest) / f"chunk{g:03d}"
        for src in paths[start : start + size]:
            link = sub / Path(src).relative_to(root)
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(src, link)
        out.append((sub, paths[start : start + size]))
    return out


def cpu_clock():
    """A stopwatch for wall and process CPU time (all threads): call it again for (wall s, CPU s)."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    return lambda: (time.perf_counter() - wall0, time.process_time() - cpu0)


def pre_decode(paths) -> np.ndarray:
    from engine.decode import load_for_model

    return np.stack([load_for_model(p) for p in paths])


def model_only(fe, pixels: np.ndarray) -> float:
    """Seconds for FeatureExtractor.run_batch over ``pixels`` in batches of fe.batch_size."""
    t0 = time.perf_counter()
    for s in range(0, len(pixels), fe.batch_size):
        fe.run_batch(pixels[s : s + fe.batch_size])
    return time.perf_counter() - t0


def image_paths(folder) -> list[str]:
    from engine.scan import scan_folder

    scan = scan_folder(folder)
    return [str(scan.root / rel) for rel in scan.images]


def label_of(rel: str) -> str:
    """The true class of a photo: its top-level folder."""
    return rel.split("/", 1)[0]


def scores(images: list[str], labels) -> tuple[float, float]:
    """(NMI, ARI) of ``labels`` against the folder names of ``images`` (relative paths)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    truth = [label_of(r) for r in images]
    return normalized_mutual_info_score(truth, labels), adjusted_rand_score(truth, labels)


# ---------------------------------------------------------------- test photos


def copy_subset(src: Path, dst: Path, per_class: int | None) -> int:
    """Copy up to ``per_class`` photos of each class folder of ``src`` into ``dst`` (same layout)."""
    n = 0
    for cls in sorted(p for p in Path(src).iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in cls.iterdir() if f.is_file() and not f.name.startswith("."))
        (dst / cls.name).mkdir(parents=True, exist_ok=True)
        for f in files[:per_class] if per_class else files:
            shutil.copy2(f, dst / cls.name / f.name)
            n += 1
    return n


def tagged_copy(src: Path, dst: Path, tag: str) -> None:
    """Copy a JPEG with a comment segment (COM) holding ``tag`` inserted after SOI.

    Same pixels, different bytes and size: a different cache fingerprint, for
    free (no re-encode). Non-JPEG files get ``tag`` appended instead.
    """
    data = Path(src).read_bytes()
    payload = tag.encode()
    if data[:2] == b"\xff\xd8":
        segment = b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload
        data = data[:2] + segment + data[2:]
    else:
        data += payload
    Path(dst).write_bytes(data)


def make_photo(path, seed: int, size=(4000, 3000), quality: int = 90) -> int:
    """Write a synthetic photo that compresses like a real one; returns its size in bytes.

    Smooth colour gradients (upscaled control points), soft-edged shapes,
    mid-frequency texture and fine sensor-like noise: at 4000x3000 and quality
    90 this gives ~3.5 MB, about what a 12 MP phone JPEG weighs.
    """
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    base[:2] = np.clip(base[:2].astype(int) // 2 + np.array([45, 60, 80]) + 40, 0, 255)  # a lighter "sky"
    img = Image.fromarray(base).resize((w, h), Image.BICUBIC)
    sw, sh = max(1, w // 4), max(1, h // 4)
    layer, mask = Image.new("RGB", (sw, sh)), Image.new("L", (sw, sh), 0)
    dl, dm = ImageDraw.Draw(layer), ImageDraw.Draw(mask)
    for _ in range(int(rng.integers(8, 20))):
        x0, y0 = int(rng.integers(0, sw)), int(rng.integers(0, sh))
        x1, y1 = x0 + int(rng.integers(4, max(5, sw // 2))), y0 + int(rng.integers(4, max(5, sh // 2)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            dl.ellipse([x0, y0, x1, y1], fill=colour)
            dm.ellipse([x0, y0, x1, y1], fill=255)
        elif kind == 1:
            dl.rectangle([x0, y0, x1, y1], fill=colour)
            dm.rectangle([x0, y0, x1, y1], fill=255)
        else:
            pts = [(int(rng.integers(0, sw)), int(rng.integers(0, sh))) for _ in range(int(rng.integers(3, 7)))]
            dl.polygon(pts, fill=colour)
            dm.polygon(pts, fill=255)
    layer = layer.resize((w, h), Image.BICUBIC)
    mask = mask.filter(ImageFilter.GaussianBlur(1)).resize((w, h), Image.BICUBIC)
    arr = np.asarray(Image.composite(layer, img, mask), dtype=np.int16)
    texture = Image.fromarray(rng.integers(0, 256, (max(1, h // 3), max(1, w // 3)), dtype=np.uint8))
    texture = (np.asarray(texture.resize((w, h), Image.BILINEAR), dtype=np.int16) - 128) // 4
    arr += (texture + rng.integers(-6, 7, (h, w), dtype=np.int16))[..., None]
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, quality=quality)
    return os.path.getsize(path)


def make_photos(folder: Path, n: int, size=(4000, 3000), quality: int = 90, seed: int = 0, workers: int = 2) -> float:
    """``n`` synthetic photos ``photo-0000.jpg``... in ``folder``; returns their mean size in MB."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo-{i:04d}.jpg" for i in range(n)]
    with ProcessPoolExecutor(max(1, workers)) as pool:
        sizes = list(pool.map(make_photo, paths, [seed + i for i in range(n)], [size] * n, [quality] * n))
    return float(np.mean(sizes)) / 1e6 if sizes else 0.0


def model_only_vectors(fe, pixels: np.ndarray, out: dict, key) -> float:
    """Like ``model_only``, keeping the vectors as the cache stores them in ``out[key]``; returns seconds."""
    from engine.cache import as_stored

    t0 = time.perf_counter()
    parts = [fe.run_batch(pixels[s : s + fe.batch_size]) for s in range(0, len(pixels), fe.batch_size)]
    seconds = time.perf_counter() - t0
    out[key] = as_stored(np.concatenate(parts))
    return seconds
