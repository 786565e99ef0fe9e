"""Grouping steered by the photos the person placed by hand (pins).

Pins are labelled examples, so they do two things here (bench/pins.py measures both):

1. **A metric learned from them.** Beside the usual space (engine.cluster.prepare)
   comes a second view of the same descriptors in which the directions that
   photos of one pinned group differ in (within-group scatter) are shrunk:
   PCA to 256 dimensions, whitening against the pins' within-group covariance
   blended with the identity (few pins must not over-fit), then the same PCA to
   64 and neighbour smoothing. The groups a constrained k-means finds in that
   space (all photos, not 5 a group) are then whitened against once more. The
   learned view is weighted by how much the pins contradict the unguided
   grouping: pins that agree with it (scenes6) leave the space alone, pins that
   contradict it (food101_10) count fully.
2. **Seeded, constrained k-means.** Each pinned group starts a centroid at the
   mean of its pins, pinned photos never leave their group, and only the other
   photos move; extra clusters (k above the number of pinned groups) start
   k-means++-style. As far as the pins contradict the grouping, a pinned
   group's centroid stays anchored to the mean of its pins (a share of every
   update); pins that agree with it add nothing an anchor would improve, and on
   scenes6 the anchor cost 0.002 NMI.

The result's ``fixed`` maps each pinned group's label to the cluster id the
person gave it, so a regroup keeps the names and ids the person sees.
"""

from __future__ import annotations

import csv
import os
from pathlib import PurePosixPath

import numpy as np
from sklearn.decomposition import PCA

from . import cluster as base
from . import descriptor

LEARNED_DIMS = 256  # PCA size of the view the metric is learned in
LEARNED_FIT_ROWS = 5_000  # its PCA is fitted on a sample this size (seconds, not tens, at 100,000 photos)
LEARNED_WEIGHT = 2.0  # the learned view's weight beside the usual one, when the pins contradict the grouping
STEER_FROM, STEER_FULL = 0.2, 0.4  # disagreement where the learned view starts to count, and counts fully
SHRINK = 0.6  # within-group covariance blended with this much identity before whitening
ANCHOR = 0.5  # share of a pinned group's centroid kept at the mean of its pins, when the pins contradict the grouping
MIN_PINNED_GROUPS = 2  # a metric needs at least two groups to tell apart
ITERATIONS = 60
RESTARTS = 4  # seeded restarts of the free centroids; the lowest inertia wins


def cluster_guided(features: np.ndarray, pins: dict[int, int], k: int | str = "auto", seed: int = 0) -> base.Clustering:
    """Cluster ``features`` with ``pins`` (row index -> cluster id the person chose) kept and steering the rest.

    ``k`` ("auto" or a number) is raised to the number of pinned groups when lower.
    """
    n = len(features)
    if not pins:
        return base.cluster_features(features, k, "kmeans", seed)
    if any(not 0 <= i < n for i in pins):
        raise ValueError("a pinned row is outside the features")
    with base._thread_limit():
        ids = sorted(set(pins.values()))
        pinned_label = np.full(n, -1, dtype=int)
        for row, cid in pins.items():
            pinned_label[row] = ids.index(cid)
        x, steer = steered_space(features, pinned_label, seed)
        scores: dict[int, float] = {}
        clear = True
        if k == "auto":
            k, scores, clear = base.choose_k(x, seed)
            if not clear:  # the photos show no k of their own: the person's groups are the best guide
                k = len(ids)
        k = min(max(int(k), len(ids)), n)
        labels, centroids = constrained_kmeans(x, pinned_label, len(ids), k, seed, ANCHOR * steer)
    labels, centroids = _renumber(labels, centroids, len(ids))
    confidence = base._confidence(x, labels, centroids)
    reps = base._representatives(x, labels, centroids)
    found = len(set(labels.tolist()))
    fixed = dict(enumerate(ids))
    return base.Clustering(labels, confidence, reps, found, "kmeans", scores, clear, fixed)


def steered_space(features: np.ndarray, pinned_label: np.ndarray, seed: int = 0) -> tuple[np.ndarray, float]:
    """The usual clustering space beside a learned view, and how much the pins steer (0..1, the disagreement ramp).

    The view is whitened against the pins' within-group scatter, then once more against the within-cluster
    scatter of a constrained k-means in that space: 5 pins a group are few, all photos in those groups are
    many (food101_10 +0.074 -> +0.095 NMI).
    """
    x = base.prepare(features, seed)
    groups = [np.flatnonzero(pinned_label == g) for g in range(pinned_label.max() + 1)]
    groups = [g for g in groups if len(g) >= 2]
    dims = min(LEARNED_DIMS, len(features) - 1, descriptor.SIZE)
    if len(groups) < MIN_PINNED_GROUPS or dims < 2:
        return x, 0.0
    ramp = (disagreement(x, pinned_label, seed) - STEER_FROM) / (STEER_FULL - STEER_FROM)
    steer = float(np.clip(ramp, 0.0, 1.0))
    if steer == 0.0:
        return x, 0.0
    z = base._l2(descriptor.expand(features))
    z = base._l2(z - z.mean(axis=0))
    fit_rows = z[base._sample(len(z), LEARNED_FIT_ROWS, seed)]
    z = PCA(n_components=dims, random_state=seed).fit(fit_rows).transform(z).astype(np.float32)

    def side_by_side(groups: list[np.ndarray]) -> np.ndarray:
        return base._l2(np.hstack([x, LEARNED_WEIGHT * steer * base.embed(_whiten(z, groups), seed)]))

    steered = side_by_side(groups)
    count = int(pinned_label.max()) + 1
    labels, _ = constrained_kmeans(steered, pinned_label, count, count, seed, ANCHOR * steer)
    clusters = [g for g in (np.flatnonzero(labels == c) for c in range(count)) if len(g) >= 2]
    return side_by_side(clusters), steer


def _whiten(z: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """``z`` whitened against the within-group covariance of ``groups``, blended with ``SHRINK`` identity."""
    dims = z.shape[1]
    within = np.vstack([z[g] - z[g].mean(axis=0) for g in groups])
    cov = within.T @ within / len(within)
    cov = cov / max(float(np.trace(cov)) / dims, 1e-12)  # unit average variance: SHRINK means the same anywhere
    values, vectors = np.linalg.eigh((1.0 - SHRINK) * cov + SHRINK * np.eye(dims))
    return base._l2((z @ (vectors / np.sqrt(values)) @ vectors.T).astype(np.float32))


def disagreement(x: np.ndarray, pinned_label: np.ndarray, seed: int = 0) -> float:
    """How much the pins contradict the unguided grouping: 1 - NMI between the pinned groups and plain k-means
    (as many clusters as groups) on the pinned photos; 0 when it already sorts them as the person did.

    5 pins per class: 0.00-0.22 on scenes6 (the grouping is right), 0.42-0.49 on food101_10 (it is not).
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    pinned = np.flatnonzero(pinned_label >= 0)
    groups = int(pinned_label.max()) + 1
    rows = np.union1d(base._sample(len(x), base.AUTO_SAMPLE, seed), pinned)  # a sample is enough to judge
    plain = KMeans(n_clusters=groups, n_init=3, random_state=seed).fit(x[rows]).predict(x[pinned])
    return 1.0 - float(normalized_mutual_info_score(pinned_label[pinned], plain))


def constrained_kmeans(
    x: np.ndarray, pinned_label: np.ndarray, groups: int, k: int, seed: int, anchor: float = ANCHOR
) -> tuple[np.ndarray, np.ndarray]:
    """k-means where rows with ``pinned_label`` >= 0 stay in that cluster; clusters 0..groups-1 start at the pins.

    A pinned group's centroid keeps ``anchor`` of the mean of its pins, so the
    person's examples keep pulling it and it cannot drift off to another group.
    """
    rng = np.random.default_rng(seed)
    pinned = pinned_label >= 0
    seeds = np.stack([x[pinned_label == g].mean(axis=0) for g in range(groups)]).astype(np.float32)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(RESTARTS if k > groups else 1):
        centroids = _plus_plus(x[~pinned] if (~pinned).any() else x, seeds, k, rng)
        labels = np.full(len(x), -1, dtype=int)
        for _ in range(ITERATIONS):
            new = base._nearest(x, centroids)
            new[pinned] = pinned_label[pinned]
            if np.array_equal(new, labels):
                break
            labels = new
            for c in range(k):
                members = labels == c
                if members.any():
                    centroids[c] = x[members].mean(axis=0)
            centroids[:groups] = (1.0 - anchor) * centroids[:groups] + anchor * seeds
        inertia = float(np.sum((x - centroids[labels]) ** 2))
        if best is None or inertia < best[0]:
            best = (inertia, labels.copy(), centroids.copy())
    assert best is not None
    return best[1], best[2]


def _plus_plus(x: np.ndarray, seeds: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``seeds`` plus k - len(seeds) centres picked k-means++-style (far from those already chosen)."""
    centres = list(seeds)
    while len(centres) < k:
        d = base._sq_dist(x, np.stack(centres)).min(axis=1).clip(min=0)
        total = d.sum()
        pick = rng.choice(len(x), p=d / total) if total > 0 else rng.integers(len(x))
        centres.append(x[pick].copy())
    return np.stack(centres).astype(np.float32)


def _renumber(labels: np.ndarray, centroids: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop empty free clusters: pinned groups keep 0..groups-1, the rest follow without gaps."""
    keep = list(range(groups)) + [c for c in range(groups, len(centroids)) if (labels == c).any()]
    remap = np.full(len(centroids), -1, dtype=int)
    remap[keep] = np.arange(len(keep))
    return remap[labels], centroids[keep]


class PinsError(ValueError):
    """A --pinned file that cannot be used; the message names the file, the row and what is wrong."""


def read_pins(path: str | os.PathLike) -> list[tuple[str, str]]:
    """(photo path relative to FOLDER, cluster name) per row of a ``path,cluster`` CSV file.

    A first row ``path,cluster`` is a header and skipped. Paths use ``/`` and
    must stay inside FOLDER; a photo named twice must name one cluster.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise PinsError(f"cannot read the pinned file {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PinsError(f"the pinned file {path} is not a CSV text file ({exc})") from None
    if rows and [c.strip().lower() for c in rows[0]] == ["path", "cluster"]:
        rows = rows[1:]
        first = 2
    else:
        first = 1
    pins: dict[str, str] = {}
    for number, row in enumerate(rows, start=first):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}, row {number}"
        if len(row) != 2:
            raise PinsError(f"{where}: expected 2 fields (path,cluster), found {len(row)}")
        rel, name = row[0].strip().replace("\\", "/"), " ".join(row[1].split())
        if not rel or not name:
            raise PinsError(f"{where}: the {'path' if not rel else 'cluster'} is empty")
        parts = PurePosixPath(rel).parts
        if rel.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
            raise PinsError(f"{where}: {rel!r} must be a path relative to FOLDER, inside it")
        rel = PurePosixPath(rel).as_posix()
        if pins.get(rel, name) != name:
            raise PinsError(f"{where}: {rel} is already pinned to {pins[rel]!r}")
        pins[rel] = name
    if not pins:
        raise PinsError(f"the pinned file {path} has no rows (expected path,cluster)")
    return list(pins.items())


def unknown_paths(pins: list[tuple[str, str]], images: list[str]) -> list[str]:
    """Pinned paths that are not among the analysed photos."""
    known = set(images)
    return [rel for rel, _ in pins if rel not in known]


def session_pins(session) -> dict[int, int]:
    """Row index -> cluster id of every pinned photo of ``session`` that is in a cluster (not Unsorted)."""
    images = session.images
    pinned = np.flatnonzero(np.fromiter(map(session.pinned.__contains__, images), bool, len(images)))
    rows = {i: session.labels[images[i]] for i in pinned.tolist()}  # map: no Python per photo, 100,000 in ms
    return {i: c for i, c in rows.items() if c != base.UNSORTED}
