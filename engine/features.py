"""VGG16 feature vectors, batched, with decoding overlapped with inference.

What a vector holds is defined in ``descriptor`` (GeM over halves of
``block5_conv3``). Two engines compute it: OpenVINO on CPUs (INT8, BF16 or
FP32, picked by measurement; ``openvino_model``), TensorFlow on NVIDIA GPUs
(mixed float16) and as the fallback. TensorFlow precision is picked for the
hardware: mixed float16 on a GPU, bfloat16 on CPUs with AVX512-BF16 or AMX,
float32 otherwise.
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

import numpy as np

from . import descriptor
from .decode import MODEL_SIZE, DecodeError, load_for_model
from .weights import WeightsError, WeightsSource, build_vgg16, caffe_input

log = logging.getLogger(__name__)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PRECISIONS = ("auto", "int8", "bfloat16", "float16", "float32")
ENGINES = ("auto", "openvino", "tensorflow")
ENGINE_ENV_VAR = "PHOTOCLUSTER_ENGINE"
PREPARING = "Preparing the fast CPU engine (once per weights file)…"
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


def resolve_engine(engine: str | None = None) -> str:
    """``engine``, else ``PHOTOCLUSTER_ENGINE``, else "auto"; ``ValueError`` in words for anything else."""
    value, source = (engine, "--engine") if engine else (os.environ.get(ENGINE_ENV_VAR, ""), ENGINE_ENV_VAR)
    value = (value or "auto").strip().lower()
    if value not in ENGINES:
        raise ValueError(f"unknown engine {value!r} (from {source}); choose one of {', '.join(ENGINES)}")
    return value


def choose_engine(engine: str | None, precision: str = "auto") -> str:
    """ "openvino" or "tensorflow" for ``engine`` (see ``resolve_engine``); ``ValueError`` if it lacks ``precision``."""
    engine = resolve_engine(engine)
    if engine == "auto":
        engine = "tensorflow" if precision == "float16" or nvidia_gpu() else "openvino"
    if engine == "tensorflow" and precision == "int8":
        raise ValueError("precision int8 needs the OpenVINO engine (--engine openvino or auto)")
    if engine == "openvino" and precision == "float16":
        raise ValueError("precision float16 is for NVIDIA GPUs with the TensorFlow engine")
    return engine


def nvidia_gpu() -> bool:
    """An NVIDIA GPU TensorFlow can use; TensorFlow is imported only where an NVIDIA driver is installed."""
    return os.path.exists("/proc/driver/nvidia/version") and gpu_available()


def build_tf_describer(weights: WeightsSource, precision: str = "float32"):
    """The descriptor as a TensorFlow function: uint8 batch (n x 224 x 224 x 3) in, n x SIZE float32 out."""
    import tensorflow as tf

    trunk = build_vgg16(weights, [descriptor.LAYER], _POLICY[precision])

    @tf.function(input_signature=[tf.TensorSpec([None, MODEL_SIZE, MODEL_SIZE, 3], tf.uint8, name="pixels")])
    def describe(pixels):
        x = caffe_input(pixels)
        maps = tf.nn.relu(tf.cast(trunk(x, training=False), tf.float32))
        halves = tf.split(tf.pow(maps, descriptor.GEM_P), descriptor.PARTS, axis=1)
        pooled = [tf.pow(tf.reduce_mean(h, axis=[1, 2]), 1.0 / descriptor.GEM_P) for h in halves]
        return tf.concat(pooled, axis=1)

    return describe


@dataclass
class FeatureBatch:
    """One batch's worth of results, in input order."""

    paths: list[str]
    vectors: np.ndarray  # len(paths) x descriptor.SIZE float32
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    model_seconds: float = 0.0


class FeatureExtractor:
    """Loads VGG16 once, then turns batches of image paths into descriptors.

    ``engine``: "auto" (OpenVINO on CPUs, TensorFlow on an NVIDIA GPU),
    "openvino" or "tensorflow"; None reads ``PHOTOCLUSTER_ENGINE``. With
    OpenVINO and precision "auto" the precision is known only after ``load``.
    """

    def __init__(
        self,
        weights: WeightsSource,
        precision: str = "auto",
        batch_size: int = 32,
        decode_workers: int = 2,
        engine: str | None = None,
        cache_dir: str | os.PathLike | None = None,
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        engine = choose_engine(engine, precision)
        self.weights = weights
        self.engine = engine
        self.precision = precision if engine == "openvino" or precision != "auto" else detect_precision()
        self.batch_size = batch_size
        self.decode_workers = decode_workers
        self.cache_dir = cache_dir
        self.notice = ""  # why OpenVINO was not used, when it was asked for and failed
        self._fn: Callable[[np.ndarray], np.ndarray] | None = None
        self._model_id: str | None = None

    @property
    def model_id(self) -> str:
        """Identifies the descriptor: cached vectors are reused only under the same id (loads if need be)."""
        if self.precision == "auto":
            self.load()
        if self._model_id is None:
            made_by = self.precision if self.engine == "tensorflow" else f"openvino-{self.precision}"
            self._model_id = (
                f"vgg16-{descriptor.LAYER}-gem{descriptor.GEM_P:g}x{descriptor.PARTS}-{MODEL_SIZE}-v{descriptor.VERSION}-"
                f"{made_by}-{self.weights.identity()}"
            )
        return self._model_id

    def planned_model_id(self) -> str | None:
        """``model_id`` without loading anything: what an analysis would use; None if only preparing can tell."""
        if self._fn is not None or self.precision != "auto":
            return self.model_id
        from . import openvino_model

        try:
            choice = openvino_model.recorded_choice(self._model_folder())
        except Exception:  # no OpenVINO here: the analysis will fall back to TensorFlow
            choice = ""
        if choice is None:
            return None
        planned = FeatureExtractor(self.weights, choice or detect_precision(), engine=_ENGINE_FOR[bool(choice)])
        return planned.model_id

    @property
    def device(self) -> str:
        return "GPU" if self.engine == "tensorflow" and self.precision == "float16" and gpu_available() else "CPU"

    @property
    def label(self) -> str:
        """The engine and precision in use, for people: "OpenVINO INT8", "TensorFlow bfloat16"."""
        if self.engine == "openvino":
            return f"OpenVINO {_SHORT.get(self.precision, self.precision)}"
        return f"TensorFlow {self.precision}"

    def needs_preparing(self) -> bool:
        """Whether ``load`` will build the OpenVINO model first (a minute or two, once per weights file)."""
        if self._fn is not None or self.engine != "openvino":
            return False
        from . import openvino_model

        return openvino_model.needs_preparing(self._model_folder())

    def load(self) -> None:
        """Build the model (seconds; downloads weights on first use). Raises ``WeightsError``."""
        for _ in self.prepare():
            pass

    def prepare(self) -> Iterator[str]:
        """``load``, yielding a line for people before a long step and when OpenVINO falls back to TensorFlow."""
        if self._fn is not None:
            return
        if self.engine == "openvino":
            try:
                if self.needs_preparing():
                    yield PREPARING
                self._fn = self._load_openvino()
                return
            except WeightsError:
                raise
            except Exception as exc:  # any failure of the fast engine: TensorFlow still gives the same vectors
                log.debug("OpenVINO failed", exc_info=True)
                self.notice = f"The fast CPU engine (OpenVINO) is not used: {_short(exc)}. Using TensorFlow instead."
                log.warning(self.notice)
                self.engine = "tensorflow"
                self.precision = self.precision if self.precision in _POLICY else detect_precision()
                self._model_id = None
                yield self.notice
        describe = build_tf_describer(self.weights, self.precision)
        self._fn = lambda pixels: describe(pixels).numpy()

    def _model_folder(self):
        from . import openvino_model
        from .cache import default_cache_dir

        base = self.cache_dir or default_cache_dir()
        return openvino_model.model_folder(base, self.weights)

    def _load_openvino(self) -> Callable[[np.ndarray], np.ndarray]:
        from . import openvino_model

        model = openvino_model.load(self._model_folder(), self.weights, self.precision)
        self.precision = model.precision
        self._model_id = None
        return model

    def run_batch(self, pixels: np.ndarray) -> np.ndarray:
        """Descriptors for a uint8 batch (n x 224 x 224 x 3): the model alone, for benchmarks too."""
        self.load()
        assert self._fn is not None
        return self._fn(pixels)

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


_SHORT = {"int8": "INT8", "bfloat16": "BF16", "float32": "FP32"}
_ENGINE_FOR = {True: "openvino", False: "tensorflow"}


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."


def _decode(path: str):
    """Pixels, or the reason they could not be had (a string)."""
    try:
        return load_for_model(path)
    except DecodeError as exc:
        return str(exc)
    except Exception as exc:  # a reader bug must not end the whole run
        log.exception("unexpected error decoding %s", path)
        return f"unexpected error while reading ({type(exc).__name__}: {exc})"
