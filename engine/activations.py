"""What the CNN sees: the feature maps of any VGG16 conv layer for one photo, and where the deepest layer fires.

``FeatureMaps`` builds ONE Keras model with all 13 conv layers as outputs, the
first time it is asked (seconds), with the same weights and the same input as
the analysis (``decode.load_for_model``: the whole photo squeezed to 224 x 224,
VGG16's "caffe" preprocessing as in ``features``). One forward pass gives every
layer, so the result is kept per photo (a small LRU): switching layers, paging
through 512 maps or toggling the heat-map costs nothing more.

Maps are float32, H x W x C, after the layer's ReLU, in float32 precision
whatever the analysis uses (they are looked at, not compared with cached vectors).

The helpers below (``scale_maps``, ``heatmap``, ``colorize``, ``blend``) are plain
numpy so a window, a test or a script can turn maps into pixels the same way.
No Qt here.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .decode import MODEL_SIZE, load_for_model, open_rgb
from .weights import WeightsSource, build_vgg16, caffe_input

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@dataclass(frozen=True)
class ConvLayer:
    name: str  # Keras layer name, e.g. "block3_conv2"
    size: int  # height = width of its maps for a 224 x 224 input
    channels: int

    @property
    def label(self) -> str:
        return f"{self.name}  ({self.size}×{self.size}, {self.channels} maps)"


def _layers() -> tuple[ConvLayer, ...]:
    out = []
    for block, (convs, channels) in enumerate(((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)), start=1):
        size = MODEL_SIZE >> (block - 1)
        out += [ConvLayer(f"block{block}_conv{i}", size, channels) for i in range(1, convs + 1)]
    return tuple(out)


LAYERS: tuple[ConvLayer, ...] = _layers()
LAYER_NAMES: tuple[str, ...] = tuple(layer.name for layer in LAYERS)
DEEPEST = "block5_conv3"


def layer(name: str) -> ConvLayer:
    for item in LAYERS:
        if item.name == name:
            return item
    raise KeyError(f"no VGG16 conv layer {name!r}; choose one of {', '.join(LAYER_NAMES)}")


class FeatureMaps:
    """All conv activations of one photo at a time, from a VGG16 built once (lazily, thread-safe).

    ``maps(path, layer)`` and ``heatmap(path)`` may be called from any thread;
    the model is built on the first call (raises ``WeightsError`` as the
    analysis does), and decoding errors surface as ``decode.DecodeError``.
    """

    def __init__(self, weights: WeightsSource, keep: int = 2):
        self.weights = weights
        self.keep = max(1, keep)
        self._fn: Callable[[np.ndarray], Any] | None = None
        self._lock = threading.Lock()  # one forward pass at a time; guards the LRU too
        self._cache: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()

    @property
    def loaded(self) -> bool:
        return self._fn is not None

    def load(self) -> None:
        """Build the 13-output model (seconds). Safe to call again."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._fn is not None:
            return
        import tensorflow as tf

        model = build_vgg16(self.weights, list(LAYER_NAMES), "float32")

        @tf.function(input_signature=[tf.TensorSpec([1, MODEL_SIZE, MODEL_SIZE, 3], tf.uint8)])
        def forward(pixels):
            x = caffe_input(pixels)  # the same preprocessing as the analysis
            return [tf.cast(y, tf.float32) for y in model(x, training=False)]

        self._fn = forward

    def activations(self, source: str | os.PathLike | np.ndarray) -> dict[str, np.ndarray]:
        """Every conv layer's maps (H x W x C float32) for a photo path or 224 x 224 x 3 uint8 pixels."""
        key = None if isinstance(source, np.ndarray) else os.fspath(source)
        with self._lock:
            if key is not None and key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        pixels = _check_pixels(source) if isinstance(source, np.ndarray) else load_for_model(os.fspath(source))
        with self._lock:
            self._load_locked()
            assert self._fn is not None
            outputs = self._fn(pixels[None])
            result = {name: out.numpy()[0] for name, out in zip(LAYER_NAMES, outputs)}
            if key is not None:
                self._cache[key] = result
                while len(self._cache) > self.keep:
                    self._cache.popitem(last=False)
        return result

    def maps(self, source: str | os.PathLike | np.ndarray, layer_name: str) -> np.ndarray:
        """The maps of one layer: H x W x C float32 (C = 64 ... 512)."""
        layer(layer_name)  # a clear KeyError for a wrong name
        return self.activations(source)[layer_name]

    def heatmap(self, source: str | os.PathLike | np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """Where the deepest layer fires: mean of ``block5_conv3`` over its 512 maps, in [0, 1].

        ``size`` = (width, height) upsamples it (bilinear) to a photo's size; the
        model saw the photo squeezed to a square, so stretching the 14 x 14 grid
        back over the photo puts every cell where it came from.
        """
        return heatmap(self.maps(source, DEEPEST), size)

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


_shared: dict[str, FeatureMaps] = {}
_shared_lock = threading.Lock()


def shared(weights: WeightsSource) -> FeatureMaps:
    """One ``FeatureMaps`` per weights source for the whole process (a window opened twice builds once)."""
    with _shared_lock:
        key = f"{weights.value}|{weights.origin}"
        if key not in _shared:
            _shared[key] = FeatureMaps(weights)
        return _shared[key]


def _check_pixels(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.shape != (MODEL_SIZE, MODEL_SIZE, 3):
        raise ValueError(f"pixels must be {MODEL_SIZE}x{MODEL_SIZE}x3, not {'x'.join(map(str, pixels.shape))}")
    return pixels.astype(np.uint8, copy=False)


# ---- turning maps into pixels ---------------------------------------------------------------


def scale_maps(maps: np.ndarray, mode: str = "minmax", low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Per-map contrast stretch of H x W x C floats -> C x H x W uint8.

    ``minmax`` maps each map's own min..max onto 0..255; ``percentile`` its
    ``low``..``high`` percentiles (one hot pixel no longer darkens the rest).
    A flat map (a dead channel: all zero after the ReLU) stays black.
    """
    x = np.moveaxis(np.asarray(maps, dtype=np.float32), -1, 0)
    flat = x.reshape(len(x), -1)
    if mode == "minmax":
        lo, hi = flat.min(axis=1), flat.max(axis=1)
    elif mode == "percentile":  # on at most ~4,096 evenly spread pixels per map: 10x faster at 224 x 224
        step = max(1, flat.shape[1] // 4096)
        lo, hi = np.percentile(flat[:, ::step], [low, high], axis=1)
    else:
        raise ValueError(f"unknown scaling {mode!r}; use 'minmax' or 'percentile'")
    span = hi - lo
    live = span > 1e-6
    scale = np.where(live, 255.0 / np.where(live, span, 1.0), 0.0)
    out = (x - lo[:, None, None]) * scale[:, None, None]
    return np.clip(out, 0, 255).astype(np.uint8)


def strength(maps: np.ndarray) -> np.ndarray:
    """Mean activation of each map (C floats): how strongly each channel responds to this photo."""
    return np.asarray(maps, dtype=np.float32).mean(axis=(0, 1))


def heatmap(deep: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Mean over channels of H x W x C maps, min/max normalised to [0, 1], optionally resized to (w, h)."""
    mean = np.asarray(deep, dtype=np.float32).mean(axis=-1)
    lo, hi = float(mean.min()), float(mean.max())
    heat = (mean - lo) / (hi - lo) if hi - lo > 1e-9 else np.zeros_like(mean)
    if size is not None and (size[0], size[1]) != (heat.shape[1], heat.shape[0]):
        heat = np.asarray(
            Image.fromarray(heat, "F").resize((int(size[0]), int(size[1])), Image.Resampling.BILINEAR), dtype=np.float32
        )
        heat = np.clip(heat, 0.0, 1.0)
    return heat.astype(np.float32)


# A perceptual "inferno"-like ramp (black - purple - orange - yellow), 5 anchors, linearly interpolated.
_RAMP = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32)


def colorize(values: np.ndarray) -> np.ndarray:
    """[0, 1] floats (any shape) -> the same shape x 3 uint8, on a black-purple-orange-yellow ramp."""
    v = np.clip(np.asarray(values, dtype=np.float32), 0, 1) * (len(_RAMP) - 1)
    i = np.minimum(v.astype(int), len(_RAMP) - 2)
    t = (v - i)[..., None]
    return (_RAMP[i] * (1 - t) + _RAMP[i + 1] * t).astype(np.uint8)


def blend(photo: np.ndarray, heat: np.ndarray, alpha: float = 0.7) -> np.ndarray:
    """The photo (H x W x 3 uint8) with the heat-map (H x W in [0, 1]) laid over it.

    The photo is half desaturated so the ramp's colours read as heat, not as
    the photo's own; opacity follows the heat, so cold areas keep the photo
    under a thin purple veil and the places the network fires on glow orange
    and yellow.
    """
    photo = np.asarray(photo, dtype=np.float32)
    if heat.shape != photo.shape[:2]:
        raise ValueError("the heat-map must have the photo's height and width")
    grey = photo.mean(axis=-1, keepdims=True)
    base = 0.5 * photo + 0.5 * grey
    weight = (alpha * (0.35 + 0.65 * np.clip(heat, 0, 1)))[..., None]
    return (base * (1 - weight) + colorize(heat).astype(np.float32) * weight).astype(np.uint8)


def photo_pixels(path: str | os.PathLike, max_side: int = 512) -> np.ndarray:
    """The photo upright, RGB uint8, its longer side at most ``max_side`` (for showing under the heat-map)."""
    im = open_rgb(path, max_side)
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return np.asarray(im, dtype=np.uint8)


def overlay(fm: FeatureMaps, path: str | os.PathLike, max_side: int = 512, alpha: float = 0.7):
    """(photo, heat, blended) for ``path``: the photo at up to ``max_side``, its heat-map at the same size."""
    photo = photo_pixels(path, max_side)
    heat = fm.heatmap(path, (photo.shape[1], photo.shape[0]))
    return photo, heat, blend(photo, heat, alpha)
