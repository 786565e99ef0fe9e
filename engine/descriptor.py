"""What one photo's feature vector is, and how it is read back for clustering.

Chosen by measurement on scenes6 (README, "Why these features"): VGG16's
``block5_conv3`` maps, generalised-mean pooled (p = 2) separately over the top
and the bottom half of the frame. The halves keep a little layout (sky above,
water or rock below), which separates sea, glacier and mountain better than one
global vector; the global GeM is recovered exactly from the two halves.
"""

from __future__ import annotations

import numpy as np

LAYER = "block5_conv3"
CHANNELS = 512
GEM_P = 2.0
PARTS = 2  # horizontal halves
SIZE = CHANNELS * PARTS
VERSION = 3  # bump whenever decoding, pooling or preprocessing changes what a vector means


def expand(raw: np.ndarray) -> np.ndarray:
    """[global, top, bottom] GeM vectors, each L2-normalised, side by side (n x 1536)."""
    raw = np.asarray(raw, dtype=np.float32).reshape(len(raw), PARTS, CHANNELS)
    whole = np.power(np.power(raw, GEM_P).mean(axis=1), 1.0 / GEM_P)  # equal halves: exact global GeM
    parts = [whole] + [raw[:, i] for i in range(PARTS)]
    return np.hstack([_l2(p) for p in parts])


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
