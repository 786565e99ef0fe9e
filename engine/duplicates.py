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

Every group names a photo to keep ("best"): the most true detail, then the
sharpest (variance of the Laplacian on a small grey version), then the oldest
file, then the largest. "True" detail: a copy enlarged from a smaller member
has more pixels but nothing in the frequencies above the smaller one's limit
(``adds_detail``), so it counts as that member's resolution and loses to it. Nothing is ever deleted or moved here: ``best_of_groups`` only tells an
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
from .progress import Progress

HASH_SIZE = 8  # 8 x 8 = 64-bit hashes
HASH_SAMPLE = 32  # the grey version the DCT runs on
SHARPNESS_SIDE = 128  # photos are compared for sharpness at one common scale
ENLARGED_RATIO = 1.45  # above this much of an enlargement's fine detail, a larger copy holds detail of its own
ENLARGED_MIN_STEP = 0.8  # only a copy at least 1.25x larger is checked: the band above a closer one is mere noise
DETAIL_CROP = 768  # the centre crop (at full resolution) fine detail is compared on
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
    mtime: float = 0.0  # the file's modification time: the older of two equal copies is likelier the original

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
    enlarged: dict[str, str] = field(default_factory=dict)  # a member -> the smaller member it is enlarged from

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
        larger = [p for p, source in self.enlarged.items() if self.facts[p].pixels > best.pixels]
        if larger:
            big = self.facts[larger[0]]
            return f"the original: {larger[0].rsplit('/', 1)[-1]} ({big.width}×{big.height}) is an enlarged copy"
        if best.pixels > runner.pixels and runner.path not in self.enlarged:
            return f"highest resolution ({best.width}×{best.height})"
        if round(best.sharpness, 3) > round(runner.sharpness, 3):
            return "sharpest"
        if best.mtime < runner.mtime:
            return "oldest file"
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


# ---- one photo ------------------------------------------------------------------------------


def photo_facts(path: str | os.PathLike, root: str | os.PathLike | None = None) -> PhotoFacts:
    """Read ``path`` (relative to ``root`` if given) once: size, hashes, sharpness. Raises ``DecodeError``."""
    full = Path(root) / path if root is not None else Path(path)
    mtime = 0.0
    try:
        st = full.stat()
        size_bytes, mtime = st.st_size, st.st_mtime
        with Image.open(full) as im:
            width, height = im.size
            if im.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF orientation turns it a quarter: upright size
                width, height = height, width
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
        mtime=float(mtime),
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


def better_key(f: PhotoFacts, true_pixels: int | None = None, enlarged: bool = False) -> tuple:
    """Sort key, best first: true resolution (an enlarged copy counts as its source's and comes after it), then
    sharpness, then the oldest file, then file size (then name, for a stable order)."""
    pixels = f.pixels if true_pixels is None else true_pixels
    return (-pixels, enlarged, -round(f.sharpness, 3), f.mtime, -f.bytes, f.path)


def rank_group(facts: dict[str, PhotoFacts], root: str | os.PathLike | None = None) -> tuple[list[str], dict]:
    """A group's members best first, and which of them are enlarged copies of a smaller member (of which)."""
    by_size = sorted(facts.values(), key=lambda f: (f.pixels, f.path))
    true_pixels = {f.path: f.pixels for f in by_size}
    enlarged: dict[str, str] = {}
    for i, big in enumerate(by_size):
        smaller = [f for f in by_size[:i] if max(f.width, f.height) <= ENLARGED_MIN_STEP * max(big.width, big.height)]
        if smaller and not adds_detail(big.path, smaller[-1].path, root):
            source = enlarged.get(smaller[-1].path, smaller[-1].path)
            enlarged[big.path] = source
            true_pixels[big.path] = true_pixels[smaller[-1].path]
    order = sorted(facts.values(), key=lambda f: better_key(f, true_pixels[f.path], f.path in enlarged))
    return [f.path for f in order], enlarged


def adds_detail(big: str, small: str, root: str | os.PathLike | None = None) -> bool:
    """Does ``big`` hold detail finer than ``small`` can (it is not just ``small`` enlarged)?

    Above the smaller photo's frequency limit, an enlargement holds only what the
    interpolation and re-encoding leave there: about as much as ``small`` itself
    enlarged holds (measured on 20 food101 photos shrunk to 1/2 and 2/3 and enlarged back: 1.0-1.9x that,
    most under 1.45; the true larger photo 1.1-14x, most over 1.6). Compared on a centre crop at
    ``big``'s own resolution. A photo that cannot be read counts as adding detail.
    """
    try:
        a = _grey_full(big, root)
        b = _grey_full(small, root)
    except DecodeError:
        return True
    limit = max(b.size) / max(a.size)
    baseline = b.resize(a.size, Image.Resampling.LANCZOS)
    return _energy_above(_centre(a), limit) > ENLARGED_RATIO * _energy_above(_centre(baseline), limit)


def _grey_full(path: str, root) -> Image.Image:
    full = Path(root) / path if root is not None else Path(path)
    with Image.open(full) as im:
        side = max(im.size)
    return open_rgb(full, side).convert("L")


def _centre(grey: Image.Image) -> np.ndarray:
    w, h = grey.size
    cw, ch = min(w, DETAIL_CROP), min(h, DETAIL_CROP)
    box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
    return np.asarray(grey.crop(box), dtype=np.float32)


def _energy_above(x: np.ndarray, limit: float) -> float:
    """The share of the (non-DC) spectral energy above ``limit`` x Nyquist, along either axis."""
    power = np.abs(np.fft.fft2(x - x.mean())) ** 2
    fy = np.abs(np.fft.fftfreq(x.shape[0]))[:, None] / 0.5
    fx = np.abs(np.fft.fftfreq(x.shape[1]))[None, :] / 0.5
    return float(power[np.maximum(fx, fy) > limit].sum() / max(float(power.sum()), 1e-9))


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
    yield Progress("duplicates", 0, len(paths), message="Reading photos")
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
                yield Progress("duplicates", i + 1, len(paths), message="Reading photos")
    ok = [i for i, f in enumerate(facts) if f is not None]
    read = [f for f in facts if f is not None]
    vectors = None
    if features is not None and ok:
        vectors = _unit(descriptor.expand(np.asarray(features)[ok]))
    yield Progress("duplicates", len(paths), len(paths), message="Comparing photos")
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
        order, enlarged = rank_group(chosen, root)
        groups.append(DuplicateGroup(order, chosen, links, enlarged))
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
