"""VGG16 conv maps of a labelled folder, computed once and kept in a .npz (not a test module).

Descriptor variants (bench/descriptor.py) and the clustering benches (auto_k.py,
pins.py) all start from the same maps, so VGG16 runs once per photo per set:

* ``b5``: relu(block5_conv3), 14 x 14 x 512, float16;
* ``b4``: relu(block4_conv3) GeM p=2 pooled over 2 x 2 windows, 14 x 14 x 512,
  float16, so a GeM p=2 of block4 over any region of the 14 x 14 grid is exact.

``transform`` makes a derived set from the same photos: ``centre`` keeps the
central 50 % of each side (the dish or object fills the frame: an object-centric
version of the set), ``rotate`` turns each photo by 0/90/180/270 degrees at
random (seeded per photo: no up/down layout to lean on).
"""

from __future__ import annotations

import hashlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _common as c
import numpy as np

TRANSFORMS = ("none", "centre", "rotate")


def add_set_options(p) -> None:
    """The options every bench over stored maps takes: which labelled sets, and where the maps are kept."""
    p.add_argument("--data-root", type=Path, default=c.SHARED / "data", help="folder holding the labelled sets")
    p.add_argument("--sets", default="scenes6,food101_10", help="comma-separated set names under --data-root")
    p.add_argument("--store", type=Path, default=Path("/tmp/pc-maps"), help="where the conv maps are kept")


def load_maps(data: Path, store: Path, weights_args, transform: str = "none", batch: int = 16) -> dict:
    """``{"images", "labels", "b5", "b4"}`` for ``data``; computed into ``store`` the first time."""
    if store.exists():
        z = np.load(store, allow_pickle=False)
        return {k: z[k] for k in z.files}
    paths = [Path(p).relative_to(Path(data).resolve()).as_posix() for p in c.image_paths(data)]
    out = compute(data, paths, weights_args, transform, batch)
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.with_suffix(".part.npz")
    np.savez(tmp, **out)
    tmp.replace(store)
    return out


def compute(data: Path, paths: list[str], weights_args, transform: str, batch: int) -> dict:
    import tensorflow as tf

    from engine.features import _POLICY, detect_precision
    from engine.weights import build_vgg16, caffe_input

    trunk = build_vgg16(c.weights_source(weights_args), ["block4_conv3", "block5_conv3"], _POLICY[detect_precision()])

    @tf.function(input_signature=[tf.TensorSpec([None, 224, 224, 3], tf.uint8)])
    def maps(pixels):
        b4, b5 = trunk(caffe_input(pixels), training=False)
        b4 = tf.nn.relu(tf.cast(b4, tf.float32))
        b5 = tf.nn.relu(tf.cast(b5, tf.float32))
        b4 = tf.sqrt(tf.nn.avg_pool2d(b4 * b4, 2, 2, "VALID"))  # GeM p=2 per 2x2 window (x**2 would overflow float16)
        return tf.cast(b4, tf.float16), tf.cast(b5, tf.float16)

    n = len(paths)
    b4s = np.zeros((n, 14, 14, 512), np.float16)
    b5s = np.zeros((n, 14, 14, 512), np.float16)
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        for start in range(0, n, batch):
            chunk = paths[start : start + batch]
            pixels = np.stack(list(pool.map(lambda rel: _pixels(data / rel, transform), chunk)))
            b4, b5 = maps(pixels)
            b4s[start : start + len(chunk)] = b4.numpy()
            b5s[start : start + len(chunk)] = b5.numpy()
            done = start + len(chunk)
            rate = done / (time.perf_counter() - started)
            print(f"\r  maps of {data.name} ({transform}): {done}/{n}, {rate:.1f} images/s", end="", file=sys.stderr)
    print(file=sys.stderr)
    return {"images": np.array(paths), "labels": np.array([c.label_of(p) for p in paths]), "b5": b5s, "b4": b4s}


def _pixels(path: Path, transform: str) -> np.ndarray:
    from PIL import Image

    from engine.decode import MODEL_SIZE, load_for_model, open_rgb

    if transform == "none":
        return load_for_model(path)  # exactly what the engine feeds the model
    im = open_rgb(path, 2 * MODEL_SIZE, cover=True)
    if transform == "centre":
        w, h = im.size
        im = im.crop((w // 4, h // 4, w - w // 4, h - h // 4))
    elif transform == "rotate":
        turn = int(hashlib.blake2b(path.name.encode(), digest_size=1).digest()[0]) % 4
        im = im.rotate(90 * turn, expand=True)
    im = im.resize((MODEL_SIZE, MODEL_SIZE), Image.BILINEAR, reducing_gap=2.0)
    return np.asarray(im, dtype=np.uint8)


def stored_vectors(maps: dict) -> np.ndarray:
    """What the engine stores per photo (engine.descriptor): GeM p=2 of block5_conv3 over the top and bottom halves."""
    from engine import descriptor

    b5 = maps["b5"].astype(np.float32)
    p = descriptor.GEM_P
    halves = [np.power(np.power(h, p).mean(axis=(1, 2)), 1.0 / p) for h in np.split(b5, descriptor.PARTS, axis=1)]
    return np.hstack(halves).astype(np.float16).astype(np.float32)  # the cache keeps float16


def balanced_subsets(labels: np.ndarray, per_class: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` class-balanced random subsets with ``per_class`` photos of every class (row indices, sorted)."""
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels.tolist()))
    return [
        np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes]))
        for _ in range(count)
    ]
