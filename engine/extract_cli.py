"""``python main.py extract FOLDER [--ray [ADDRESS]]``: fill the feature cache, locally or on a Ray cluster.

Afterwards the window and ``cluster`` open FOLDER without running the model.
Failures a person can cause end in one line on stderr and a non-zero exit, as in ``cluster``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from .cli import EXIT_CANCELLED, EXIT_FAILED, EXIT_USAGE, _positive_int, _ProgressBar, add_engine_arguments


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(EXIT_USAGE, f"photocluster extract: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .weights import ENV_VAR

    p = _OneLineParser(
        prog="python main.py extract",
        description="Compute the feature vectors of every photo in FOLDER into the feature cache, on this machine "
        "or on a Ray cluster, so that the window and 'cluster' open FOLDER without running the model.",
    )
    p.add_argument(
        "folder",
        metavar="FOLDER",
        help="folder of photos (searched recursively); with --ray, the same path must be readable on every node",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run on Ray: ADDRESS of the cluster (e.g. 10.0.0.1:6379 or ray://host:10001); without "
        "ADDRESS, the Ray instance running on this machine, else a new local one",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="with --ray: model replicas (actors), one per node or GPU (default: 1)",
    )
    p.add_argument(
        "--cpus-per-worker",
        type=float,
        default=1.0,
        metavar="C",
        help="with --ray: CPUs each replica reserves and uses (default: 1)",
    )
    p.add_argument(
        "--gpus-per-worker",
        type=float,
        default=0.0,
        metavar="G",
        help="with --ray: GPUs each replica reserves (default: 0 = CPUs only)",
    )
    p.add_argument(
        "--weights",
        metavar="PATH",
        help=f"VGG16 'no top' weights file, at this path on every node (default: ${ENV_VAR}, else "
        "Keras' ImageNet download)",
    )
    add_engine_arguments(p)
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N", help="images per model call")
    p.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (default: the user cache folder)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str]) -> int:
    from .features import choose_engine

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="photocluster: %(message)s")
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        print(f"photocluster extract: {folder} {what}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.ray is None:
            choose_engine(args.engine, args.precision)
    except ValueError as exc:
        print(f"photocluster extract: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args, folder)
    except KeyboardInterrupt:
        print("\nphotocluster extract: cancelled; features computed so far are kept in the cache", file=sys.stderr)
        return EXIT_CANCELLED


def _run(args, folder: Path) -> int:
    from .pipeline import run
    from .weights import WeightsError, resolve_weights

    bar = _ProgressBar(enabled=not args.quiet)
    try:
        weights = resolve_weights(args.weights)
        if args.ray is None:
            result = _local(args, folder, weights, bar)
        else:
            from . import ray_extract

            try:
                ray_extract.connect(args.ray or None)
            except ModuleNotFoundError:
                print("photocluster extract: --ray needs Ray Data: pip install 'photocluster[ray]'", file=sys.stderr)
                return EXIT_FAILED
            except ConnectionError as exc:
                print(f"photocluster extract: cannot reach the Ray cluster at {args.ray}: {exc}", file=sys.stderr)
                return EXIT_FAILED
            if args.engine == "openvino" or args.precision == "int8":
                print(
                    "photocluster extract: the Ray workers run TensorFlow; --engine openvino and --precision int8 "
                    "are for extraction on this machine",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            result = run(
                ray_extract.extract(
                    folder,
                    weights,
                    precision=args.precision,
                    batch_size=args.batch_size,
                    workers=args.workers,
                    cpus_per_worker=args.cpus_per_worker,
                    gpus_per_worker=args.gpus_per_worker,
                    cache_dir=args.cache_dir,
                    cancel=threading.Event(),
                ),
                bar.update,
            )
    except WeightsError as exc:
        print(f"photocluster extract: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        bar.close()
    for warning in result.warnings:
        print(f"photocluster extract: warning: {warning}", file=sys.stderr)
    where = f"on Ray, {args.workers} worker{'s' if args.workers != 1 else ''}" if args.ray is not None else "locally"
    rate = result.extracted / result.seconds if result.seconds and result.extracted else 0.0
    lines = [
        (
            f"Features of {result.photos} photos are in the cache ({where}, {result.seconds:.1f} s): "
            f"{result.extracted} analysed ({rate:.1f} images/s), {result.cached} were cached already"
        )
    ]
    if result.skipped:
        lines.append(f"  skipped {len(result.skipped)} files:")
        lines += [f"    {s.path}: {s.reason}" for s in result.skipped]
    print("\n".join(lines), file=sys.stderr)
    return 0


def _local(args, folder: Path, weights, bar):
    """The same as ``cluster`` up to the cache: ``pipeline.analyse`` on this machine."""
    from .features import FeatureExtractor
    from .pipeline import analyse, run
    from .ray_extract import ExtractReport

    extractor = FeatureExtractor(weights, args.precision, args.batch_size, engine=args.engine, cache_dir=args.cache_dir)
    analysis = run(analyse(folder, extractor, args.cache_dir, threading.Event()), bar.update)
    return ExtractReport(
        analysis.root,
        len(analysis.images),
        analysis.extracted,
        analysis.cached,
        analysis.skipped,
        analysis.seconds,
        0,
        extractor.model_id,
        analysis.warnings,
    )
