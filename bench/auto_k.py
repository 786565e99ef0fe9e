"""Automatic k on labelled sets and class-balanced subsets of them: chosen k against the true k, and NMI.

engine.cluster.cluster_features with k="auto" and with the true k, on the
vectors the engine stores (computed once per set from the maps bench/_maps.py
keeps under --store), for the whole set and for --subsets random class-balanced
subsets of 60 to 200 photos.
Goals (issue 11): auto k within +-30 % of the true k; NMI at auto k >= NMI at
the true k - 0.03; no cluster under 3 photos.
"""

from __future__ import annotations

import time

import _common as c
import _maps
import numpy as np

SIZES = {"scenes6": (10, 20, 33), "food101_10": (6, 10, 20)}  # photos per class: 60-200 photos


def main() -> None:
    p = c.parser(__doc__.split("\n")[0], data=False)
    _maps.add_set_options(p)
    p.add_argument("--subsets", type=int, default=3, help="random subsets per size")
    p.add_argument("--seed", type=int, default=0, help="clustering seed")
    args = p.parse_args()
    started = time.perf_counter()
    c.header("automatic k against the true k", args, subsets=args.subsets, seed=args.seed)

    from sklearn.metrics import normalized_mutual_info_score as nmi

    from engine.cluster import cluster_features

    rows, met = [], []
    for name in args.sets.split(","):
        maps = _maps.load_maps(args.data_root / name, args.store / f"{name}-none.npz", args)
        vectors, labels = _maps.stored_vectors(maps), maps["labels"]
        parts = [("all", np.arange(len(labels)))]
        for per_class in SIZES.get(name, (10, 20)):
            for i, idx in enumerate(_maps.balanced_subsets(labels, per_class, args.subsets, seed=per_class)):
                parts.append((f"{per_class}/class #{i + 1}", idx))
        for tag, idx in parts:
            truth = labels[idx]
            true_k = len(set(truth.tolist()))
            auto = cluster_features(vectors[idx], "auto", seed=args.seed)
            fixed = cluster_features(vectors[idx], true_k, seed=args.seed)
            nmi_auto, nmi_true = nmi(truth, auto.labels), nmi(truth, fixed.labels)
            smallest = int(np.bincount(auto.labels[auto.labels >= 0]).min())
            in_range = abs(auto.k - true_k) <= 0.3 * true_k
            ok_nmi = nmi_auto >= nmi_true - 0.03
            met.append((in_range, ok_nmi, smallest >= 3))
            rows.append(
                [
                    name,
                    tag,
                    len(idx),
                    true_k,
                    auto.k,
                    "clear" if auto.k_clear else "no clear k",
                    nmi_auto,
                    nmi_true,
                    smallest,
                    in_range,
                    ok_nmi,
                ]
            )
    c.table(
        [
            "set",
            "photos",
            "n",
            "true k",
            "auto k",
            "scores",
            "NMI auto",
            "NMI true k",
            "smallest",
            "k +-30%",
            "NMI >= -0.03",
        ],
        rows,
    )
    total = len(met)
    print(
        f"k within +-30 %: {sum(m[0] for m in met)}/{total}; NMI within 0.03: {sum(m[1] for m in met)}/{total}; "
        f"both: {sum(m[0] and m[1] for m in met)}/{total}; no cluster under 3: {sum(m[2] for m in met)}/{total}"
    )
    c.footer(started)


if __name__ == "__main__":
    main()
