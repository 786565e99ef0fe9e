"""Clustering quality on a labelled folder: NMI and ARI against the folder names, per method.

Runs engine.pipeline.analyse once per row with one shared cache folder (the
first row extracts, the others read the cache: the "extracted" column shows
it), then engine.cluster.cluster_features with k=6 for kmeans, agglomerative
and hdbscan, and with k="auto" (the CLI's default). HDBSCAN leaves doubtful
photos Unsorted (-1); its NMI/ARI count Unsorted as one more group, and the
"sorted only" columns score the rest.
Goals (scenes6): kmeans k=6 NMI >= 0.82; auto: k in 5..8 and NMI >= 0.75.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import _common as c

GOAL_K6 = 0.82
GOAL_AUTO = 0.75
AUTO_K = (5, 8)


def main() -> None:
    p = c.parser(__doc__.split("\n")[0])
    p.add_argument("--precision", default="auto", choices=("auto", "bfloat16", "float16", "float32"))
    p.add_argument("--clusters", type=int, default=6, help="the fixed k (scenes6 has 6 classes)")
    p.add_argument("--seed", type=int, default=0, help="clustering seed")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="feature cache to use and keep (default: a fresh temporary one, removed afterwards)",
    )
    args = p.parse_args()
    c.check_data(args)
    weights = c.weights_source(args)
    started = time.perf_counter()

    from engine.cluster import AUTO_TIE, UNSORTED, cluster_features

    fe = c.extractor(weights, args.precision, args.batch_size)
    c.header(
        "quality: NMI/ARI against folder labels",
        args,
        precision=fe.precision,
        seed=args.seed,
        cache_dir=args.cache_dir or "fresh temporary",
    )
    runs = [
        ("kmeans", args.clusters),
        ("agglomerative", args.clusters),
        ("hdbscan", args.clusters),
        ("kmeans", "auto"),
        ("agglomerative", "auto"),
        ("hdbscan", "auto"),
    ]
    rows, verdicts, auto_scores = [], [], None
    with contextlib.ExitStack() as stack:
        cache = args.cache_dir or stack.enter_context(c.fresh_dir("cache"))
        for method, k in runs:
            analysis, analyse_s = c.analyse(args.data, fe, cache)
            t0 = time.perf_counter()
            cl = cluster_features(analysis.features, k, method, args.seed)
            cluster_s = time.perf_counter() - t0
            nmi, ari = c.scores(analysis.images, cl.labels)
            sorted_ = cl.labels != UNSORTED
            unsorted = int((~sorted_).sum())
            if unsorted:
                s_nmi, s_ari = c.scores([r for r, s in zip(analysis.images, sorted_) if s], cl.labels[sorted_])
            else:
                s_nmi = s_ari = None
            rows.append([method, k, cl.k, nmi, ari, unsorted, s_nmi, s_ari, analysis.extracted, analyse_s, cluster_s])
            if (method, k) == ("kmeans", args.clusters):
                verdicts.append([f"kmeans k={k}: NMI >= {GOAL_K6}", nmi, c.verdict(nmi >= GOAL_K6)])
            if (method, k) == ("kmeans", "auto"):
                auto_scores = cl.k_scores
                ok = AUTO_K[0] <= cl.k <= AUTO_K[1]
                verdicts.append([f"auto: chosen k in {AUTO_K[0]}..{AUTO_K[1]}", cl.k, c.verdict(ok)])
                verdicts.append([f"auto: NMI >= {GOAL_AUTO}", nmi, c.verdict(nmi >= GOAL_AUTO)])
    print(f"{len(analysis.images)} photos, {len({c.label_of(r) for r in analysis.images})} folder labels")
    print()
    c.table(
        [
            "method",
            "k asked",
            "k found",
            "NMI",
            "ARI",
            "unsorted",
            "NMI sorted",
            "ARI sorted",
            "extracted",
            "analyse s",
            "cluster s",
        ],
        rows,
    )
    if auto_scores:
        best = max(auto_scores.values())
        print(
            "auto k silhouettes: "
            + "  ".join(f"{k}:{v:.3f}{'*' if v >= best - AUTO_TIE else ''}" for k, v in sorted(auto_scores.items()))
            + f"   (* = within {AUTO_TIE} of the best; the best k moves up along the plateau of * after it)"
        )
    print()
    c.table(["goal", "value", "verdict"], verdicts)
    c.footer(started)


if __name__ == "__main__":
    main()
