"""Whole-pipeline throughput as a fraction of model-only throughput, measured side by side.

pipeline  = engine.pipeline.analyse on a folder with a cold (fresh, empty) cache:
            scan, fingerprint, decode (thread pool), model, cache writes.
model-only = FeatureExtractor.run_batch on the same photos already decoded to
            224x224 uint8, same batch size, same precision, same extractor.

The model is built and traced once before any timing (a one-off cost of every
run, reported separately), so both figures are steady-state. The two sides are
interleaved (ABBA) so that other load on the machine hits both alike: scenes6
in chunks of --chunk photos (each chunk its own cold-cache analyse run), the
12 MP set as whole runs, --rounds-large times. Two sets: the
labelled scenes6 folder (small JPEGs) and N synthetic 12-megapixel JPEGs
(4000x3000, quality 90, ~3.5 MB each, generated into a temporary folder).
Goals: ratio >= 0.9 on scenes6, >= 0.7 on 12 MP. The 12 MP set also gets a
profile: decode cost per variant (DCT draft or not, reducing_gap) and the
pipeline with 1..3 decode workers.

Engine speed-up (issue 8): the chosen engine (--engine, default auto: what the
app picks) against TensorFlow float32, both end to end (cold-cache analyse
runs), scenes6 chunk by chunk in ABBA order. Goal: >= 2.5x.
"""

from __future__ import annotations

import time

import _common as c
import numpy as np

GOALS = {"scenes6": 0.9, "12 MP": 0.7}
SPEEDUP_GOAL = 2.5


def main() -> None:
    p = c.parser(__doc__.split("\n")[0])
    p.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "int8", "bfloat16", "float16", "float32"),
        help="inference precision (auto = what the app picks on this machine)",
    )
    p.add_argument(
        "--engine",
        default="auto",
        choices=("auto", "openvino", "tensorflow"),
        help="engine measured (auto = what the app picks on this machine)",
    )
    p.add_argument("--no-speedup", action="store_true", help="skip the end-to-end run against TensorFlow float32")
    p.add_argument("--photos", type=int, default=64, help="number of synthetic 12 MP photos (0 = skip that set)")
    p.add_argument("--size", default="4000x3000", help="synthetic photo size WxH")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality of the synthetic photos")
    p.add_argument("--decode-workers", type=int, default=2, help="decode threads in the pipeline (engine default 2)")
    p.add_argument(
        "--chunk",
        type=int,
        default=120,
        help="scenes6 is timed in chunks of this many photos, model-only and pipeline alternating "
        "(0 = one run of the whole folder)",
    )
    p.add_argument("--rounds", type=int, default=1, help="passes over scenes6")
    p.add_argument("--rounds-large", type=int, default=3, help="passes over the 12 MP set (one analyse run each)")
    p.add_argument("--no-scenes6", action="store_true", help="skip the scenes6 set")
    p.add_argument("--no-profile", action="store_true", help="skip the 12 MP decode profile")
    args = p.parse_args()
    c.check_data(args)
    weights = c.weights_source(args)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    started = time.perf_counter()
    fe = c.extractor(weights, args.precision, args.batch_size, args.decode_workers, engine=args.engine)
    c.header(
        "throughput: pipeline images/s divided by model-only images/s; engine vs TensorFlow float32",
        args,
        engine=fe.label,
        decode_workers=args.decode_workers,
        chunk=args.chunk,
        rounds=args.rounds,
        photos=args.photos,
        size=args.size,
        quality=args.quality,
        rounds_large=args.rounds_large,
    )
    print(f"model build + first trace (excluded below): {fe.warm_seconds:.1f} s{' ' + fe.notice if fe.notice else ''}")
    if not args.no_scenes6 and not args.no_speedup:
        speedup(fe, c.extractor(weights, "float32", args.batch_size, args.decode_workers, engine="tensorflow"), args)

    rows, breakdown = [], []
    sets = [] if args.no_scenes6 else [("scenes6", args.data, args.chunk, args.rounds)]
    with c.fresh_dir("photos") as photos:
        if args.photos > 0:
            t0 = time.perf_counter()
            mb = c.make_photos(photos, args.photos, size, args.quality)
            print(
                f"generated {args.photos} synthetic {size[0]}x{size[1]} JPEGs, mean {mb:.2f} MB, "
                f"in {time.perf_counter() - t0:.0f} s"
            )
            sets.append(("12 MP", photos, 0, args.rounds_large))
        for name, folder, chunk, rounds in sets:
            r = measure(fe, folder, chunk, rounds)
            goal = GOALS[name]
            rows.append(
                [
                    name,
                    r["images"],
                    f"{r['chunks']}x{rounds}",
                    r["model_rate"],
                    r["pipe_rate"],
                    r["ratio"],
                    f"{r['median']:.2f} ({r['lo']:.2f}..{r['hi']:.2f})",
                    r["cpu_ratio"],
                    f">= {goal}",
                    c.verdict(r["ratio"] >= goal),
                ]
            )
            n = r["n"]
            breakdown.append(
                [
                    name,
                    r["pipe_s"],
                    r["in_model_s"],
                    r["pipe_s"] - r["in_model_s"],
                    r["model_s"],
                    1000 * r["pipe_cpu"] / n,
                    1000 * r["model_cpu"] / n,
                    1000 * (r["pipe_cpu"] - r["model_cpu"]) / n,
                ]
            )
        print()
        c.table(
            [
                "set",
                "photos",
                "runs",
                "model-only img/s",
                "pipeline img/s",
                "ratio",
                "per-run median (range)",
                "CPU-time ratio",
                "goal",
                "verdict",
            ],
            rows,
        )
        print(
            "ratio = pipeline img/s / model-only img/s over all runs; CPU-time ratio = model-only CPU s / pipeline "
            "CPU s\n(what the wall ratio is when the model keeps every core busy; it hardly moves with other load)"
        )
        print()
        print("where the time went (totals over all runs; CPU = this process, all threads):")
        c.table(
            [
                "set",
                "pipeline wall s",
                "in run_batch s",
                "outside run_batch s",
                "model-only wall s",
                "pipeline CPU ms/img",
                "model-only CPU ms/img",
                "extra CPU ms/img",
            ],
            breakdown,
        )
        if args.photos > 0 and not args.no_profile:
            print()
            profile(fe, photos)
    c.footer(started)


def speedup(fe, reference, args) -> None:
    """End to end (cold-cache analyse), ``fe`` vs TensorFlow float32 on scenes6, chunk by chunk in ABBA order."""
    wall = {"engine": 0.0, "reference": 0.0}
    n = 0
    with c.fresh_dir("chunks") as chunks:
        for turn, (sub, members) in enumerate(c.chunk_folders(args.data, args.chunk, chunks)):
            sides = (("engine", fe), ("reference", reference))
            for side, extractor in sides if turn % 2 == 0 else sides[::-1]:
                with c.fresh_dir("cache") as cache:
                    analysis, seconds = c.analyse(sub, extractor, cache)
                if analysis.extracted + analysis.copies != len(members):
                    raise SystemExit(f"{side} extracted {analysis.extracted} of {len(members)} photos")
                wall[side] += seconds
            n += len(members)
    ratio = wall["reference"] / wall["engine"]
    print()
    c.table(
        ["end to end, scenes6 (cold cache, ABBA)", "img/s"],
        [[fe.label, n / wall["engine"]], [reference.label, n / wall["reference"]]],
    )
    print(f"speed-up {ratio:.2f}x (goal >= {SPEEDUP_GOAL}x): {c.verdict(ratio >= SPEEDUP_GOAL)}")


def measure(fe, folder, chunk: int, rounds: int) -> dict:
    """Model-only and pipeline timings, interleaved chunk by chunk (ABBA order) so load drift hits both.

    Each chunk is its own folder (symbolic links to the photos, in order) and its
    own cold-cache analyse run; the model-only side runs the same photos in the
    same batches. Returns totals over all chunks and rounds, and the spread.
    """
    paths = c.image_paths(folder)
    tot = {"model_s": 0.0, "pipe_s": 0.0, "in_model_s": 0.0, "model_cpu": 0.0, "pipe_cpu": 0.0, "n": 0}
    pair_ratios = []
    with c.fresh_dir("chunks") as chunks:
        groups = [(sub, c.pre_decode(members)) for sub, members in c.chunk_folders(folder, chunk, chunks)]
        turn = 0
        for _ in range(max(1, rounds)):
            for sub, pixels in groups:
                sides = {}
                order = ("model", "pipe") if turn % 2 == 0 else ("pipe", "model")
                turn += 1
                for side in order:
                    cpu0 = time.process_time()
                    if side == "model":
                        sides["model_s"] = c.model_only(fe, pixels)
                    else:
                        with c.fresh_dir("cache") as cache:
                            analysis, sides["pipe_s"] = c.analyse(sub, fe, cache)
                        if analysis.extracted != len(pixels) or len(analysis.images) != len(pixels):
                            raise SystemExit(f"pipeline extracted {analysis.extracted} of {len(pixels)} photos")
                        sides["in_model_s"] = analysis.model_seconds
                    sides[f"{side}_cpu"] = time.process_time() - cpu0
                for key, value in sides.items():
                    tot[key] += value
                tot["n"] += len(pixels)
                pair_ratios.append(sides["model_s"] / sides["pipe_s"])
    n = tot["n"]
    tot.update(
        images=len(paths),
        chunks=len(groups),
        model_rate=n / tot["model_s"],
        pipe_rate=n / tot["pipe_s"],
        lo=min(pair_ratios),
        hi=max(pair_ratios),
        median=float(np.median(pair_ratios)),
    )
    tot["ratio"] = tot["pipe_rate"] / tot["model_rate"]
    tot["cpu_ratio"] = tot["model_cpu"] / tot["pipe_cpu"]
    return tot


def profile(fe, folder) -> None:
    """Where a 12 MP photo's time goes: decode variants (one thread) and decode worker counts."""
    from PIL import Image

    from engine.decode import MODEL_SIZE, load_for_model, open_rgb

    paths = c.image_paths(folder)

    def full_decode(p):  # no DCT scaling: what the engine would cost without Image.draft
        im = open_rgb(p, 10**9)
        return np.asarray(im.resize((MODEL_SIZE, MODEL_SIZE), Image.BILINEAR, reducing_gap=2.0))

    def draft_no_gap(p):  # draft, then a plain bilinear resize (no reducing_gap pre-shrink)
        im = open_rgb(p, MODEL_SIZE)
        return np.asarray(im.resize((MODEL_SIZE, MODEL_SIZE), Image.BILINEAR))

    def draft_only(p):  # draft alone: the JPEG decode with DCT scaling, no resize
        return open_rgb(p, MODEL_SIZE)

    variants = [
        ("engine load_for_model (draft + bilinear, reducing_gap=2)", load_for_model),
        ("draft decode only (no resize)", draft_only),
        ("draft + bilinear, no reducing_gap", draft_no_gap),
        ("full decode (no draft) + bilinear, reducing_gap=2", full_decode),
    ]
    print(f"12 MP profile ({len(paths)} photos)")
    rows = []
    for name, fn in variants:
        t0, cpu0 = time.perf_counter(), time.process_time()
        for p in paths:
            fn(p)
        rows.append(
            [name, 1000 * (time.perf_counter() - t0) / len(paths), 1000 * (time.process_time() - cpu0) / len(paths)]
        )
    c.table(["decode variant (one thread)", "wall ms/img", "CPU ms/img"], rows)
    print()
    rows = []
    saved = fe.decode_workers
    try:
        for workers in (1, 2, 3):
            fe.decode_workers = workers
            r = measure(fe, folder, 0, 2)
            rows.append(
                [
                    workers,
                    r["model_rate"],
                    r["pipe_rate"],
                    r["ratio"],
                    f"{r['lo']:.2f}..{r['hi']:.2f}",
                    r["cpu_ratio"],
                    (r["pipe_s"] - r["in_model_s"]) / 2,
                ]
            )
    finally:
        fe.decode_workers = saved
    c.table(
        [
            "decode_workers",
            "model-only img/s",
            "pipeline img/s",
            "ratio",
            "per-run ratios",
            "CPU-time ratio",
            "s outside run_batch per run",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
