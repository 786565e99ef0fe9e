"""See why (issue #5): feature-map latency, similarity-map layouts, near-duplicate precision and recall.

    python bench/see_why.py                      # all three parts (several minutes on 2 cores)
    python bench/see_why.py --parts maps,dupes   # a subset: maps, layout, dupes
    python bench/see_why.py --layouts tsne,pca   # only these layout candidates

1. What the CNN sees: ``engine.activations.FeatureMaps``; first call (model build +
   trace + one forward pass), then warm calls on another photo (a new forward
   pass), then a layer switch on the same photo (cached), plus the page of 64
   contrast-scaled maps and the heat-map overlay the dialog shows.
2. Similarity map: every available candidate of ``engine.embedding`` at 600
   points (scenes6's real features) and 10,000 (scenes6's features repeated
   with multiplicative noise, exp(N(0, 0.15)) per value): seconds, kNN
   preservation (share of each point's 10 nearest neighbours in the 50-d space
   kept in 2-D) and the 2-D silhouette of the true folder labels.
3. Near-duplicates: ``--originals`` photos of scenes6 (even over the classes)
   are copied to a temporary folder; ``--copied`` of them also get a resized
   (70 %), a re-encoded (JPEG quality 40) and a 90 % centre-cropped copy. With
   ``--distractors`` the remaining scenes6 photos join as further distinct
   photos (harder: many look alike). Features come from the real pipeline
   (fresh cache). Precision = share of reported pairs (photos in one group)
   that are copies of one original; recall = share of true copy pairs
   reported. Also: how often the kept ("best") photo of a found group is the original.
"""

from __future__ import annotations

import shutil
import sys
import time
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
import numpy as np
from PIL import Image


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--parts", default="maps,layout,dupes,mapview", help="comma-separated: maps, layout, dupes, mapview")
    p.add_argument("--layouts", default="auto-available", help="comma-separated layout methods, or all available")
    p.add_argument("--points", default="600,10000", help="layout sizes to time")
    p.add_argument("--originals", type=int, default=60, help="photos copied as originals")
    p.add_argument("--copied", type=int, default=40, help="originals that get 3 altered copies each")
    p.add_argument(
        "--offset",
        type=int,
        default=0,
        help="skip this many photos of each class before picking originals (the thresholds were chosen "
        "with offset 0; e.g. 50 measures on photos never looked at)",
    )
    p.add_argument("--distractors", action="store_true", help="add the rest of scenes6 as further distinct photos")
    p.add_argument(
        "--features", type=Path, default=None, help="an .npz of scenes6 features (images, features) to skip extraction"
    )
    args = p.parse_args()
    common.check_data(args)
    started = time.perf_counter()
    common.header("See why: feature maps, similarity map, near-duplicates", args)
    weights = common.weights_source(args)
    parts = set(args.parts.split(","))
    images, features = None, None
    if parts & {"layout", "dupes"}:
        images, features = scenes6_features(args, weights)
    if "maps" in parts:
        bench_maps(args, weights)
    if "layout" in parts:
        bench_layouts(args, images, features)
    if "dupes" in parts:
        bench_dupes(args, weights, images, features)
    if "mapview" in parts:
        bench_map_view()
    common.footer(started)


# ---------------------------------------------------------------- features


def scenes6_features(args, weights):
    if args.features is not None:
        data = np.load(args.features)
        return [str(p) for p in data["images"]], data["features"]
    with common.fresh_dir("see-why-cache") as cache:
        fe = common.extractor(weights, batch_size=args.batch_size)
        analysis, seconds = common.analyse(args.data, fe, cache)
    print(f"\nscenes6 features: {len(analysis.images)} photos in {seconds:.0f} s ({fe.precision})")
    return analysis.images, analysis.features


# ---------------------------------------------------------------- 1. feature maps


def bench_maps(args, weights) -> None:
    from engine.activations import FeatureMaps, overlay, scale_maps

    photos = sorted(Path(args.data).rglob("*.jpg"))[:3]
    fm = FeatureMaps(weights)
    rows = []
    t0 = time.perf_counter()
    maps = fm.maps(photos[0], "block3_conv1")
    first = time.perf_counter() - t0
    rows.append(["first call: build + trace + forward (block3_conv1)", first * 1000])
    t0 = time.perf_counter()
    fm.maps(photos[1], "block3_conv1")
    rows.append(["warm: another photo, same layer (forward pass)", (time.perf_counter() - t0) * 1000])
    t0 = time.perf_counter()
    fm.maps(photos[2], "block5_conv3")
    rows.append(["warm: another photo, block5_conv3", (time.perf_counter() - t0) * 1000])
    t0 = time.perf_counter()
    maps = fm.maps(photos[2], "block1_conv1")
    rows.append(["layer switch on the same photo (cached forward)", (time.perf_counter() - t0) * 1000])
    t0 = time.perf_counter()
    scale_maps(maps[..., :64], "minmax")
    rows.append(["page of 64 maps 224x224, min/max scaling", (time.perf_counter() - t0) * 1000])
    t0 = time.perf_counter()
    scale_maps(maps[..., :64], "percentile")
    rows.append(["page of 64 maps 224x224, 1-99 percentile scaling", (time.perf_counter() - t0) * 1000])
    t0 = time.perf_counter()
    overlay(fm, photos[2], 512)
    rows.append(["heat-map overlay (decode photo, upsample, blend)", (time.perf_counter() - t0) * 1000])
    print("\n-- 1. What the CNN sees: latency for one photo (ms)")
    common.table(["step", "ms"], rows)
    warm = rows[1][1]
    print(
        f"goal: a new photo's maps in under 1 s once the model is loaded -> {warm:.0f} ms: {common.verdict(warm < 1000)}"
    )


# ---------------------------------------------------------------- 2. similarity map


def noisy_copies(features: np.ndarray, labels: np.ndarray, n: int, seed: int = 0):
    """``n`` points: ``features`` repeated, each value times exp(N(0, 0.15)); labels follow."""
    if n <= len(features):
        return features[:n], labels[:n]
    rng = np.random.default_rng(seed)
    idx = np.arange(n) % len(features)
    noisy = features[idx] * np.exp(rng.normal(0, 0.15, (n, features.shape[1])))
    return noisy.astype(np.float32), labels[idx]


def bench_layouts(args, images, features) -> None:
    from engine import embedding

    labels = np.array([p.split("/")[0] for p in images])
    if args.layouts == "auto-available":
        methods = [m for m in embedding.METHODS if m != "auto" and embedding.available(m)]
    else:
        methods = args.layouts.split(",")
    missing = [m for m in ("opentsne", "umap") if not embedding.available(m)]
    rows = []
    for n in [int(x) for x in args.points.split(",")]:
        feats, labs = noisy_copies(features, labels, n)
        for method in methods:
            import_started = time.perf_counter()
            if method == "umap":
                import umap  # noqa: F401  (numba compiles on first import: timed apart)
            if method == "opentsne":
                import openTSNE  # noqa: F401
            imported = time.perf_counter() - import_started
            variants = [(method, None)]
            if method == "tsne" and n > embedding.FEWER_ITERATIONS_ABOVE:
                variants.append(("tsne, 1000 it", float("inf")))  # what the default iterations would cost
            for label, above in variants:
                saved = embedding.FEWER_ITERATIONS_ABOVE
                if above is not None:
                    embedding.FEWER_ITERATIONS_ABOVE = above
                try:
                    t0 = time.perf_counter()
                    result = embedding.embed(feats, method)
                    seconds = time.perf_counter() - t0
                finally:
                    embedding.FEWER_ITERATIONS_ABOVE = saved
                keep = embedding.knn_preservation(result.prepared, result.xy, 10)
                sil = embedding.separation(result.xy, labs)
                rows.append([n, label, seconds, imported, keep, sil])
                print(f"   ... {n} {label}: {seconds:.1f} s", file=sys.stderr, flush=True)
    print("\n-- 2. Similarity map: layout time and quality")
    common.table(["points", "method", "seconds", "import s", "kNN-10 kept", "2-D silhouette"], rows)
    print(
        "(seconds include cluster.prepare + PCA 50; 'import s' = first import of the optional package in this "
        "process; silhouette of the folder labels in 2-D, sampled at 5,000)"
    )
    if missing:
        print(f"not installed here, so not measured: {', '.join(missing)} (pip install openTSNE umap-learn)")
    print(f"auto picks: {embedding.resolve('auto')}")


# ---------------------------------------------------------------- 3. near-duplicates


def build_copy_set(data: Path, dest: Path, originals: int, copied: int, distractors: bool, offset: int = 0):
    """Copy photos into ``dest``; returns (families: original rel -> its copies' rels, all rels)."""
    by_class = {d.name: sorted(d.glob("*.jpg")) for d in sorted(Path(data).iterdir()) if d.is_dir()}
    by_class = {c: files[offset:] + files[:offset] for c, files in by_class.items()}
    classes = sorted(by_class)
    chosen = []
    i = 0
    while len(chosen) < originals:
        for c in classes:
            if i < len(by_class[c]) and len(chosen) < originals:
                chosen.append(by_class[c][i])
        i += 1
    rels, families = [], {}
    for n, src in enumerate(chosen):
        rel = f"{src.parent.name}/{src.name}"
        (dest / src.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
        rels.append(rel)
        if n < copied:
            stem = f"{src.parent.name}/{src.stem}"
            with Image.open(src) as im:
                im = im.convert("RGB")
                w, h = im.size
                im.resize((round(w * 0.7), round(h * 0.7)), Image.LANCZOS).save(
                    dest / f"{stem}_resized.jpg", quality=90
                )
                im.save(dest / f"{stem}_q40.jpg", quality=40)
                cw, ch = round(w * 0.9), round(h * 0.9)
                left, top = (w - cw) // 2, (h - ch) // 2
                im.crop((left, top, left + cw, top + ch)).save(dest / f"{stem}_crop.jpg", quality=90)
            copies = [f"{stem}_resized.jpg", f"{stem}_q40.jpg", f"{stem}_crop.jpg"]
            families[rel] = copies
            rels += copies
    if distractors:
        taken = set(chosen)
        for c in classes:
            for src in by_class[c]:
                if src not in taken:
                    shutil.copy2(src, dest / c / src.name)
                    rels.append(f"{c}/{src.name}")
    return families, rels


def bench_dupes(args, weights, images, features) -> None:
    from engine.duplicates import find_duplicates
    from engine.pipeline import run

    print(
        f"\n-- 3. Near-duplicates on scenes6 copies (resized 70 %, JPEG q40, 90 % centre crop), originals from "
        f"photo {args.offset} of each class on"
    )
    rows = []
    settings = [(args.originals, args.copied, False)]
    if args.distractors or args.originals < 600:
        settings.append((600, args.copied, True))
    fe = None
    for originals, copied, distractors in settings:
        with common.fresh_dir("dupes") as folder, common.fresh_dir("dupes-cache") as cache:
            families, rels = build_copy_set(Path(args.data), folder, originals, copied, distractors, args.offset)
            if fe is None:
                fe = common.extractor(weights, batch_size=args.batch_size)
            analysis, extract_s = common.analyse(folder, fe, cache)
            true_pairs = set()
            for orig, copies in families.items():
                true_pairs |= {frozenset(p) for p in combinations([orig, *copies], 2)}
            for name, feats in (("hash + features", analysis.features), ("hash only", None)):
                t0 = time.perf_counter()
                report = run(find_duplicates(analysis.images, folder, feats))
                seconds = time.perf_counter() - t0
                found = report.pairs()
                tp = len(found & true_pairs)
                precision = tp / len(found) if found else 1.0
                recall = tp / len(true_pairs) if true_pairs else 1.0
                kinds = {k: _recall_of(found, families, k) for k in ("resized", "q40", "crop")}
                best_ok = [g.best in families for g in report.groups if any(m in families for m in g.members)]
                rows.append(
                    [
                        len(rels),
                        f"{len(families)}x3",
                        name,
                        len(report.groups),
                        len(found),
                        precision,
                        recall,
                        kinds["resized"],
                        kinds["q40"],
                        kinds["crop"],
                        float(np.mean(best_ok)) if best_ok else float("nan"),
                        seconds,
                    ]
                )
                wrong = sorted(tuple(sorted(p)) for p in found - true_pairs)
                if wrong:
                    print(f"   {name}, {len(rels)} photos: {len(wrong)} false pairs, e.g. {wrong[:4]}")
            print(f"   ({len(rels)} photos: features extracted in {extract_s:.0f} s, not counted below)")
    common.table(
        [
            "photos",
            "copied",
            "signals",
            "groups",
            "pairs",
            "precision",
            "recall",
            "recall resized",
            "recall q40",
            "recall crop",
            "best=original",
            "seconds",
        ],
        rows,
    )
    print("goal: precision >= 0.95 and recall >= 0.9 with hash + features")


# ---------------------------------------------------------------- 4. the map view at 10,000 dots


def bench_map_view() -> None:
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from gui.similarity_map import SimilarityMapView, points_in_polygon

    app = QApplication.instance() or QApplication([])
    rows = []
    for n in (10_000, 100_000):
        rng = np.random.default_rng(0)
        view = SimilarityMapView()
        view.resize(1000, 800)
        view.show()
        t0 = time.perf_counter()
        view.set_points([f"p{i}" for i in range(n)], rng.normal(size=(n, 2)), rng.integers(-1, 12, n))
        setup = (time.perf_counter() - t0) * 1000
        view.grab()
        render = view.last_render_ms
        t0 = time.perf_counter()
        for _ in range(20):
            view.grab()
        repaint = (time.perf_counter() - t0) * 1000 / 20
        t0 = time.perf_counter()
        for x in range(0, 1000, 5):
            event = QMouseEvent(
                QEvent.Type.MouseMove,
                QPointF(x, 400),
                QPointF(x, 400),
                Qt.MouseButton.NoButton,
                Qt.MouseButton.NoButton,
                Qt.KeyboardModifier.NoModifier,
            )
            QApplication.sendEvent(view, event)
        hover = (time.perf_counter() - t0) * 1000 / 200
        polygon = np.array([[300 + 200 * np.cos(a), 400 + 200 * np.sin(a)] for a in np.linspace(0, 6.28, 200)])
        t0 = time.perf_counter()
        points_in_polygon(view.to_screen(view.xy), polygon)
        lasso = (time.perf_counter() - t0) * 1000
        rows.append([n, setup, render, repaint, hover, lasso])
        view.deleteLater()
    app.processEvents()
    print("\n-- 4. Similarity map view (offscreen, 1000x800): milliseconds")
    common.table(
        [
            "dots",
            "set points + k-d tree",
            "draw all dots (zoom/recolour)",
            "repaint (blit)",
            "hover (k-d tree)",
            "lasso of 200 vertices",
        ],
        rows,
    )


def _recall_of(found: set, families: dict, kind: str) -> float:
    pairs = [frozenset((orig, next(c for c in copies if kind in c))) for orig, copies in families.items()]
    return sum(p in found for p in pairs) / len(pairs) if pairs else float("nan")


if __name__ == "__main__":
    main()
