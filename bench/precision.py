"""Automatic TensorFlow inference precision versus float32 on this CPU: speed and clustering quality.

(The OpenVINO engine is measured by bench/throughput.py and bench/engine_quality.py.)

For each precision (what "auto" picks here, and float32): model-only images/s
(FeatureExtractor.run_batch on pre-decoded photos), end-to-end images/s
(engine.pipeline.analyse with a cold cache, run chunk by chunk with the two
precisions alternating) and NMI/ARI of
engine.cluster.cluster_features(k=6, kmeans) against the folder labels. Also
how close the two precisions' vectors are (cosine) and how much their
clusterings agree (NMI between the two labelings). The measurements of the two
precisions are interleaved so background load hits both alike.
"""

from __future__ import annotations

import time

import _common as c
import numpy as np


def main() -> None:
    p = c.parser(__doc__.split("\n")[0])
    p.add_argument(
        "--model-images", type=int, default=128, help="photos for the model-only figure (0 = all photos in --data)"
    )
    p.add_argument("--clusters", type=int, default=6, help="k for the NMI figure (scenes6 has 6 classes)")
    p.add_argument("--repeats", type=int, default=1, help="passes over the model-only photos (averaged)")
    p.add_argument(
        "--chunk",
        type=int,
        default=120,
        help="end to end is timed in chunks of this many photos, the precisions alternating (0 = whole)",
    )
    args = p.parse_args()
    c.check_data(args)
    weights = c.weights_source(args)
    started = time.perf_counter()

    from sklearn.metrics import normalized_mutual_info_score

    from engine.cluster import cluster_features
    from engine.features import detect_precision

    auto = detect_precision()
    precisions = [auto, "float32"] if auto != "float32" else ["float32"]
    c.header(
        "precision: automatic precision vs float32",
        args,
        auto_precision=auto,
        model_images=args.model_images,
        clusters=args.clusters,
        repeats=args.repeats,
        chunk=args.chunk,
    )
    if auto == "float32":
        print("note: this machine has no bfloat16/float16 path, so 'auto' is float32 and there is nothing to compare")
    extractors = {prec: c.extractor(weights, prec, args.batch_size, engine="tensorflow") for prec in precisions}

    paths = c.image_paths(args.data)
    pixels = c.pre_decode(
        paths[:: max(1, len(paths) // args.model_images)][: args.model_images] if args.model_images else paths
    )
    model_s = dict.fromkeys(precisions, 0.0)  # batch by batch, the precisions alternating (ABBA)
    turn = 0
    for _ in range(max(1, args.repeats)):
        for start in range(0, len(pixels), args.batch_size):
            for prec in precisions if turn % 2 == 0 else precisions[::-1]:
                t0 = time.perf_counter()
                extractors[prec].run_batch(pixels[start : start + args.batch_size])
                model_s[prec] += time.perf_counter() - t0
            turn += 1
    model_s = {prec: secs / max(1, args.repeats) for prec, secs in model_s.items()}

    # End to end, interleaved chunk by chunk (ABBA), each chunk a cold-cache analyse run per precision.
    wall = dict.fromkeys(precisions, 0.0)
    cpu = dict.fromkeys(precisions, 0.0)
    images = {prec: [] for prec in precisions}
    feats = {prec: [] for prec in precisions}
    with c.fresh_dir("chunks") as chunks:
        for i, (sub, _) in enumerate(c.chunk_folders(args.data, args.chunk, chunks)):
            for prec in precisions if i % 2 == 0 else precisions[::-1]:
                with c.fresh_dir("cache") as cache:
                    clock = c.cpu_clock()
                    analysis, _ = c.analyse(sub, extractors[prec], cache)
                    w, t = clock()
                wall[prec] += w
                cpu[prec] += t
                images[prec] += [f"{sub.name}/{r}" for r in analysis.images]
                feats[prec].append(analysis.features)
    e2e, labels, raw = {}, {}, {}
    for prec in precisions:
        raw[prec] = np.concatenate(feats[prec])
        rel = [r.split("/", 1)[1] for r in images[prec]]
        clustering = cluster_features(raw[prec], args.clusters, "kmeans")
        e2e[prec] = (len(rel) / wall[prec], *c.scores(rel, clustering.labels))
        labels[prec] = clustering.labels
    if images[precisions[0]] != images[precisions[-1]]:
        raise SystemExit("the two precisions analysed different photos")

    rows = []
    for prec in precisions:
        rate, nmi, ari = e2e[prec]
        rows.append(
            [
                f"{prec}{' (auto)' if prec == auto else ''}",
                len(pixels) / model_s[prec],
                rate,
                1000 * cpu[prec] / len(raw[prec]),
                nmi,
                ari,
                extractors[prec].warm_seconds,
            ]
        )
    print()
    c.table(
        [
            "precision",
            "model-only img/s",
            "end-to-end img/s",
            "end-to-end CPU ms/img",
            f"NMI k={args.clusters}",
            "ARI",
            "build+trace s",
        ],
        rows,
    )
    if len(precisions) == 2:
        a, b = precisions
        cos = np.sum(_l2(raw[a]) * _l2(raw[b]), axis=1)
        print()
        c.table(
            ["auto vs float32", "value"],
            [
                ["model-only speed ratio (x)", model_s[b] / model_s[a]],
                ["end-to-end speed ratio (x)", e2e[a][0] / e2e[b][0]],
                ["end-to-end CPU-time ratio (x)", cpu[b] / cpu[a]],
                ["NMI difference (auto - float32)", e2e[a][1] - e2e[b][1]],
                ["ARI difference (auto - float32)", e2e[a][2] - e2e[b][2]],
                ["feature cosine, mean", f"{cos.mean():.5f}"],
                ["feature cosine, worst photo", f"{cos.min():.5f}"],
                ["NMI between the two clusterings", normalized_mutual_info_score(labels[a], labels[b])],
            ],
        )
    c.footer(started)


def _l2(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


if __name__ == "__main__":
    main()
