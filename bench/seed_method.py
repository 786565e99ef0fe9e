"""The seed method versus PhotoCluster's pipeline, end to end: speed and clustering quality.

Seed method, exactly as the original script did it: per photo
keras.utils.load_img(path, target_size=(224, 224)), img_to_array,
keras.applications.vgg16.preprocess_input, model.predict on a batch of one
(VGG16 include_top=False, float32), the block5_pool output flattened
(7x7x512 = 25088 values), then sklearn KMeans(6) on all of them
(random_state=0 added so the figure is repeatable; everything else default).

Ours: what `python main.py cluster FOLDER --clusters 6` does, in-process:
engine.pipeline.analyse (cold cache, automatic precision, batch 32) and
engine.cluster.cluster_features(k=6, kmeans).

Both models are built and traced before timing (that one-off cost is shown
apart); the timed part is reading the photos through clustering them. The two
methods take turns chunk by chunk (--chunk photos, ABBA order; ours runs one
cold-cache analyse per chunk) so that other load on the machine hits both alike.
Goal: ours >= 8x the seed method's images/s. NMI/ARI against folder labels.
"""

from __future__ import annotations

import time
from pathlib import Path

import _common as c
import numpy as np


def main() -> None:
    p = c.parser(__doc__.split("\n")[0])
    p.add_argument(
        "--limit", type=int, default=0, help="photos per method, an equal share from each class (0 = all of --data)"
    )
    p.add_argument("--clusters", type=int, default=6, help="k for both methods")
    p.add_argument(
        "--chunk",
        type=int,
        default=120,
        help="photos per turn: the two methods take turns chunk by chunk (ABBA) so that other load "
        "on the machine hits both alike (0 = one turn each)",
    )
    args = p.parse_args()
    c.check_data(args)
    weights = c.weights_source(args)
    started = time.perf_counter()
    c.header(
        "seed method vs PhotoCluster pipeline",
        args,
        limit=args.limit or "all",
        clusters=args.clusters,
        chunk=args.chunk,
    )

    from sklearn.cluster import KMeans

    from engine.cluster import cluster_features

    seed = SeedMethod(weights.value)
    fe = c.extractor(weights, "auto", args.batch_size)
    wall = {"seed": 0.0, "ours": 0.0}
    cpu = {"seed": 0.0, "ours": 0.0}
    seed_feats, seed_rel, ours_feats, ours_rel = [], [], [], []
    with c.fresh_dir("subset") as subset, c.fresh_dir("chunks") as chunks:
        folder = Path(args.data)
        if args.limit:
            classes = [d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")]
            c.copy_subset(folder, subset, max(1, args.limit // max(1, len(classes))))
            folder = subset
        root = folder.resolve()
        for i, (sub, members) in enumerate(c.chunk_folders(folder, args.chunk, chunks)):
            for side in ("seed", "ours") if i % 2 == 0 else ("ours", "seed"):
                with c.fresh_dir("cache") as cache:
                    clock = c.cpu_clock()
                    if side == "seed":
                        seed_feats += seed.features(members)
                    else:
                        analysis, _ = c.analyse(sub, fe, cache)
                        ours_feats.append(analysis.features)
                    w, t = clock()
                wall[side] += w
                cpu[side] += t
            seed_rel += [Path(m).relative_to(root).as_posix() for m in members]
            ours_rel += analysis.images
    if seed_rel != ours_rel:
        raise SystemExit("the two methods saw different photos")
    clock = c.cpu_clock()
    seed_labels = KMeans(n_clusters=args.clusters, random_state=0).fit_predict(np.array(seed_feats))
    w, t = clock()
    wall["seed"] += w
    cpu["seed"] += t
    clock = c.cpu_clock()
    ours_labels = cluster_features(np.concatenate(ours_feats), args.clusters, "kmeans").labels
    w, t = clock()
    wall["ours"] += w
    cpu["ours"] += t

    n = len(seed_rel)
    seed_nmi, seed_ari = c.scores(seed_rel, seed_labels)
    ours_nmi, ours_ari = c.scores(ours_rel, ours_labels)
    ratio = wall["seed"] / wall["ours"]
    print()
    c.table(
        ["method", "photos", "build+trace s", "timed s", "img/s", "CPU ms/img", f"NMI k={args.clusters}", "ARI"],
        [
            [
                "seed (keras predict x1, float32, 25088-d, KMeans)",
                n,
                seed.build_seconds,
                wall["seed"],
                n / wall["seed"],
                1000 * cpu["seed"] / n,
                seed_nmi,
                seed_ari,
            ],
            [
                f"ours (analyse + cluster_features, {fe.precision}, batch {args.batch_size})",
                n,
                fe.warm_seconds,
                wall["ours"],
                n / wall["ours"],
                1000 * cpu["ours"] / n,
                ours_nmi,
                ours_ari,
            ],
        ],
    )
    print()
    c.table(
        ["comparison", "value", "goal", "verdict"],
        [
            ["speed ratio ours/seed, wall (x)", ratio, ">= 8", c.verdict(ratio >= 8)],
            ["speed ratio ours/seed, CPU time (x)", cpu["seed"] / cpu["ours"], "", ""],
            ["NMI difference ours - seed", ours_nmi - seed_nmi, "> 0", c.verdict(ours_nmi > seed_nmi)],
        ],
    )
    c.footer(started)


class SeedMethod:
    """The seed script's model and per-photo loop."""

    def __init__(self, weights_file: str):
        import keras

        self.keras = keras
        t0 = time.perf_counter()
        self.model = keras.applications.VGG16(include_top=False, weights=weights_file)
        warm = keras.applications.vgg16.preprocess_input(np.zeros((1, 224, 224, 3), np.float32))
        self.model.predict(warm, verbose=0)
        self.build_seconds = time.perf_counter() - t0

    def features(self, paths: list[str]) -> list[np.ndarray]:
        keras, out = self.keras, []
        for path in paths:
            img = keras.utils.load_img(path, target_size=(224, 224))
            x = keras.utils.img_to_array(img)
            x = keras.applications.vgg16.preprocess_input(np.expand_dims(x, axis=0))
            out.append(self.model.predict(x, verbose=0).flatten())
        return out


if __name__ == "__main__":
    main()
