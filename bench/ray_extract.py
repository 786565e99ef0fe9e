"""Extraction on Ray Data with 1 and 2 model workers against the local pipeline, on one machine.

    python bench/ray_extract.py [--photos 120] [--data ../shared/data/scenes6]

One local Ray instance (``ray.init(num_cpus=2)``) for the whole run. Each
measurement analyses the first ``--photos`` photos of --data (class-balanced
copies) into a fresh feature cache: locally (``pipeline.analyse``, the model
built beforehand), then with ``engine.ray_extract.extract`` and 1 and 2 actors
of 1 CPU each. Wall time includes the actors' model build (Ray starts them for
the run); "steady images/s" counts from the first batch back to the last.
On 2 shared cores two workers cannot be twice one: the figure that matters on
a real cluster is that they scale with nodes, which this machine cannot show.
"""

from __future__ import annotations

import time

import _common as common


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--photos", type=int, default=120, help="photos analysed per measurement (class-balanced)")
    args = p.parse_args()
    common.check_data(args)
    started = time.perf_counter()
    common.header("Ray extraction: 1 vs 2 workers vs local", args, photos=args.photos)
    weights = common.weights_source(args)
    from engine import ray_extract

    rows = []
    with common.fresh_dir("ray-photos") as photos:
        classes = sum(1 for d in args.data.iterdir() if d.is_dir())
        n = common.copy_subset(args.data, photos, max(1, args.photos // classes))
        fe = common.extractor(weights, batch_size=args.batch_size, engine="tensorflow")  # what the Ray workers run
        with common.fresh_dir("ray-cache") as cache:
            load = common.load()
            _, seconds = common.analyse(photos, fe, cache)
            rows.append(["local pipeline (model built before)", n, seconds, n / seconds, None, load])
        precision = fe.precision
        del fe
        ray_extract.connect(None, num_cpus=2, include_dashboard=False, object_store_memory=500 * 1024 * 1024)
        for workers in (1, 2, 2, 1):  # ABBA: background load hits both alike
            with common.fresh_dir("ray-cache") as cache:
                load = common.load()
                t0 = time.perf_counter()
                first = last = None
                gen = ray_extract.extract(
                    photos, weights, precision=precision, batch_size=args.batch_size, workers=workers, cache_dir=cache
                )
                while True:
                    try:
                        progress = next(gen)
                    except StopIteration as stop:
                        report = stop.value
                        break
                    if progress.stage == "features":
                        now = time.perf_counter()
                        first = (now, progress.done) if first is None else first
                        last = (now, progress.done)
                seconds = time.perf_counter() - t0
                steady = (last[1] - first[1]) / (last[0] - first[0]) if last and last[0] > first[0] else None
                rows.append(
                    [
                        f"Ray, {workers} worker{'s' if workers > 1 else ''}",
                        report.extracted,
                        seconds,
                        report.extracted / seconds,
                        steady,
                        load,
                    ]
                )
        import ray

        ray.shutdown()
    print()
    common.table(["run", "photos", "wall s", "images/s", "steady images/s", "load at start"], rows)
    one = [r[2] for r in rows if r[0] == "Ray, 1 worker"]
    two = [r[2] for r in rows if r[0] == "Ray, 2 workers"]
    print(f"2 workers vs 1, wall time (mean of 2 each, ABBA): {sum(one) / sum(two):.2f}x faster ({precision})")
    common.footer(started)


if __name__ == "__main__":
    main()
