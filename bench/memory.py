"""Peak memory of analysing a folder: it should not grow with photo size or count beyond the features.

Each measurement runs in a fresh Python process (so peaks do not mix) that
builds the extractor, runs one throw-away batch (model + TensorFlow buffers:
the "warm" RSS), then engine.pipeline.analyse on the folder with a fresh cache,
and reports resource.getrusage(RUSAGE_SELF).ru_maxrss.
Sets: the model alone (no photos); --data (scenes6, 600 small JPEGs); --many
photos made from --data by tagged copies (a comment segment with a unique tag
inserted: same pixels, different fingerprint); --large 12 MP synthetic JPEGs
(a few distinct ones, the rest tagged copies). The last column is the growth
over the --data run per extra photo; the features themselves are 4 KB
(1024 float32) per photo.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import _common as c

FEATURE_KB = 1024 * 4 / 1024


def main() -> None:
    p = c.parser(__doc__.split("\n")[0])
    p.add_argument(
        "--many",
        type=int,
        default=2000,
        help="photos in the 'many' set, tagged copies of --data (5000 for the full figure: about 5 minutes more)",
    )
    p.add_argument("--large", type=int, default=600, help="12 MP photos in the large set (0 = skip)")
    p.add_argument("--distinct", type=int, default=24, help="distinct synthetic 12 MP photos behind --large")
    p.add_argument("--size", default="4000x3000", help="large photo size WxH")
    p.add_argument("--child", type=Path, help=argparse_hidden())
    p.add_argument("--cache", type=Path, help=argparse_hidden())
    args = p.parse_args()
    if args.child is not None:
        return child(args)
    c.check_data(args)
    c.weights_source(args)
    started = time.perf_counter()
    c.header(
        "memory: peak RSS of analyse, one fresh process per row",
        args,
        many=args.many,
        large=args.large,
        distinct=args.distinct,
        size=args.size,
    )
    size = tuple(int(v) for v in args.size.lower().split("x"))
    rows = []
    with c.fresh_dir("sets") as sets:
        empty = sets / "empty"
        empty.mkdir()
        base = measure(args, empty)
        rows.append(["model only (no photos)", 0, base, None])
        small = measure(args, Path(args.data))
        rows.append([f"{_short(args.data)} (150x150)", small["images"], small, None])
        if args.many:
            many = sets / "many"
            make_many(Path(args.data), many, args.many)
            rows.append([f"{args.many} tagged copies of it", None, measure(args, many), small])
            _rmtree(many)
        if args.large:
            large = sets / "large"
            t0 = time.perf_counter()
            mb = c.make_photos(large / "distinct", min(args.distinct, args.large), size)
            make_many(large / "distinct", large / "all", args.large)
            _rmtree(large / "distinct")
            print(
                f"made {args.large} {size[0]}x{size[1]} JPEGs ({min(args.distinct, args.large)} distinct, "
                f"mean {mb:.2f} MB) in {time.perf_counter() - t0:.0f} s"
            )
            rows.append([f"{args.large} synthetic {size[0]}x{size[1]}", None, measure(args, large / "all"), small])
    print()
    table = []
    for name, _, r, ref in rows:
        diff = per = None
        if ref is not None:
            diff = r["peak_mb"] - ref["peak_mb"]
            if r["images"] != ref["images"]:
                per = diff * 1024 / (r["images"] - ref["images"])
        table.append(
            [name, r["images"], r["warm_mb"], r["peak_mb"], r["peak_mb"] - r["warm_mb"], r["seconds"], diff, per]
        )
    c.table(
        [
            "set",
            "photos",
            "warm RSS MB",
            "peak RSS MB",
            "peak - warm MB",
            "analyse s",
            "peak vs scenes6 MB",
            "KB per extra photo",
        ],
        table,
    )
    print(f"(a photo's feature vector is {FEATURE_KB:.0f} KB as float32; 'warm' = model built and run once)")
    c.footer(started)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def measure(args, folder: Path) -> dict:
    with c.fresh_dir("cache") as cache:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            str(folder),
            "--cache",
            str(cache),
            "--batch-size",
            str(args.batch_size),
        ]
        if args.weights is not None:
            cmd += ["--weights", str(args.weights)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"memory child failed on {folder}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(args) -> None:
    fe = c.extractor(c.weights_source(args), "auto", args.batch_size)
    warm = _rss_mb()
    analysis, secs = c.analyse(args.child, fe, args.cache)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    print(
        json.dumps(
            {
                "images": len(analysis.images),
                "extracted": analysis.extracted,
                "warm_mb": warm,
                "peak_mb": peak,
                "seconds": secs,
            }
        )
    )


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_many(src: Path, dst: Path, count: int) -> None:
    """``count`` photos: the photos of ``src`` over and over, each copy with its own tag."""
    files = c.image_paths(src)
    rounds = math.ceil(count / len(files))
    made = 0
    for r in range(rounds):
        for f in files:
            if made == count:
                return
            rel = Path(f).relative_to(Path(src).resolve())
            target = dst / f"copy{r:02d}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            c.tagged_copy(Path(f), target, f"photocluster-bench copy {r} {made}")
            made += 1


def _short(path) -> str:
    return Path(path).name


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
