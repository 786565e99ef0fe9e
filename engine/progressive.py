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
CHUNK = 8192  # photos expanded at a time


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
        chunks = [slice(i, i + CHUNK) for i in range(0, len(features), CHUNK)]  # expanded, 6 KB a photo
        self.mean = sum(descriptor.expand(features[c]).sum(axis=0) for c in chunks) / max(len(features), 1)
        self.ids = np.array(sorted(set(labels.tolist()) - {UNSORTED}), dtype=np.int32)
        sums = np.zeros((len(self.ids), len(self.mean)), np.float64)
        for c in chunks:
            known = labels[c] != UNSORTED
            z = _l2(descriptor.expand(features[c][known]) - self.mean)
            member = np.searchsorted(self.ids, labels[c][known])[:, None] == np.arange(len(self.ids))
            sums += member.T.astype(np.float32) @ z
        self.centres = _l2(sums)

    def place(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels and confidence (as ``cluster._confidence``: 1 at the centre, 0 halfway to the next)."""
        if len(self.ids) == 0:
            return np.full(len(features), UNSORTED, np.int32), np.zeros(len(features), np.float32)
        sims = _l2(descriptor.expand(features) - self.mean) @ self.centres.T  # one batch: small
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
    grouper: _Grouper | None = None
    started = 0.0
    while True:
        try:
            progress = next(steps)
        except StopIteration as stop:
            analysis: Analysis = stop.value
            break
        if progress.stage != "features":
            yield Step(progress)
            continue
        if grouper is None:  # the first features step: the rows are known now
            grouper, started = _Grouper(len(live.paths)), time.perf_counter()
        shown = grouper.fit > 0
        done = int(live.have.sum())
        # Once everything is analysed the final fit follows at once: no refit just before it.
        if done < len(live.paths) and grouper.due(done, first_fit, time.perf_counter() - started):
            grouper.refit(live, k, method, seed)
        else:
            grouper.place(live)
        groups = grouper.groups() if grouper.fit else None
        yield Step(progress, groups, list(live.paths) if groups is not None and not shown else None)
    n = len(analysis.images)
    yield Step(Progress("cluster", 0, 0, message=f"Grouping {n:,} photos"))
    t0 = time.perf_counter()
    clustering = cluster_features(analysis.features, k, method, seed)
    fits, fit_seconds = (grouper.fit, grouper.seconds) if grouper else (0, 0.0)
    return Result(analysis, clustering, fits + 1, fit_seconds, time.perf_counter() - t0)


class _Grouper:
    """The groups so far over the rows of a ``Live`` analysis: fitted on what is analysed, newcomers placed."""

    def __init__(self, n: int):
        self.labels = np.full(n, UNSORTED, np.int32)
        self.confidence = np.zeros(n, np.float32)
        self.placed = np.zeros(n, bool)
        self.fit = 0  # fits so far
        self.fitted = 0  # photos the last fit saw
        self.k: int | None = None  # the last fit's k
        self.nearest: _Nearest | None = None
        self.seconds = 0.0  # spent fitting

    def due(self, done: int, first_fit: int | None, waited: float) -> bool:
        if self.fit:
            return done >= self.fitted * GROWTH
        if first_fit is None:
            return False
        return done >= first_fit or (waited >= FIRST_FIT_SECONDS and done >= MIN_FIT)

    def refit(self, live: Live, k: int | str, method: str, seed: int) -> None:
        t0 = time.perf_counter()
        rows = np.flatnonzero(live.have)
        clustering = _fit(live.features[rows], k, method, self.k, seed)
        self.fit, self.fitted, self.k = self.fit + 1, len(rows), clustering.k
        self.labels[rows], self.confidence[rows], self.placed[rows] = clustering.labels, clustering.confidence, True
        self.nearest = _Nearest(live.features[rows], clustering.labels)
        self.seconds += time.perf_counter() - t0

    def place(self, live: Live) -> None:
        """The photos analysed since: each into its nearest cluster of the last fit."""
        new = np.flatnonzero(live.have & ~self.placed)
        if self.nearest is not None and len(new):
            self.labels[new], self.confidence[new] = self.nearest.place(live.features[new])
            self.placed[new] = True

    def groups(self) -> Groups:
        rows = np.flatnonzero(self.placed).astype(np.int32)
        shown = self.labels[rows]
        k = len(set(shown.tolist()) - {UNSORTED})
        return Groups(self.fit, rows, shown.copy(), self.confidence[rows].copy(), k)


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


def _l2(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)
