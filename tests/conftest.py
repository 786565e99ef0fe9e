"""Shared test set-up: offscreen Qt, private cache/data folders, the shared VGG16 weights, image makers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The existing tests run the TensorFlow engine (no minute of OpenVINO preparation per cache folder);
# tests/unit/test_openvino_engine.py checks the OpenVINO engine explicitly.
os.environ.setdefault("PHOTOCLUSTER_ENGINE", "tensorflow")

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
WEIGHTS = SHARED / "models" / "vgg16_imagenet_notop.weights.h5"
SCENES6 = SHARED / "data" / "scenes6"
sys.path.insert(0, str(REPO))


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user cache, data folder or weights setting."""
    base = tmp_path_factory.mktemp("appdirs")
    monkeypatch.setenv("PHOTOCLUSTER_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("PHOTOCLUSTER_DATA_DIR", str(base / "data"))
    monkeypatch.delenv("PHOTOCLUSTER_WEIGHTS", raising=False)


@pytest.fixture(scope="session")
def weights_path() -> Path:
    assert WEIGHTS.is_file(), f"the shared VGG16 weights are missing: {WEIGHTS}"
    return WEIGHTS


@pytest.fixture(scope="session")
def extractor(weights_path):
    """One loaded VGG16 for the whole test session (building it takes seconds)."""
    from engine.features import FeatureExtractor
    from engine.weights import resolve_weights

    ex = FeatureExtractor(resolve_weights(str(weights_path)), batch_size=8)
    ex.load()
    return ex


def make_photo(path: Path, kind: str, seed: int = 0, size=(96, 96), fmt: str | None = None, **save) -> Path:
    """A small synthetic photo of one of three visually distinct kinds."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == "red":
        arr = np.stack(
            [200 + rng.integers(0, 55, (h, w)), rng.integers(0, 60, (h, w)), rng.integers(0, 60, (h, w))], -1
        )
    elif kind == "stripes":
        band = ((xx + seed * 3) // 6 % 2) * 235 + rng.integers(0, 20, (h, w))
        arr = np.stack([band, band, band], -1)
    else:  # "sky": smooth blue gradient
        arr = np.stack([xx * 0 + 40, yy * 120 // max(h, 1) + 60, 180 + xx * 60 // max(w, 1)], -1)
        arr = arr + rng.integers(-10, 10, arr.shape)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt, **save)
    return path


@pytest.fixture
def photo_maker():
    return make_photo


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    """Three groups of six photos, in two subfolders."""
    root = tmp_path / "photos"
    for i in range(6):
        make_photo(root / "a" / f"red_{i}.jpg", "red", i)
        make_photo(root / "a" / f"stripes_{i}.png", "stripes", i)
        make_photo(root / "b" / f"sky_{i}.jpg", "sky", i)
    return root
