"""Group feature vectors: k-means (default), Ward agglomerative, or HDBSCAN with an "Unsorted" group.

All methods are seeded and deterministic, and stay fast at 100,000 images:
k-means switches to mini-batch, agglomerative and HDBSCAN fit a sample and
assign the rest to the nearest cluster, and the automatic choice of k scores a
sample. Each image gets a confidence in [0, 1] (how much closer it is to its
own cluster than to the next one) and each cluster a representative image.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from . import descriptor

METHODS = ("kmeans", "agglomerative", "hdbscan")
UNSORTED = -1

MINIBATCH_ABOVE = 20_000
AGGLOMERATIVE_SAMPLE = 6_000
HDBSCAN_SAMPLE = 15_000
AUTO_SAMPLE = 3_000
AUTO_K_RANGE = (2, 15)
AUTO_TIE = 0.03  # silhouettes closer than this are ties (sampling noise); ties go to the larger k
AUTO_PER_CLUSTER = 8  # candidates stop at n / 8 clusters: small folders get groups, not crumbs
CLEAR_SILHOUETTE = 0.25  # below it there is "no substantial structure" (Kaufman & Rousseeuw)
MODERATE_K = (3, 12)  # with no clear k: about PHOTOS_PER_GROUP photos a cluster, within these bounds
PHOTOS_PER_GROUP = 6
MIN_CLUSTER = 3  # automatic k never leaves a cluster smaller than this
PCA_DIMS = 64
PCA_FIT_ROWS = 20_000  # PCA is fitted on at most this many photos (a seeded sample), applied to all
PREPARE_CHUNK = 8192
SMOOTH_NEIGHBOURS = 10
SMOOTH_ROUNDS = 2
SMOOTH_POWER = 3.0
EXACT_NEIGHBOURS_UP_TO = 20_000


@dataclass
class Clustering:
    labels: np.ndarray  # int per image; UNSORTED (-1) for doubtful images
    confidence: np.ndarray  # float32 per image in [0, 1]
    representatives: dict[int, int]  # cluster label -> index of its most typical image
    k: int
    method: str
    k_scores: dict[int, float] = field(default_factory=dict)  # automatic k: score per candidate
    k_clear: bool = True  # False when the scores showed no clear k and a moderate one was picked
    fixed: dict[int, int] = field(default_factory=dict)  # label -> cluster id the person gave it (pins)


def prepare(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """Raw descriptors -> the space the clusterers work in (all steps measured on scenes6).

    Expand to [global, top, bottom] GeM, centre and L2-normalise (cosine
    geometry), reduce to 64 dimensions with PCA, then smooth each vector
    towards its nearest neighbours (alpha query expansion, two rounds): photos
    pulled towards their neighbours form tighter, better separated groups.
    """
    return embed(features, seed, descriptor.expand)


def embed(raw: np.ndarray, seed: int = 0, expand: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Rows of ``raw`` (``expand``-ed, else already side-by-side blocks) -> L2, centred, PCA-reduced, smoothed."""
    n = len(raw)
    expanded = lambda rows: _l2(expand(raw[rows]) if expand is not None else raw[rows])
    # The centre and the PCA come from the same sample (all photos up to PCA_FIT_ROWS); the rest is
    # projected in chunks: the expanded n x 1536 matrix and its centred copy were 1.2 GB at 100,000
    # photos (bench/scale.py), and one pass over them is 2.5 s there.
    fit_raw = expanded(slice(None) if n <= PCA_FIT_ROWS else _sample(n, PCA_FIT_ROWS, seed))
    mean = fit_raw.mean(axis=0) if n else 0.0
    centred = lambda rows: _l2(expanded(rows) - mean)
    fit_rows = _l2(fit_raw - mean)
    dims = min(PCA_DIMS, n - 1, fit_rows.shape[1])
    if dims < 2:
        return smooth(fit_rows, seed)  # at most two photos: all of them are the sample
    pca = PCA(n_components=dims, random_state=seed, svd_solver="randomized" if len(fit_rows) > 5000 else "auto")
    pca.fit(fit_rows)
    if n <= PCA_FIT_ROWS:
        return smooth(_l2(pca.transform(fit_rows).astype(np.float32)), seed)
    chunks = [slice(s, min(s + PREPARE_CHUNK, n)) for s in range(0, n, PREPARE_CHUNK)]
    x = np.empty((n, dims), dtype=np.float32)
    for rows in chunks:
        x[rows] = pca.transform(centred(rows))
    return smooth(_l2(x), seed)


def smooth(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Alpha query expansion: each vector becomes the similarity^3-weighted mean of its 10 nearest.

    Neighbours are found with faiss: exactly up to 20,000 photos, with an
    inverted-file index above, which keeps this to seconds at 100,000. The
    weighted means are one sparse product (the gathered n x k x d neighbours
    were 256 MB and 1.2 s per round at 100,000).
    """
    from scipy.sparse import csr_matrix

    k = min(SMOOTH_NEIGHBOURS, len(x))
    if k < 2:
        return x
    n = len(x)
    for _ in range(SMOOTH_ROUNDS):
        sims, neighbours = _nearest_neighbours(x, k, seed)
        weights = np.power(np.maximum(sims, 0), SMOOTH_POWER).astype(np.float32)
        mix = csr_matrix((weights.ravel(), neighbours.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
        x = _l2(np.asarray(mix @ x, dtype=np.float32))
    return x


def _nearest_neighbours(x: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    x = np.ascontiguousarray(x, dtype=np.float32)
    dim = x.shape[1]
    if len(x) <= EXACT_NEIGHBOURS_UP_TO:
        index: faiss.Index = faiss.IndexFlatIP(dim)
    else:
        # Half-precision codes and 8 of sqrt(n) lists: at 100,000 (bench/scale.py's photos) 2.6 s a
        # search with recall@10 0.995, against 5.9 s and 0.9996 for full floats and 12 lists.
        lists = int(np.sqrt(len(x)))
        ivf = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(dim), dim, lists, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        ivf.cp.seed = seed
        ivf.train(x[_sample(len(x), 40 * lists, seed)])
        ivf.nprobe = 8
        index = ivf
    index.add(x)
    sims, neighbours = index.search(x, k)
    missing = neighbours < 0  # an IVF probe can come back short: fall back on the photo itself
    neighbours[missing] = np.broadcast_to(np.arange(len(x))[:, None], neighbours.shape)[missing]
    sims[missing] = 1.0
    return sims, neighbours


def cluster_features(features: np.ndarray, k: int | str = "auto", method: str = "kmeans", seed: int = 0) -> Clustering:
    """Cluster ``features`` (n x d). ``k`` is a number or "auto"."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    with _thread_limit():
        return _cluster(features, k, method, seed)


def _thread_limit():
    """One BLAS/OpenMP thread on machines of two cores or fewer.

    bench/cache.py: on 2 cores, re-clustering 13,000 vectors took 3.1 s with one
    thread vs 3.9 s with the default, and 9.8 s vs 37 s when other work was running.
    """
    return threadpool_limits(1) if (os.cpu_count() or 1) <= 2 else nullcontext()


def _cluster(features: np.ndarray, k: int | str, method: str, seed: int) -> Clustering:
    n = len(features)
    if n == 0:
        return Clustering(np.zeros(0, int), np.zeros(0, np.float32), {}, 0, method)
    x = prepare(features, seed)
    scores: dict[int, float] = {}
    clear = True
    auto = k == "auto"
    if auto:
        k, scores, clear = choose_k(x, seed)
    k = int(k)
    if k < 1:
        raise ValueError("the number of clusters must be at least 1")
    k = min(k, n)
    if method == "kmeans":
        labels, centroids = _kmeans(x, k, seed)
    elif method == "agglomerative":
        labels, centroids = _agglomerative(x, k, seed)
    else:
        labels, centroids = _hdbscan(x, k, seed)
    if auto and method != "hdbscan":
        labels, centroids = merge_small(x, labels, centroids)
    confidence = _confidence(x, labels, centroids)
    reps = _representatives(x, labels, centroids)
    found = len(set(labels.tolist()) - {UNSORTED})
    return Clustering(labels, confidence, reps, found, method, scores, clear)


def choose_k(x: np.ndarray, seed: int = 0) -> tuple[int, dict[int, float], bool]:
    """Pick k by the silhouette of k-means on a sample: (k, the score of every candidate, whether k is clear).

    Candidates run from 2 to n / ``AUTO_PER_CLUSTER`` (at most 15). When even
    the best silhouette is under ``CLEAR_SILHOUETTE`` the photos have no clear
    grouping (food101_10: every k within 0.02, all under 0.19); then the curve
    says nothing and a moderate k (``moderate_k``) is picked and flagged as such.
    Otherwise the best k wins, moved up along the plateau that follows it while
    the scores stay within ``AUTO_TIE`` of the best (merging two clusters is one
    drag in the window, splitting one is more work) and no cluster falls under
    ``MIN_CLUSTER`` photos. Measured in bench/auto_k.py.
    """
    n = len(x)
    if n < 2 * MIN_CLUSTER:
        return 1, {}, True
    sample = x[_sample(n, AUTO_SAMPLE, seed)]
    lo, hi = AUTO_K_RANGE
    hi = max(lo, min(hi, n // AUTO_PER_CLUSTER, len(sample) - 1))
    scores, smallest = {}, {}
    for k in range(lo, hi + 1):
        labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(sample)
        scores[k] = float(silhouette_score(sample, labels, metric="euclidean", random_state=seed))
        smallest[k] = int(np.bincount(labels).min())
    top = max(scores.values())
    if top < CLEAR_SILHOUETTE:
        return moderate_k(n), scores, False
    best = max(scores, key=scores.__getitem__)
    while best + 1 in scores and scores[best + 1] >= top - AUTO_TIE and smallest[best + 1] >= MIN_CLUSTER:
        best += 1  # along the plateau only: a second bump far off is not a tie
    return best, scores, True


def moderate_k(n: int) -> int:
    """The k used when the data show none: small folders about 6 photos a group, large ones ``MODERATE_K[1]``.

    Measured on balanced subsets of food101_10 (bench/auto_k.py): at 60 photos
    of 10 dishes, k = 8 lost 0.07-0.1 NMI against k = 10; above 200 photos
    every k from 10 to 15 is as good as another.
    """
    lo, hi = MODERATE_K
    return int(max(1, min(np.clip(n // PHOTOS_PER_GROUP, lo, hi), n // MIN_CLUSTER)))


def merge_small(x: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Photos of clusters under ``MIN_CLUSTER`` join their nearest larger cluster; labels stay 0..k-1."""
    labels = labels.copy()
    sizes = np.bincount(labels[labels >= 0], minlength=len(centroids))
    keep = np.flatnonzero(sizes >= MIN_CLUSTER)
    if len(keep) == 0 or len(keep) == len(centroids):
        return labels, centroids
    small = np.isin(labels, np.flatnonzero(sizes < MIN_CLUSTER))
    labels[small] = keep[_nearest(x[small], centroids[keep])]
    remap = np.full(len(centroids), UNSORTED, dtype=int)
    remap[keep] = np.arange(len(keep))
    labels = np.where(labels >= 0, remap[np.maximum(labels, 0)], UNSORTED)
    centroids = np.stack([x[labels == c].mean(axis=0) for c in range(len(keep))]).astype(np.float32)
    return labels, centroids


def _kmeans(x, k, seed):
    if len(x) > MINIBATCH_ABOVE:
        model = MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=3, random_state=seed)
    else:
        model = KMeans(n_clusters=k, n_init=10, random_state=seed)
    labels = model.fit_predict(x)
    return labels.astype(int), model.cluster_centers_.astype(np.float32)


def _agglomerative(x, k, seed):
    idx = _sample(len(x), AGGLOMERATIVE_SAMPLE, seed)
    sample_labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x[idx])
    centroids = np.stack([x[idx][sample_labels == c].mean(0) for c in range(k)]).astype(np.float32)
    if len(idx) == len(x):
        return sample_labels.astype(int), centroids
    return _nearest(x, centroids), centroids


def _hdbscan(x, k, seed):
    """HDBSCAN on a sample; clusters beyond k are merged (Ward on their centroids); noise stays Unsorted."""
    idx = _sample(len(x), HDBSCAN_SAMPLE, seed)
    sample = x[idx]
    reduced = PCA(n_components=min(16, sample.shape[1], len(sample)), random_state=seed).fit(sample)
    low = reduced.transform(sample)
    min_size = max(5, len(sample) // 100)
    sample_labels = HDBSCAN(min_cluster_size=min_size, min_samples=min(5, len(sample) - 1), copy=True).fit_predict(low)
    found = sorted(set(sample_labels.tolist()) - {UNSORTED})
    if not found:  # everything is noise: fall back to k-means so the person still gets groups
        return _kmeans(x, k, seed)
    centroids = np.stack([sample[sample_labels == c].mean(0) for c in found]).astype(np.float32)
    if len(found) > k:
        merge = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(centroids)
        remap = dict(zip(found, merge))
        sample_labels = np.array([remap.get(lbl, UNSORTED) for lbl in sample_labels])
        found = list(range(k))
        centroids = np.stack([sample[sample_labels == c].mean(0) for c in found]).astype(np.float32)
    else:
        remap = {old: new for new, old in enumerate(found)}
        sample_labels = np.array([remap.get(lbl, UNSORTED) for lbl in sample_labels])
    labels = np.full(len(x), UNSORTED, dtype=int)
    labels[idx] = sample_labels
    rest = np.setdiff1d(np.arange(len(x)), idx)
    if len(rest):
        # An unsampled image joins a cluster only if it is at least as close as that cluster's own members.
        nearest = _nearest(x[rest], centroids)
        dist = np.linalg.norm(x[rest] - centroids[nearest], axis=1)
        member_dist = np.linalg.norm(sample - centroids[np.maximum(sample_labels, 0)], axis=1)
        limit = np.array(
            [np.percentile(member_dist[sample_labels == c], 95) if np.any(sample_labels == c) else 0 for c in found]
        )
        labels[rest] = np.where(dist <= limit[nearest], nearest, UNSORTED)
    return labels, centroids


def _confidence(x, labels, centroids):
    """(d2 - d1) / d2 for each image: 1 = right at its centroid, 0 = halfway to the next cluster."""
    if len(centroids) < 2:
        return np.ones(len(x), np.float32)
    d = _sq_dist(x, centroids)
    d.sort(axis=1)
    d1, d2 = np.sqrt(np.maximum(d[:, 0], 0)), np.sqrt(np.maximum(d[:, 1], 0))
    conf = np.clip((d2 - d1) / np.maximum(d2, 1e-12), 0, 1).astype(np.float32)
    conf[labels == UNSORTED] = 0.0
    return conf


def _representatives(x, labels, centroids):
    reps = {}
    for c in sorted(set(labels.tolist()) - {UNSORTED}):
        members = np.flatnonzero(labels == c)
        centre = x[members].mean(0)
        reps[c] = int(members[np.argmin(np.linalg.norm(x[members] - centre, axis=1))])
    return reps


def _nearest(x, centroids):
    out = np.empty(len(x), dtype=int)
    for start in range(0, len(x), 8192):
        out[start : start + 8192] = _sq_dist(x[start : start + 8192], centroids).argmin(1)
    return out


def _sq_dist(x, centroids):
    return (x * x).sum(1)[:, None] - 2 * x @ centroids.T + (centroids * centroids).sum(1)[None, :]


def _l2(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _sample(n, size, seed):
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
