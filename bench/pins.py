"""Pins that steer: NMI on the unpinned photos with and without --per-class pinned photos of every true class.

"Without" is the plain clustering at the true k; "with" is
engine.guided.cluster_guided given the pins (row -> class) and k="auto",
scored on the photos that were not pinned, both at the draw's seed (the
randomised PCA moves plain NMI by about 0.01 between seeds on scenes6, so a
fixed seed for one side only would score seed luck, not the pins). Several
random draws of pins; the vectors are the engine's stored ones, from the maps
bench/_maps.py keeps.
Goal (issue 11): with 5 pins per class, NMI on the unpinned photos rises by
>= 0.08 on food101_10 and does not fall on scenes6.
"""

from __future__ import annotations

import time

import _common as c
import _maps
import numpy as np


def main() -> None:
    p = c.parser(__doc__.split("\n")[0], data=False)
    _maps.add_set_options(p)
    p.add_argument("--per-class", type=int, default=5, help="pinned photos per true class")
    p.add_argument("--draws", type=int, default=3, help="random draws of the pinned photos")
    p.add_argument("--shrink", type=float, default=None, help="identity share in the whitening (engine.guided.SHRINK)")
    p.add_argument("--dims", type=int, default=None, help="PCA size of the learned view (engine.guided.LEARNED_DIMS)")
    p.add_argument("--weight", type=float, default=None, help="learned view's weight (engine.guided.LEARNED_WEIGHT)")
    p.add_argument("--anchor", type=float, default=None, help="pinned centroids' anchor (engine.guided.ANCHOR)")
    args = p.parse_args()
    started = time.perf_counter()
    from engine import guided

    c.header(
        "pins steering the grouping",
        args,
        per_class=args.per_class,
        draws=args.draws,
        shrink=args.shrink or guided.SHRINK,
        anchor=args.anchor or guided.ANCHOR,
        dims=args.dims or guided.LEARNED_DIMS,
        weight=args.weight or guided.LEARNED_WEIGHT,
    )

    from sklearn.metrics import normalized_mutual_info_score as nmi

    from engine.cluster import cluster_features

    if args.shrink is not None:
        guided.SHRINK = args.shrink
    if args.dims is not None:
        guided.LEARNED_DIMS = args.dims
    if args.weight is not None:
        guided.LEARNED_WEIGHT = args.weight
    if args.anchor is not None:
        guided.ANCHOR = args.anchor
    rows, met = [], []
    for name in args.sets.split(","):
        maps = _maps.load_maps(args.data_root / name, args.store / f"{name}-none.npz", args)
        vectors, labels = _maps.stored_vectors(maps), maps["labels"]
        classes = sorted(set(labels.tolist()))
        before, after, ks = [], [], []
        for draw in range(args.draws):
            rng = np.random.default_rng(100 + draw)
            pinned = np.concatenate(
                [rng.choice(np.flatnonzero(labels == cls), args.per_class, replace=False) for cls in classes]
            )
            pins = {int(i): classes.index(labels[i]) for i in pinned}
            free = np.setdiff1d(np.arange(len(labels)), pinned)
            plain = cluster_features(vectors, len(classes), seed=draw).labels  # same seed: only the pins differ
            steered = guided.cluster_guided(vectors, pins, "auto", seed=draw)
            before.append(nmi(labels[free], plain[free]))
            after.append(nmi(labels[free], steered.labels[free]))
            ks.append(steered.k)
            assert all(steered.fixed[steered.labels[i]] == cid for i, cid in pins.items()), "a pin moved"
        gain = float(np.mean(after) - np.mean(before))
        goal = 0.08 if name == "food101_10" else 0.0
        met.append(gain >= goal)
        rows.append(
            [
                name,
                len(classes),
                args.per_class,
                np.mean(before),
                np.mean(after),
                gain,
                np.min(np.array(after) - np.array(before)),
                f"{min(ks)}-{max(ks)}",
                f">= {goal:g}",
                gain >= goal,
            ]
        )
    c.table(
        [
            "set",
            "classes",
            "pins/class",
            "NMI unpinned: plain k=true",
            "steered (auto k)",
            "gain",
            "worst draw",
            "k",
            "goal",
            "met",
        ],
        rows,
    )
    c.footer(started)


if __name__ == "__main__":
    main()
