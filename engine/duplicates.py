"""Near-duplicates: the same picture saved twice, resized, re-encoded or slightly cropped.

Two signals, each catching what the other misses:

* a perceptual hash (pHash: the signs of the 8 x 8 lowest DCT frequencies of a
  32 x 32 grey version, against their median) survives resizing and
  re-encoding almost bit for bit, but a crop moves it;
* the photos' CNN descriptors (``descriptor.expand``, cosine) survive a crop,
  but two different photos of the same kind of scene can come close too.

A pair is a duplicate when the hashes are within ``hash_close`` bits of each
other, or the descriptors are nearly identical (cosine >= ``feature_close``),
or both agree moderately (cosine >= ``feature_maybe`` and hashes within
``hash_maybe`` bits). Candidates come from faiss nearest-neighbour searches
(inner product on descriptors, Hamming on hashes), so this scales to large
folders; pairs are joined into groups with union-find.

Every group names a photo to keep ("best"): the highest resolution, then the
sharpest (variance of the Laplacian on a small grey version), then the largest
file. Nothing is ever deleted or moved here: ``best_of_groups`` only tells an
export which photos to leave out. No Qt here.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from . import descriptor
from .decode import DecodeError, open_rgb

HASH_SIZE = 8  # 8 x 8 = 64-bit hashes
HASH_SAMPLE = 32  # the grey version the DCT runs on
SHARPNESS_SIDE = 128  # photos are compared for sharpness at one common scale
NEIGHBOURS = 8
EXACT_NEIGHBOURS_UP_TO = 20_000  # descriptor neighbours are searched exactly up to this many photos, IVF above

# Measured on scenes6 with 40 x 3 altered copies among the 600 photos (bench/see_why.py): resized and
# re-encoded copies are at most 8 bits from their original, different photos at least 12; 90 % crops are
# 4..16 bits away with cosine >= 0.85, while different photos within 18 bits never reach cosine 0.80.
HASH_CLOSE = 8
HASH_MAYBE = 18
FEATURE_CLOSE = 0.95
FEATURE_MAYBE = 0.82


from .cancel import Cancelled  # noqa: E402 - re-exported: the one Cancelled


@dataclass(frozen=True)
class PhotoFacts:
    """What the duplicate finder needs to know about one photo."""

    path: str  # as the caller named it (relative to ``root`` when one was given)
    width: int  # full resolution, upright
    height: int
    bytes: int
    sharpness: float  # variance of the Laplacian at SHARPNESS_SIDE; higher = crisper
    phash: int  # 64 bits
    dhash: int  # 64 bits (kept for callers and tests; the finder uses pHash)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def describe(self) -> str:
        return f"{self.width}×{self.height}, {_size_text(self.bytes)}, sharpness {self.sharpness:.0f}"


@dataclass
class DuplicateGroup:
    members: list[str]  # best first, then the others from better to worse
    facts: dict[str, PhotoFacts]
    links: list[tuple[str, str, int, float | None]] = field(default_factory=list)  # (a, b, hash bits, cosine)

    @property
    def best(self) -> str:
        return self.members[0]

    @property
    def others(self) -> list[str]:
        return self.members[1:]

    def why_best(self) -> str:
        """A short reason the first photo is the one to keep."""
        if len(self.members) < 2:
            return ""
        best, runner = self.facts[self.best], self.facts[self.members[1]]
        if best.pixels > runner.pixels:
            return f"highest resolution ({best.width}×{best.height})"
        if best.sharpness > runner.sharpness:
            return "sharpest"
        return "largest file"


@dataclass
class DuplicateReport:
    groups: list[DuplicateGroup]  # largest first
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    seconds: float = 0.0

    def pairs(self) -> set[frozenset[str]]:
        """Every pair of photos that share a group (what a person is told are copies of each other)."""
        out = set()
        for g in self.groups:
            for i, a in enumerate(g.members):
                for b in g.members[i + 1 :]:
                    out.add(frozenset((a, b)))
        return out


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    message: str = ""


# ---- one photo ------------------------------------------------------------------------------


def photo_facts(path: str | os.PathLike, root: str | os.PathLike | None = None) -> PhotoFacts:
    """Read ``path`` (relative to ``root`` if given) once: size, hashes, sharpness. Raises ``DecodeError``."""
    full = Path(root) / path if root is not None else Path(path)
    try:
        size_bytes = full.stat().st_size
        with Image.open(full) as im:
            width, height = im.size
    except FileNotFoundError:
        raise DecodeError("file disappeared before it could be read") from None
    except Exception:
        width = height = 0
        size_bytes = 0
    rgb = open_rgb(full, SHARPNESS_SIDE)
    if not width:
        width, height = rgb.size
    grey = rgb.convert("L")
    return PhotoFacts(
        path=os.fspath(path),
        width=int(width),
        height=int(height),
        bytes=int(size_bytes),
        sharpness=sharpness(grey),
        phash=phash(grey),
        dhash=dhash(grey),
    )


def phash(grey: Image.Image) -> int:
    """64-bit DCT hash: low frequencies of a 32 x 32 version above/below their median (DC left out)."""
    from scipy.fft import dctn

    small = np.asarray(grey.resize((HASH_SAMPLE, HASH_SAMPLE), Image.Resampling.LANCZOS), dtype=np.float32)
    low = dctn(small, norm="ortho")[:HASH_SIZE, :HASH_SIZE].ravel()
    bits = low > np.median(low[1:])
    return _pack(bits)


def dhash(grey: Image.Image) -> int:
    """64-bit gradient hash: is each pixel of a 9 x 8 version brighter than its right neighbour."""
    small = np.asarray(grey.resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.LANCZOS), dtype=np.float32)
    return _pack((small[:, 1:] > small[:, :-1]).ravel())


def sharpness(grey: Image.Image) -> float:
    """Variance of the 4-neighbour Laplacian on the photo scaled to a longer side of SHARPNESS_SIDE."""
    w, h = grey.size
    scale = SHARPNESS_SIDE / max(w, h)
    if scale != 1:
        grey = grey.resize((max(3, round(w * scale)), max(3, round(h * scale))), Image.Resampling.BILINEAR)
    a = np.asarray(grey, dtype=np.float32)
    if a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
    lap = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4 * a[1:-1, 1:-1]
    return float(lap.var())


def hamming(a: int, b: int) -> int:
    return int(a ^ b).bit_count()


def _pack(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits.astype(np.uint8)).tobytes(), "big")


def better_key(f: PhotoFacts) -> tuple:
    """Sort key, best first: resolution, then sharpness, then file size (then name, for a stable order)."""
    return (-f.pixels, -round(f.sharpness, 3), -f.bytes, f.path)


# ---- many photos ---------------------------------------------------------------------------


def find_duplicates(
    paths: Sequence[str],
    root: str | os.PathLike | None = None,
    features: np.ndarray | None = None,
    *,
    hash_close: int = HASH_CLOSE,
    hash_maybe: int = HASH_MAYBE,
    feature_close: float = FEATURE_CLOSE,
    feature_maybe: float = FEATURE_MAYBE,
    cancel: threading.Event | None = None,
    workers: int = 2,
) -> Generator[Progress, None, DuplicateReport]:
    """Find groups of near-identical photos among ``paths`` (relative to ``root`` if given).

    ``features`` (rows matching ``paths``: the raw descriptors of the analysis)
    are optional; without them only the hash finds copies and crops are missed.
    A generator: yields ``Progress`` while reading photos, returns the
    ``DuplicateReport``; raises ``Cancelled`` once ``cancel`` is set.
    """
    started = time.perf_counter()
    paths = list(paths)
    if features is not None and len(features) != len(paths):
        raise ValueError("features must have one row per path")
    facts: list[PhotoFacts | None] = [None] * len(paths)
    unreadable: list[tuple[str, str]] = []
    yield Progress(0, len(paths), "Reading photos")
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="dupes") as pool:
        futures = [pool.submit(_facts_or_reason, p, root) for p in paths]
        for i, fut in enumerate(futures):
            if cancel is not None and cancel.is_set():
                for f in futures[i:]:
                    f.cancel()
                raise Cancelled()
            result = fut.result()
            if isinstance(result, str):
                unreadable.append((paths[i], result))
            else:
                facts[i] = result
            if (i + 1) % 16 == 0 or i + 1 == len(paths):
                yield Progress(i + 1, len(paths), "Reading photos")
    ok = [i for i, f in enumerate(facts) if f is not None]
    read = [f for f in facts if f is not None]
    vectors = None
    if features is not None and ok:
        vectors = _unit(descriptor.expand(np.asarray(features)[ok]))
    yield Progress(len(paths), len(paths), "Comparing photos")
    pairs = duplicate_pairs(
        np.array([f.phash for f in read], dtype=np.uint64),
        vectors,
        hash_close=hash_close,
        hash_maybe=hash_maybe,
        feature_close=feature_close,
        feature_maybe=feature_maybe,
    )
    groups = []
    found = group_pairs(len(read), [(a, b) for a, b, _, _ in pairs])
    group_of = {m: g for g, members in enumerate(found) for m in members}
    links_of: list[list] = [[] for _ in found]  # one pass over the pairs: per group it was n_groups x n_pairs
    for a, b, h, c in pairs:
        links_of[group_of[a]].append((read[a].path, read[b].path, h, c))
    for members, links in zip(found, links_of):
        chosen = {read[m].path: read[m] for m in members}
        order = sorted(chosen.values(), key=better_key)
        groups.append(DuplicateGroup([f.path for f in order], chosen, links))
    groups.sort(key=lambda g: (-len(g.members), g.best))
    return DuplicateReport(groups, unreadable, time.perf_counter() - started)


def duplicate_pairs(
    hashes: np.ndarray,
    vectors: np.ndarray | None = None,
    *,
    hash_close: int = HASH_CLOSE,
    hash_maybe: int = HASH_MAYBE,
    feature_close: float = FEATURE_CLOSE,
    feature_maybe: float = FEATURE_MAYBE,
    neighbours: int = NEIGHBOURS,
) -> list[tuple[int, int, int, float | None]]:
    """(i, j, hash bits apart, cosine or None) for every pair that passes the rule, i < j.

    ``hashes``: n 64-bit pHashes; ``vectors``: n x d unit rows (or None).
    """
    n = len(hashes)
    if n < 2:
        return []
    k = min(neighbours, n - 1) + 1
    candidates: set[tuple[int, int]] = set()
    for i, row in enumerate(_hash_neighbours(hashes, k)):
        candidates.update((min(i, j), max(i, j)) for j in row if j >= 0 and j != i)
    if vectors is not None:
        for i, row in enumerate(_vector_neighbours(vectors, k, feature_maybe)):
            candidates.update((min(i, j), max(i, j)) for j in row if j >= 0 and j != i)
    out = []
    for i, j in sorted(candidates):
        bits = hamming(int(hashes[i]), int(hashes[j]))
        cos = float(vectors[i] @ vectors[j]) if vectors is not None else None
        if bits <= hash_close or (
            cos is not None and (cos >= feature_close or (cos >= feature_maybe and bits <= hash_maybe))
        ):
            out.append((i, j, bits, cos))
    return out


def _hash_neighbours(hashes: np.ndarray, k: int) -> np.ndarray:
    import faiss

    codes = np.frombuffer(hashes.astype(">u8").tobytes(), dtype=np.uint8).reshape(len(hashes), 8).copy()
    index = faiss.IndexBinaryFlat(64)
    index.add(codes)
    _, idx = index.search(codes, k)
    return idx


def _vector_neighbours(vectors: np.ndarray, k: int, floor: float) -> list[np.ndarray]:
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(x) <= EXACT_NEIGHBOURS_UP_TO:
        index: faiss.Index = faiss.IndexFlatIP(x.shape[1])
    else:  # exact search grows as n^2: 100,000 photos took minutes; copies are so close that IVF finds them
        lists = int(np.sqrt(len(x)))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(x.shape[1]), x.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.seed = 0
        ivf.train(x[np.random.default_rng(0).choice(len(x), min(len(x), 40 * lists), replace=False)])
        ivf.nprobe = 8
        index = ivf
    index.add(x)
    sims, idx = index.search(x, k)
    return [row[s >= floor] for row, s in zip(idx, sims)]


def group_pairs(n: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Union-find: the connected groups (2 or more members, each sorted) of ``n`` items joined by ``pairs``."""
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def best_of_groups(groups: Iterable[DuplicateGroup], paths: Sequence[str] | None = None) -> list[str]:
    """The photos to export when only the best of each group should go.

    With ``paths`` (e.g. every photo of the session): those paths in their
    order, less every group's non-best members. Without: just each group's best.
    """
    groups = list(groups)
    if paths is None:
        return [g.best for g in groups]
    drop = redundant(groups)
    return [p for p in paths if p not in drop]


def redundant(groups: Iterable[DuplicateGroup]) -> set[str]:
    """Every photo that has a better copy in its group (what "export only the best" leaves out)."""
    return {p for g in groups for p in g.others}


def _facts_or_reason(path: str, root) -> PhotoFacts | str:
    try:
        return photo_facts(path, root)
    except DecodeError as exc:
        return str(exc)
    except Exception as exc:
        return f"unexpected error while reading ({type(exc).__name__}: {exc})"


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _size_text(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
