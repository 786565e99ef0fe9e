"""Folder in, one feature vector per readable photo out: scan, cache lookup, extraction.

``analyse`` is a generator: it yields ``Progress`` after every step (so a
window can show a progress bar and a command line a tqdm bar), checks the
cancel flag between batches, and *returns* the ``Analysis``. ``run`` drives it
to the end for callers that only want the result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import descriptor
from .cache import FeatureCache, as_stored
from .features import Cancelled, FeatureExtractor
from .progress import Progress
from .scan import ScanResult, Skipped, scan_folder


@dataclass
class Analysis:
    root: Path
    images: list[str]  # relative paths with features, in scan order
    features: np.ndarray  # len(images) x descriptor.SIZE
    skipped: list[Skipped] = field(default_factory=list)
    extracted: int = 0  # images that went through the model in this run
    cached: int = 0  # images whose features came from the cache
    copies: int = 0  # images whose content is identical to one that went through the model in this run
    seconds: float = 0.0
    model_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    engine: str = ""  # engine and precision that computed the features ("OpenVINO INT8")


@dataclass
class Live:
    """What a running analysis knows, for a caller that reads it between progress steps (``progressive``).

    ``paths`` (relative, scan order) and ``features`` have one row per photo with a fingerprint; ``have``
    says which rows hold features yet. All three are set once the cache has been read, then filled in place.
    """

    paths: list[str] = field(default_factory=list)
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, descriptor.SIZE), np.float32))
    have: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


def spread_order(n: int) -> np.ndarray:
    """0..n-1 in bit-reversed order: every prefix is spread evenly over the whole range (every Nth first)."""
    if n <= 1:
        return np.arange(n)
    bits = (n - 1).bit_length()
    i = np.arange(n, dtype=np.int64)
    reversed_bits = np.zeros(n, np.int64)
    for b in range(bits):
        reversed_bits |= ((i >> b) & 1) << (bits - 1 - b)
    return np.argsort(reversed_bits, kind="stable")


def analyse(
    root: str | Path,
    extractor: FeatureExtractor,
    cache_dir: str | Path | None = None,
    cancel: threading.Event | None = None,
    exclude: tuple = (),
    spread: bool = False,
    live: Live | None = None,
) -> Generator[Progress, None, Analysis]:
    """``spread``: analyse the photos in ``spread_order`` (a sample of the whole folder first), not scan order;
    ``live``: filled in as photos are analysed."""
    started = time.perf_counter()
    yield Progress("scan", 0, 0, message="Looking for photos")
    scan: ScanResult = scan_folder(root, exclude=exclude)
    root = scan.root
    total = len(scan.images)
    yield Progress("scan", total, total, message=f"Found {total} photos")
    for notice in extractor.prepare():  # fails early, with the weights message, before any work is done
        yield Progress("model", 0, 0, message=notice)
    skipped = list(scan.skipped)
    with FeatureCache(extractor.model_id, cache_dir) as cache:
        abs_paths = [str(root / rel) for rel in scan.images]
        keys, unreadable = cache.keys_for(abs_paths)
        skipped += [Skipped(_rel(root, p), why) for p, why in unreadable]
        yield Progress("cache", total, total, message="Checked the feature cache")
        features = np.zeros((len(keys), descriptor.SIZE), np.float32)
        have = cache.fill([k.fingerprint for k in keys], features)
        cached = int(have.sum())
        # Identical content (same fingerprint) goes through the model once; its vector fills every copy.
        rows_of: dict[str, list[int]] = {}
        for i, (k, found) in enumerate(zip(keys, have)):
            if not found:
                rows_of.setdefault(k.fingerprint, []).append(i)
        todo = [keys[rows[0]] for rows in rows_of.values()]
        if spread:
            todo = [todo[i] for i in spread_order(len(todo))]
        if live is not None:
            live.paths, live.features, live.have = [_rel(root, k.path) for k in keys], features, have
        copies = sum(len(rows) - 1 for rows in rows_of.values())
        fp_of = {k.path: k.fingerprint for k in todo}
        done, model_seconds, t0 = 0, 0.0, time.perf_counter()
        message = f"{cached} cached, {len(todo)} to analyse" + (f", {copies} identical copies" if copies else "")
        yield Progress("features", 0, len(todo), message=message, engine=extractor.label)
        shared, rewritten = 0, []
        for batch in extractor.extract([k.path for k in todo], cancel):
            firsts = [rows_of[fp_of[p]][0] for p in batch.paths]
            features[firsts] = as_stored(batch.vectors)
            have[firsts] = True
            # A file rewritten while it was being read is used as it is now, but not cached
            # under the fingerprint of what it was before.
            cache.put_many([(keys[r].fingerprint, features[r]) for r in firsts if keys[r].unchanged()])
            for first in firsts:
                for r in rows_of[keys[first].fingerprint][1:]:
                    if keys[r].unchanged():
                        features[r], have[r] = features[first], True
                        shared += 1
                    else:  # rewritten since it was fingerprinted: not a copy any more, read it on its own
                        rewritten.append(r)
            skipped += [
                Skipped(_rel(root, k.path), why) for p, why in batch.failed for k in _copies(p, fp_of, rows_of, keys)
            ]
            done += len(batch.paths) + len(batch.failed)
            model_seconds += batch.model_seconds
            yield Progress.timed("features", done, len(todo), t0, engine=extractor.label)
        row_of = {keys[r].path: r for r in rewritten}
        for batch in extractor.extract(list(row_of), cancel):
            rows = [row_of[p] for p in batch.paths]
            features[rows], have[rows] = as_stored(batch.vectors), True
            skipped += [Skipped(_rel(root, p), why) for p, why in batch.failed]
            model_seconds += batch.model_seconds
        analysed = np.flatnonzero(have)
        if len(analysed) < len(keys):  # some could not be decoded: drop their empty rows
            features = features[analysed]
        return Analysis(
            root=root,
            images=[_rel(root, keys[i].path) for i in analysed],
            features=features,
            skipped=sorted(skipped, key=lambda s: s.path),
            extracted=len(analysed) - cached - shared,
            cached=cached,
            copies=shared,
            seconds=time.perf_counter() - started,
            model_seconds=model_seconds,
            warnings=[*([extractor.notice] if extractor.notice else []), *cache.warnings],
            engine=extractor.label,
        )


def _copies(path: str, fp_of: dict, rows_of: dict, keys: list) -> list:
    """The keys of every photo with the content of ``path`` (itself first)."""
    return [keys[r] for r in rows_of[fp_of[path]]]


def run(generator: Generator[Any, Any, Any], on_progress: Callable[[Any], None] | None = None):
    """Drive a progress generator to the end and return its result."""
    while True:
        try:
            progress = next(generator)
        except StopIteration as stop:
            return stop.value
        if on_progress:
            on_progress(progress)


def _rel(root: Path, path: str) -> str:
    return Path(path).relative_to(root).as_posix()


__all__ = ["Analysis", "Cancelled", "Live", "Progress", "analyse", "cached_features", "run", "spread_order"]


def cached_features(
    root: str | Path, images: list[str], model_id: str, cache_dir: str | Path | None = None
) -> np.ndarray | None:
    """Every photo's features straight from the cache, in ``images`` order (paths relative to ``root``), with no
    model: how a folder analysed before reopens with its map and review ready. None if any photo is missing
    from the cache or changed since (then it needs an analysis)."""
    with FeatureCache(model_id, cache_dir) as cache:
        keys, unreadable = cache.keys_for([str(Path(root) / p) for p in images])
        if unreadable or len(keys) != len(images):
            return None
        features = np.zeros((len(keys), descriptor.SIZE), np.float32)
        have = cache.fill([k.fingerprint for k in keys], features)
        return features if bool(have.all()) else None
