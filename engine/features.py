"""VGG16 feature vectors, batched, with decoding overlapped with inference.

What a vector holds is defined in ``descriptor`` (GeM over halves of
``block5_conv3``). Precision is
picked for the hardware: mixed float16 on a GPU, bfloat16 on CPUs with
AVX512-BF16 or AMX, float32 otherwise.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import descriptor
from .decode import MODEL_SIZE, DecodeError, load_for_model
from .weights import WeightsSource, build_vgg16, caffe_input

log = logging.getLogger(__name__)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PRECISIONS = ("auto", "bfloat16", "float16", "float32")
_POLICY = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16", "float32": "float32"}


from .cancel import Cancelled  # noqa: E402 - re-exported: the one Cancelled


def gpu_available() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def detect_precision() -> str:
    if gpu_available():
        return "float16"
    return "bfloat16" if cpu_has_bf16() else "float32"


@dataclass
class FeatureBatch:
    """One batch's worth of results, in input order."""

    paths: list[str]
    vectors: np.ndarray  # len(paths) x descriptor.SIZE float32
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    model_seconds: float = 0.0


class FeatureExtractor:
    """Loads VGG16 once, then turns batches of image paths into descriptors."""

    def __init__(self, weights: WeightsSource, precision: str = "auto", batch_size: int = 32, decode_workers: int = 2):
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        self.weights = weights
        self.precision = detect_precision() if precision == "auto" else precision
        self.batch_size = batch_size
        self.decode_workers = decode_workers
        self._fn: Callable[[np.ndarray], Any] | None = None
        self._model_id: str | None = None

    @property
    def model_id(self) -> str:
        """Identifies the descriptor: cached vectors are reused only under the same id."""
        if self._model_id is None:
            self._model_id = (
                f"vgg16-{descriptor.LAYER}-gem{descriptor.GEM_P:g}x{descriptor.PARTS}-{MODEL_SIZE}-v{descriptor.VERSION}-"
                f"{self.precision}-{self.weights.identity()}"
            )
        return self._model_id

    @property
    def device(self) -> str:
        return "GPU" if self.precision == "float16" and gpu_available() else "CPU"

    def load(self) -> None:
        """Build the model (seconds; downloads weights on first use). Raises ``WeightsError``."""
        if self._fn is not None:
            return
        import tensorflow as tf

        trunk = build_vgg16(self.weights, [descriptor.LAYER], _POLICY[self.precision])

        @tf.function(input_signature=[tf.TensorSpec([None, MODEL_SIZE, MODEL_SIZE, 3], tf.uint8)])
        def describe(pixels):
            x = caffe_input(pixels)
            maps = tf.nn.relu(tf.cast(trunk(x, training=False), tf.float32))
            halves = tf.split(tf.pow(maps, descriptor.GEM_P), descriptor.PARTS, axis=1)
            pooled = [tf.pow(tf.reduce_mean(h, axis=[1, 2]), 1.0 / descriptor.GEM_P) for h in halves]
            return tf.concat(pooled, axis=1)

        self._fn = describe

    def run_batch(self, pixels: np.ndarray) -> np.ndarray:
        """Descriptors for a uint8 batch (n x 224 x 224 x 3): the model alone, for benchmarks too."""
        self.load()
        assert self._fn is not None
        return self._fn(pixels).numpy()

    def extract(self, paths: list[str], cancel: threading.Event | None = None) -> Iterator[FeatureBatch]:
        """Yield one ``FeatureBatch`` per batch of ``paths``; decoding runs ahead in a thread pool.

        Raises ``Cancelled`` between batches once ``cancel`` is set.
        """
        self.load()
        batches = [paths[i : i + self.batch_size] for i in range(0, len(paths), self.batch_size)]
        with ThreadPoolExecutor(self.decode_workers, thread_name_prefix="decode") as pool:
            pending: deque = deque()
            ahead = 2  # batches decoded ahead of the model: bounded memory, no waiting
            next_batch = 0
            while next_batch < len(batches) and len(pending) < ahead:
                pending.append((batches[next_batch], [pool.submit(_decode, p) for p in batches[next_batch]]))
                next_batch += 1
            while pending:
                if cancel is not None and cancel.is_set():
                    for _, futures in pending:
                        for fut in futures:
                            fut.cancel()
                    raise Cancelled()
                batch_paths, futures = pending.popleft()
                if next_batch < len(batches):
                    pending.append((batches[next_batch], [pool.submit(_decode, p) for p in batches[next_batch]]))
                    next_batch += 1
                ok_paths, pixels, failed = [], [], []
                for path, fut in zip(batch_paths, futures):
                    result = fut.result()
                    if isinstance(result, str):
                        failed.append((path, result))
                    else:
                        ok_paths.append(path)
                        pixels.append(result)
                vectors = np.zeros((0, descriptor.SIZE), np.float32)
                started = time.perf_counter()
                if pixels:
                    vectors = self.run_batch(np.stack(pixels))
                yield FeatureBatch(ok_paths, vectors, failed, time.perf_counter() - started)


def _decode(path: str):
    """Pixels, or the reason they could not be had (a string)."""
    try:
        return load_for_model(path)
    except DecodeError as exc:
        return str(exc)
    except Exception as exc:  # a reader bug must not end the whole run
        log.exception("unexpected error decoding %s", path)
        return f"unexpected error while reading ({type(exc).__name__}: {exc})"
