"""Progressive analysis: groups on screen long before every photo is analysed.

The photos are analysed in ``spread_order`` (every Nth across the folder first;
cached ones are there from the start), so the first few hundred are a fair
sample of the whole folder. Once ``FIRST_FIT`` are analysed (or ``FIRST_FIT_SECONDS``
have passed with at least ``MIN_FIT`` done) they are clustered the usual way
(``cluster_features``, automatic k included); each batch after that joins its
nearest cluster; the clustering is fitted again each time the analysed count
has doubled, and once more on everything at the end: that last one is exactly
the one-shot clustering of the same photos.

``analyse_progressively`` is a generator like ``pipeline.analyse``: it yields a
``Step`` (the analysis' progress and, from the first fit on, the ``Groups`` so
far), stops with ``Cancelled`` when asked to, and returns a ``Result``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import descriptor
from .cluster import AUTO_TIE, UNSORTED, Clustering, cluster_features
from .features import FeatureExtractor
from .pipeline import Analysis, Live, analyse
from .progress import Progress

FIRST_FIT = 300  # photos analysed before the first clusters are shown
MIN_FIT = 100  # ... or this many once FIRST_FIT_SECONDS of analysing have passed (slow machines)
FIRST_FIT_SECONDS = 30.0
GROWTH = 2.0  # refit when the analysed count has grown by this factor


@dataclass(frozen=True)
class Groups:
    """The groups so far: a label for every photo analysed yet (rows of the analysis' ``Live.paths``).

    Labels are those of fit number ``fit``: between refits they keep their meaning, so a photo
    placed once keeps its label until the next fit.
    """

    fit: int
    rows: np.ndarray  # int32 row numbers into the paths list
    labels: np.ndarray  # int32 cluster label per row; UNSORTED (-1) possible with HDBSCAN
    confidence: np.ndarray  # float32 per row
    k: int


@dataclass(frozen=True)
class Step:
    progress: Progress
    groups: Groups | None = None  # None until the first fit
    paths: list[str] | None = None  # the rows' relative paths: sent with the first Step that has groups


@dataclass
class Result:
    analysis: Analysis
    clustering: Clustering  # of ``analysis.features``, exactly as ``cluster_features`` gives it
    fits: int  # how many times the clustering was fitted, the final one included
    fit_seconds: float  # spent on the fits before the final one (the price of seeing groups early)
    cluster_seconds: float  # the final fit


class _Nearest:
    """Places photos into the clusters of one fit: cosine to each cluster's mean, in the fit's centred space."""

    def __init__(self, features: np.ndarray, labels: np.ndarray):
        e = descriptor.expand(features)
        self.mean = e.mean(axis=0)
        z = _l2(e - self.mean)
        self.ids = np.array(sorted(set(labels.tolist()) - {UNSORTED}), dtype=np.int32)
        centres = np.stack([z[labels == c].mean(axis=0) for c in self.ids]) if len(self.ids) else z[:0]
        self.centres = _l2(centres)

    def place(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels and confidence (as ``cluster._confidence``: 1 at the centre, 0 halfway to the next)."""
        if len(self.ids) == 0:
            return np.full(len(features), UNSORTED, np.int32), np.zeros(len(features), np.float32)
        sims = _l2(descriptor.expand(features) - self.mean) @ self.centres.T
        order = np.argsort(-sims, axis=1)
        labels = self.ids[order[:, 0]]
        if len(self.ids) < 2:
            return labels, np.ones(len(features), np.float32)
        rows = np.arange(len(features))
        d1 = np.sqrt(np.maximum(2 - 2 * sims[rows, order[:, 0]], 0))
        d2 = np.sqrt(np.maximum(2 - 2 * sims[rows, order[:, 1]], 0))
        return labels, np.clip((d2 - d1) / np.maximum(d2, 1e-12), 0, 1).astype(np.float32)


def analyse_progressively(
    root: str | Path,
    extractor: FeatureExtractor,
    k: int | str = "auto",
    method: str = "kmeans",
    seed: int = 0,
    cache_dir: str | Path | None = None,
    cancel: threading.Event | None = None,
    exclude: tuple = (),
    first_fit: int | None = FIRST_FIT,
) -> Generator[Step, None, Result]:
    """``first_fit``: photos analysed before the first groups; None for none before the end (one-shot)."""
    live = Live()
    steps = analyse(root, extractor, cache_dir, cancel, exclude, spread=True, live=live)
    fit, fitted, nearest, fit_seconds = 0, 0, None, 0.0
    fitted_k: int | None = None  # the k of the last fit
    labels, confidence, placed = np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, bool)
    paths_sent = False
    started = None
    while True:
        try:
            progress = next(steps)
        except StopIteration as stop:
            analysis: Analysis = stop.value
            break
        groups = None
        if progress.stage == "features":
            started = started or time.perf_counter()
            if len(labels) != len(live.paths):  # the first features step: the rows are known now
                labels = np.full(len(live.paths), UNSORTED, np.int32)
                confidence = np.zeros(len(live.paths), np.float32)
                placed = np.zeros(len(live.paths), bool)
            done = int(live.have.sum())
            everything = done == len(live.paths)  # the final fit follows at once: no need for another
            waited = time.perf_counter() - started >= FIRST_FIT_SECONDS
            due = first_fit is not None and (done >= min(first_fit, len(live.paths)) or (waited and done >= MIN_FIT))
            if not everything and ((nearest is None and due) or (nearest is not None and done >= fitted * GROWTH)):
                rows = np.flatnonzero(live.have)
                t0 = time.perf_counter()
                clustering = _fit(live.features[rows], k, method, fitted_k, seed)
                fitted_k = clustering.k
                fit, fitted = fit + 1, len(rows)
                labels[rows], confidence[rows], placed[rows] = clustering.labels, clustering.confidence, True
                nearest = _Nearest(live.features[rows], clustering.labels)
                fit_seconds += time.perf_counter() - t0
            elif nearest is not None:
                new = np.flatnonzero(live.have & ~placed)
                if len(new):
                    labels[new], confidence[new] = nearest.place(live.features[new])
                    placed[new] = True
            if nearest is not None:
                groups = _groups(fit, placed, labels, confidence)
        step_paths = None
        if groups is not None and not paths_sent:
            step_paths, paths_sent = list(live.paths), True
        yield Step(progress, groups, step_paths)
    n = len(analysis.images)
    yield Step(Progress("cluster", 0, 0, message=f"Grouping {n:,} photos"))
    t0 = time.perf_counter()
    clustering = cluster_features(analysis.features, k, method, seed)
    return Result(analysis, clustering, fit + 1, fit_seconds, time.perf_counter() - t0)


def _fit(features: np.ndarray, k: int | str, method: str, previous: int | None, seed: int) -> Clustering:
    """A fit before the final one. With automatic k, the previous fit's k is kept while it is among the
    tied best (``AUTO_TIE``), so the number of groups on screen does not jump about for nothing."""
    clustering = cluster_features(features, k, method, seed)
    scores = clustering.k_scores
    if k != "auto" or previous is None or previous == clustering.k or previous not in scores:
        return clustering
    if scores[previous] >= max(scores.values()) - AUTO_TIE:
        return cluster_features(features, previous, method, seed)
    return clustering


def _groups(fit: int, placed: np.ndarray, labels: np.ndarray, confidence: np.ndarray) -> Groups:
    rows = np.flatnonzero(placed).astype(np.int32)
    shown = labels[rows]
    k = len(set(shown.tolist()) - {UNSORTED})
    return Groups(fit, rows, shown.copy(), confidence[rows].copy(), k)


def _l2(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)
