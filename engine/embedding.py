"""The similarity map: every photo as a point in 2-D, near points looking alike.

Pipeline: the raw descriptors go through ``cluster.prepare`` (the very space
the clustering works in: expanded GeM, cosine geometry, PCA 64, neighbour
smoothing), then PCA to ``PCA_DIMS`` (50), then a 2-D layout:

* ``tsne``      scikit-learn's Barnes-Hut t-SNE (always installed);
* ``opentsne``  openTSNE's FFT-accelerated t-SNE (optional package ``openTSNE``);
* ``umap``      UMAP (optional package ``umap-learn``; numba makes its first import slow);
* ``pca``       the first two principal components (instant, a fallback, poor separation).

``auto`` is scikit-learn's t-SNE, chosen by measurement (``bench/see_why.py``):
at 10,000 points it kept the most neighbourhoods (kNN-10 0.80, against 0.70
for openTSNE and 0.79 for UMAP) in the least time once its iterations are cut
to 500 above ``FEWER_ITERATIONS_ABOVE`` points (the last 500 of the default
1000 moved kNN preservation by 0.004 and cost 2.3x the time); openTSNE was
slower on 2 cores and UMAP's numba start-up alone takes 7-27 s. It needs no
extra package. Above ``TSNE_SAMPLE`` points it lays out a sample and places the
rest by their nearest laid-out neighbours (``place``): t-SNE of all 100,000
photos would take many minutes.

``knn_preservation`` and ``separation`` score a layout (the bench uses them).
No Qt here.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from .cluster import prepare

METHODS = ("auto", "tsne", "opentsne", "umap", "pca")
PCA_DIMS = 50
PERPLEXITY = 30.0
FEWER_ITERATIONS_ABOVE = 2000  # t-SNE runs 500 iterations above this many points, 1000 below
TSNE_SAMPLE = 6000  # above this many points t-SNE lays out a sample of this size and places the rest (bench/scale.py)
PLACE_NEIGHBOURS = 10


from .cancel import Cancelled  # noqa: E402 - re-exported: the one Cancelled


@dataclass
class Embedding:
    xy: np.ndarray  # n x 2 float32, rows in the order of the features
    method: str  # the method actually used ("auto" resolved)
    seconds: float = 0.0
    prepared: np.ndarray | None = None  # the n x d space it was laid out from (for scoring)


def available(method: str) -> bool:
    """Whether ``method`` can run here (the optional packages are imported lazily)."""
    if method in ("auto", "tsne", "pca"):
        return True
    module = {"opentsne": "openTSNE", "umap": "umap"}.get(method)
    return module is not None and importlib.util.find_spec(module) is not None


def available_methods() -> list[str]:
    return [m for m in METHODS if available(m)]


def resolve(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown layout {method!r}; choose one of {', '.join(METHODS)}")
    if method == "auto":
        return "tsne"
    if not available(method):
        package = {"opentsne": "openTSNE", "umap": "umap-learn"}[method]
        raise ValueError(f"the {method} layout needs the package {package}: pip install {package}")
    return method


def reduce(features: np.ndarray, seed: int = 0, prepared: np.ndarray | None = None) -> np.ndarray:
    """Raw descriptors -> the clustering space -> PCA to at most 50 dimensions (n x d float32)."""
    x = prepare(features, seed) if prepared is None else np.asarray(prepared, dtype=np.float32)
    dims = min(PCA_DIMS, x.shape[1], max(1, x.shape[0] - 1))
    if dims < x.shape[1] and x.shape[0] > 2:
        x = PCA(n_components=dims, random_state=seed).fit_transform(x)
    return np.ascontiguousarray(x, dtype=np.float32)


def embed(
    features: np.ndarray,
    method: str = "auto",
    seed: int = 0,
    cancel: threading.Event | None = None,
    prepared: np.ndarray | None = None,
    threads: int = 2,
) -> Embedding:
    """Lay ``features`` (n x d raw descriptors) out in 2-D. Deterministic for a given ``seed``.

    ``prepared`` skips ``cluster.prepare`` when the caller already has it.
    ``cancel`` is checked between the steps (the layout itself runs to its end).
    """
    started = time.perf_counter()
    method = resolve(method)
    n = len(features)
    if n == 0:
        return Embedding(np.zeros((0, 2), np.float32), method, 0.0)
    if n < 4:  # too few for a neighbourhood layout: spread them on a line
        xy = np.stack([np.arange(n, dtype=np.float32), np.zeros(n, np.float32)], 1)
        return Embedding(xy, method, time.perf_counter() - started)
    x = reduce(features, seed, prepared)
    _check(cancel)
    perplexity = float(min(PERPLEXITY, max(2.0, (n - 1) / 3.0)))
    if method == "pca":
        xy = PCA(n_components=2, random_state=seed).fit_transform(x)
    elif method == "tsne" and n > TSNE_SAMPLE:
        sample = np.sort(np.random.default_rng(seed).choice(n, TSNE_SAMPLE, replace=False))
        sample_xy = _tsne(x[sample], perplexity, seed, threads)
        _check(cancel)
        xy = place(x, sample, sample_xy)
    elif method == "tsne":
        xy = _tsne(x, perplexity, seed, threads)
    elif method == "opentsne":
        from openTSNE import TSNE as OpenTSNE

        xy = np.asarray(
            OpenTSNE(
                perplexity=perplexity,
                initialization="pca",
                random_state=seed,
                n_jobs=threads,
                negative_gradient_method="fft" if n > 1000 else "bh",
                verbose=False,
            ).fit(x)
        )
    else:  # umap
        import umap

        xy = umap.UMAP(
            n_neighbors=min(15, n - 1),
            min_dist=0.1,
            metric="euclidean",
            random_state=seed,
            n_jobs=1,
            init="spectral" if n > 50 else "random",
        ).fit_transform(x)
    _check(cancel)
    return Embedding(np.ascontiguousarray(xy, dtype=np.float32), method, time.perf_counter() - started, x)


def _tsne(x: np.ndarray, perplexity: float, seed: int, threads: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    n = len(x)
    return TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        random_state=seed,
        n_jobs=threads,
        method="barnes_hut" if n > 200 else "exact",
        max_iter=500 if n > FEWER_ITERATIONS_ABOVE else 1000,
    ).fit_transform(x)


def place(x: np.ndarray, sample: np.ndarray, sample_xy: np.ndarray, k: int = PLACE_NEIGHBOURS) -> np.ndarray:
    """2-D positions for all rows of ``x``, given the layout ``sample_xy`` of the rows ``sample``.

    Barnes-Hut t-SNE grows as n log n and 100,000 points take many minutes, so
    large sets lay out a sample and put every other point at the
    similarity-weighted mean of its ``k`` nearest laid-out neighbours (found in
    the 50-d space with faiss), as openTSNE's ``transform`` starts from. Points
    of a cluster land inside that cluster's island.
    """
    import faiss

    xy = np.empty((len(x), 2), np.float32)
    xy[sample] = sample_xy
    rest = np.setdiff1d(np.arange(len(x)), sample)
    if len(rest):
        index = faiss.IndexFlatL2(x.shape[1])
        index.add(np.ascontiguousarray(x[sample], dtype=np.float32))
        dist, idx = index.search(np.ascontiguousarray(x[rest], dtype=np.float32), min(k, len(sample)))
        scale = np.maximum(np.median(dist[:, :1]), 1e-12)  # squared distance to the nearest, typically
        weights = np.exp(-(dist - dist[:, :1]) / scale)
        weights /= weights.sum(1, keepdims=True)
        xy[rest] = np.einsum("nk,nkd->nd", weights, sample_xy[idx].astype(np.float32))
    return xy


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


# ---- scoring a layout ---------------------------------------------------------------------------


def knn_preservation(high: np.ndarray, low: np.ndarray, k: int = 10) -> float:
    """Mean fraction of each point's ``k`` nearest neighbours in ``high`` that are also among its ``k`` in ``low``.

    1.0 = every neighbourhood kept; a random layout scores about k / n.
    """
    import faiss

    n = len(high)
    k = min(k, n - 1)
    if k < 1:
        return 1.0

    def neighbours(x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        index = faiss.IndexFlatL2(x.shape[1])
        index.add(x)
        _, idx = index.search(x, k + 1)
        return idx[:, 1:]  # drop the point itself (ties aside, it comes first)

    a, b = neighbours(high), neighbours(low)
    kept = [len(np.intersect1d(a[i], b[i], assume_unique=True)) for i in range(n)]
    return float(np.mean(kept) / k)


def separation(xy: np.ndarray, labels: np.ndarray, sample: int = 5000, seed: int = 0) -> float:
    """Silhouette of ``labels`` in the 2-D layout (on a sample of at most ``sample`` points): -1 .. 1."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if len(set(labels.tolist())) < 2:
        return 0.0
    return float(silhouette_score(xy, labels, sample_size=min(sample, len(xy)), random_state=seed))
