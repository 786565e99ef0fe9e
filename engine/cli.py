"""``python main.py cluster FOLDER ...``: the whole pipeline without a window.

This command line is a stable contract (scripts and the project's own
measurements use it). Every failure a person can cause (bad arguments, a
missing folder, no weights) ends in one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_CANCELLED = 130


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the whole usage block
        self.exit(EXIT_USAGE, f"photocluster cluster: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .cluster import METHODS
    from .export import MODES
    from .weights import ENV_VAR

    p = _OneLineParser(
        prog="python main.py cluster",
        description="Cluster the photos in FOLDER by what is in them, and optionally export them as sorted folders.",
    )
    p.add_argument("folder", metavar="FOLDER", help="folder of photos (searched recursively)")
    p.add_argument(
        "--clusters",
        default="auto",
        metavar="N|auto",
        type=_clusters_arg,
        help="number of clusters, or 'auto' to choose it (default: auto)",
    )
    p.add_argument(
        "--method",
        choices=METHODS,
        default="kmeans",
        help="kmeans (default), agglomerative, or hdbscan (puts doubtful photos in 'Unsorted')",
    )
    p.add_argument(
        "--weights",
        metavar="PATH",
        help=f"VGG16 'no top' weights file (default: ${ENV_VAR}, else Keras' ImageNet download)",
    )
    p.add_argument(
        "--pinned",
        metavar="FILE.csv",
        help="path,cluster rows (path relative to FOLDER): those photos go to that cluster and steer the rest",
    )
    p.add_argument("--manifest", metavar="OUT.csv", help="write path,cluster,cluster_name,confidence for every photo")
    p.add_argument("--export", metavar="DEST", help="write the photos into DEST/<cluster name>/")
    p.add_argument("--mode", choices=MODES, default="copy", help="how --export writes files (default: copy)")
    p.add_argument("--dry-run", action="store_true", help="with --export: print the plan and touch nothing")
    add_engine_arguments(p)
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N", help="images per model call")
    p.add_argument("--seed", type=int, default=0, help="random seed for clustering (default: 0)")
    p.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (default: the user cache folder)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """``--engine`` and ``--precision``, shared by the commands that run the model."""
    from .features import ENGINE_ENV_VAR, ENGINES, PRECISIONS

    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help=f"what runs VGG16 (default: ${ENGINE_ENV_VAR}, else auto = OpenVINO on a CPU, TensorFlow on an "
        "NVIDIA GPU; OpenVINO falls back to TensorFlow if it fails its self-test)",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="inference precision (default: auto = the fastest that passes the self-test with OpenVINO, "
        "float16 on a GPU; int8 is OpenVINO only, float16 TensorFlow only)",
    )


def _clusters_arg(text: str):
    if text.lower() == "auto":
        return "auto"
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"--clusters must be a number (1 or more) or 'auto', not {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str]) -> int:
    from .features import choose_engine

    args = build_parser().parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # a file or cluster name that is not valid text never stops a print
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    logging.basicConfig(level=logging.WARNING, format="photocluster: %(message)s")
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        print(f"photocluster cluster: {folder} {what}", file=sys.stderr)
        return EXIT_USAGE
    try:
        choose_engine(args.engine, args.precision)
    except ValueError as exc:  # --engine / --precision / $PHOTOCLUSTER_ENGINE that do not go together
        print(f"photocluster cluster: {exc}", file=sys.stderr)
        return EXIT_USAGE
    problem = _unusable_places(args)
    if problem:
        print(f"photocluster cluster: {problem}", file=sys.stderr)
        return EXIT_FAILED
    pins = None
    if args.pinned:
        from .guided import PinsError, read_pins

        if args.method != "kmeans":
            print("photocluster cluster: --pinned works with --method kmeans", file=sys.stderr)
            return EXIT_USAGE
        try:
            pins = read_pins(Path(args.pinned).expanduser())
        except PinsError as exc:
            print(f"photocluster cluster: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        return _run(args, folder, pins)
    except KeyboardInterrupt:
        print("\nphotocluster cluster: cancelled; features analysed so far are kept in the cache", file=sys.stderr)
        return EXIT_CANCELLED


def _unusable_places(args) -> str:
    """Why --manifest or --cache-dir cannot be written, found before any photo is analysed ("" if they can)."""
    import os

    from .cache import CacheError, FeatureCache

    if args.manifest:
        path = Path(args.manifest).expanduser()
        if path.is_dir():
            return f"--manifest {path} is a folder; give a file name such as {path / 'manifest.csv'}"
        parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            return f"--manifest {path} cannot be written: {parent} is not a folder that can be written to"
    if args.cache_dir:
        try:
            FeatureCache.check_folder(Path(args.cache_dir).expanduser())
        except CacheError as exc:
            return str(exc)
    return ""


def _run(args, folder: Path, pins: list[tuple[str, str]] | None = None) -> int:
    from .cache import CacheError
    from .features import FeatureExtractor
    from .pipeline import run
    from .progressive import analyse_progressively
    from .session import Session
    from .weights import WeightsError, resolve_weights

    try:
        extractor = FeatureExtractor(
            resolve_weights(args.weights), args.precision, args.batch_size, engine=args.engine, cache_dir=args.cache_dir
        )
        exclude = (Path(args.export).expanduser(),) if args.export else ()
        bar = _ProgressBar(enabled=not args.quiet)
        steps = analyse_progressively(
            folder, extractor, args.clusters, args.method, args.seed, args.cache_dir, threading.Event(), exclude
        )
        result = run(steps, bar.update)
        bar.close()
    except (WeightsError, CacheError) as exc:
        print(f"photocluster cluster: {exc}", file=sys.stderr)
        return EXIT_FAILED
    analysis, clustering = result.analysis, result.clustering
    for warning in analysis.warnings:
        if warning != extractor.notice:  # already logged when it happened
            print(f"photocluster cluster: warning: {warning}", file=sys.stderr)

    t0 = time.perf_counter()
    session = Session(analysis.root, analysis.images)
    session.set_analysis(analysis.images, analysis.features)
    if pins:
        from .guided import cluster_guided, session_pins, unknown_paths

        unknown = unknown_paths(pins, analysis.images)
        if unknown:
            shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            print(
                f"photocluster cluster: {args.pinned}: {len(unknown)} pinned paths are not photos analysed in "
                f"{analysis.root} (missing, skipped or not relative to FOLDER): {shown}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        for name in dict.fromkeys(name for _, name in pins):
            session.new_cluster([rel for rel, n in pins if n == name], name)
        clustering = cluster_guided(analysis.features, session_pins(session), args.clusters, args.seed)
    session.apply_clustering(clustering, {"clusters": args.clusters, "method": args.method})
    cluster_seconds = result.cluster_seconds + time.perf_counter() - t0

    if args.manifest:
        try:
            write_manifest(Path(args.manifest).expanduser(), session)
        except OSError as exc:
            print(
                f"photocluster cluster: cannot write the manifest {args.manifest}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return EXIT_FAILED
    status = 0
    if args.export:
        status = _export(args, session)
    _summary(analysis, clustering, session, extractor, cluster_seconds)
    return status


def write_manifest(path: Path, session) -> None:
    """The CLI's manifest: one row per clustered photo, written atomically."""
    from .atomic import atomic_write_text
    from .export import text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "cluster", "cluster_name", "confidence"])
    for rel in session.images:
        cid = session.labels[rel]
        writer.writerow([rel, cid, text(session.name(cid)), f"{session.confidence.get(rel, 0.0):.4f}"])
    atomic_write_text(path, out.getvalue(), errors="surrogateescape")  # file names keep their exact bytes


def _export(args, session) -> int:
    from .export import plan_export, run_export
    from .pipeline import run

    try:
        plan = plan_export(
            session.root,
            session.assignments(),
            Path(args.export).expanduser(),
            args.mode,
            confidence=session.confidence,
        )
    except ValueError as exc:
        print(f"photocluster cluster: cannot export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if plan.resumed:
        print(
            f"photocluster cluster: finishing the interrupted move into {plan.dest} as it was planned "
            f"({len(plan.items)} photos); the clustering above is not used for it",
            file=sys.stderr,
        )
    if args.dry_run:
        print(plan.describe())
        print(f"(dry run: nothing was written; {len(plan.items)} photos into {len(plan.folders())} folders)")
        return 0
    bar = _ProgressBar(enabled=not args.quiet, unit="file")
    report = run(run_export(plan, threading.Event()), bar.update)
    bar.close()
    print(report.summary(), file=sys.stderr)
    for rel, reason in report.skipped:
        print(f"  not exported: {rel}: {reason}", file=sys.stderr)
    for warning in report.warnings:
        print(f"photocluster cluster: warning: {warning}", file=sys.stderr)
    failed = report.stopped or report.cancelled or len(report.skipped) > len(plan.excluded)
    return EXIT_FAILED if failed else 0


def _summary(analysis, clustering, session, extractor, cluster_seconds: float) -> None:
    n = len(analysis.images)
    rate = analysis.extracted / analysis.seconds if analysis.seconds and analysis.extracted else 0.0
    lines = [
        f"Clustered {n} photos into {clustering.k} clusters ({clustering.method}) "
        f"in {analysis.seconds + cluster_seconds:.1f} s",
        f"  features: {analysis.extracted} analysed, {analysis.cached} from cache, "
        + (f"{analysis.copies} identical copies, " if analysis.copies else "")
        + f"{rate:.1f} images/s, {extractor.label} on {extractor.device}",
    ]
    if clustering.k_scores and not clustering.k_clear:
        lines.append(
            f"  no clear k: every number of clusters separates the photos about as well; picked {clustering.k}"
        )
    counts = session.counts()
    for cid in session.cluster_ids():
        lines.append(f"  {session.name(cid)}: {counts[cid]}")
    if analysis.skipped:
        lines.append(f"  skipped {len(analysis.skipped)} files:")
        lines += [f"    {s.path}: {s.reason}" for s in analysis.skipped]
    print("\n".join(lines), file=sys.stderr)


class _ProgressBar:
    """A tqdm bar on stderr per stage of the engine's progress; a progressive ``Step`` adds "groups so far"."""

    def __init__(self, enabled: bool, unit: str = "img"):
        self.enabled, self.unit = enabled, unit
        self.bar: Any = None  # a tqdm bar while a stage runs
        self.stage = None

    def update(self, progress) -> None:
        from .features import PREPARING
        from .progressive import Step

        groups = progress.groups if isinstance(progress, Step) else None
        progress = progress.progress if isinstance(progress, Step) else progress
        if self.enabled and progress.message == PREPARING:
            self.close()
            self.stage = None
            print(PREPARING, file=sys.stderr)
        if not self.enabled or progress.total == 0:
            return
        from tqdm import tqdm

        if progress.stage != self.stage:
            self.close()
            self.stage = progress.stage
            desc = f"{progress.stage} ({progress.engine})" if progress.engine else progress.stage
            self.bar = tqdm(total=progress.total, desc=desc, unit=self.unit, file=sys.stderr, dynamic_ncols=True)
        self.bar.n = progress.done
        if groups is not None:
            self.bar.set_postfix_str(f"groups so far: {groups.k}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
