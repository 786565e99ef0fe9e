"""Feature extraction spread over a Ray cluster (``python main.py extract FOLDER --ray [ADDRESS]``).

The same descriptor as a local analysis, computed by Ray Data:

1. the driver scans the folder and fingerprints every photo (``engine.cache``),
   so only photos missing from the feature cache are sent out;
2. ``map_batches(_decode_batch)``: Ray tasks decode the photos
   (``engine.decode.load_for_model``; a file that cannot be read becomes its reason);
3. ``map_batches(_Describe)``: a pool of actors, each holding one loaded
   ``FeatureExtractor`` (on CPUs, or GPUs with ``gpus_per_worker``), turns the
   pixels into descriptors through its public ``run_batch``;
4. the driver writes the vectors into the same SQLite feature cache, batch by
   batch (SQLite wants one writer; the cache lives with the driver).

The window and ``cluster`` then find every photo cached and call the model zero
times. Every node reads the photos and the weights at the same paths as the
driver (shared storage); the ``engine`` package travels to the workers with the
job (``runtime_env`` ``py_modules``), its dependencies must be installed there.
Precision is resolved once on the driver, so all vectors share one model id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import descriptor
from .cache import FeatureCache, as_stored
from .decode import MODEL_SIZE
from .features import Cancelled, FeatureExtractor, _decode
from .pipeline import Progress, _rel
from .scan import Skipped, scan_folder
from .weights import WeightsSource


@dataclass
class ExtractReport:
    root: Path
    photos: int  # readable photos with features in the cache afterwards
    extracted: int  # computed in this run
    cached: int  # already in the cache
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 0
    model_id: str = ""
    warnings: list[str] = field(default_factory=list)


def runtime_env() -> dict:
    """What a Ray job needs so its workers import this very ``engine`` (no install of PhotoCluster on the nodes)."""
    return {"py_modules": [str(Path(__file__).resolve().parent)]}


def connect(address: str | None = None, **init_kwargs) -> None:
    """Join the Ray cluster at ``address`` (None: a running local one, else a new local instance)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, runtime_env=runtime_env(), log_to_driver=False, **init_kwargs)


def resolve_precision(precision: str, gpus_per_worker: float) -> str:
    """One precision for the whole run (it is part of the cache's model id)."""
    if precision != "auto":
        return precision
    if gpus_per_worker > 0:
        return "float16"
    from .features import cpu_has_bf16

    return "bfloat16" if cpu_has_bf16() else "float32"


def extract(
    root: str | Path,
    weights: WeightsSource,
    *,
    precision: str = "auto",
    batch_size: int = 32,
    workers: int = 1,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    cache_dir: str | Path | None = None,
    cancel: threading.Event | None = None,
    exclude: tuple = (),
) -> Generator[Progress, None, ExtractReport]:
    """Fill the feature cache for ``root`` on the connected Ray cluster (call ``connect`` first).

    A generator like ``pipeline.analyse``: yields ``Progress``, returns an ``ExtractReport``.
    """
    import ray.data

    started = time.perf_counter()
    yield Progress("scan", 0, 0, message="Looking for photos")
    scan = scan_folder(root, exclude=exclude)
    root = scan.root
    total = len(scan.images)
    yield Progress("scan", total, total, message=f"Found {total} photos")
    extractor = FeatureExtractor(
        weights, resolve_precision(precision, gpus_per_worker), batch_size, engine="tensorflow"
    )
    skipped = list(scan.skipped)
    with FeatureCache(extractor.model_id, cache_dir) as cache:
        keys, unreadable = cache.keys_for([str(root / rel) for rel in scan.images])
        skipped += [Skipped(_rel(root, p), why) for p, why in unreadable]
        have = cache.fill([k.fingerprint for k in keys], np.zeros((len(keys), descriptor.SIZE), np.float32))
        todo = [k for k, found in zip(keys, have) if not found]
        cached = len(keys) - len(todo)
        yield Progress("cache", total, total, message=f"{cached} cached, {len(todo)} to analyse")
        done = extracted = 0
        if todo:
            key_of = {k.path: k for k in todo}
            ds = ray.data.from_items(
                [{"path": k.path} for k in todo], override_num_blocks=_blocks(len(todo), batch_size, workers)
            )
            ds = ds.map_batches(_decode_batch, batch_size=batch_size, batch_format="numpy")
            ds = ds.map_batches(
                _Describe,
                fn_constructor_kwargs={
                    "weights": weights,
                    "precision": extractor.precision,
                    "batch_size": batch_size,
                    "threads": max(1, int(cpus_per_worker)),
                },
                batch_size=batch_size,
                batch_format="numpy",
                concurrency=workers,
                num_cpus=cpus_per_worker,
                num_gpus=gpus_per_worker,
            )
            t0 = time.perf_counter()
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                good = []
                for path, error, vector in zip(batch["path"], batch["error"], batch["vector"]):
                    key = key_of[str(path)]
                    if error:
                        skipped.append(Skipped(_rel(root, key.path), str(error)))
                    elif key.unchanged():  # rewritten while being read: not cached under its old fingerprint
                        good.append((key.fingerprint, as_stored(vector)))
                cache.put_many(good)
                extracted += len(good)
                done += len(batch["path"])
                yield Progress.timed("features", done, len(todo), t0)
        return ExtractReport(
            root=root,
            photos=cached + extracted,
            extracted=extracted,
            cached=cached,
            skipped=sorted(skipped, key=lambda s: s.path),
            seconds=time.perf_counter() - started,
            workers=workers,
            model_id=extractor.model_id,
            warnings=list(cache.warnings),
        )


def _blocks(n: int, batch_size: int, workers: int) -> int:
    """Enough blocks for every worker to get some (Ray hands a block to one actor), few enough to keep overhead small."""
    return max(1, min(n, max(2 * workers, min(200, -(-n // (batch_size * 2))))))


def _decode_batch(batch: dict) -> dict:
    """Ray task: pixels for each path (zeros and a reason for a file that cannot be read)."""
    pixels = np.zeros((len(batch["path"]), MODEL_SIZE, MODEL_SIZE, 3), np.uint8)
    errors = []
    for i, path in enumerate(batch["path"]):
        result = _decode(str(path))
        if isinstance(result, str):
            errors.append(result)
        else:
            pixels[i] = result
            errors.append("")
    return {"path": batch["path"], "pixels": pixels, "error": np.array(errors, dtype=object)}


class _Describe:
    """Ray actor: one loaded model; decoded pixels in, descriptors out (rows that failed to decode stay zero)."""

    def __init__(self, weights: WeightsSource, precision: str, batch_size: int, threads: int):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        self.extractor = FeatureExtractor(weights, precision, batch_size, engine="tensorflow")
        self.extractor.load()

    def __call__(self, batch: dict) -> dict:
        ok = np.array([not e for e in batch["error"]], dtype=bool)
        vectors = np.zeros((len(ok), descriptor.SIZE), np.float32)
        if ok.any():
            vectors[ok] = self.extractor.run_batch(batch["pixels"][ok])
        return {"path": batch["path"], "error": batch["error"], "vector": vectors}
