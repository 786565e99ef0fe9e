"""The long jobs, run in a child process so that no C extension holding the GIL can freeze the window.

TensorFlow's import and scikit-learn/SciPy's LAPACK calls (PCA) hold Python's
GIL for up to seconds; in a thread of the window's process that freezes the
event loop (measured by bench/gui_stall.py). So the engine's work runs in one
spawned child process, kept alive between runs so the VGG16 model is loaded
once. The jobs below are generators run by a ``GeneratorWorker`` thread: they
only wait on the child, forward its progress, pass Cancel on, and return its
result. No Qt in here: the child imports this module too.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.cache import default_cache_dir
from engine.cluster import Clustering, cluster_features
from engine.features import ENGINE_ENV_VAR, Cancelled
from engine.guided import cluster_guided
from engine.pipeline import Analysis, Progress
from engine.progressive import Groups, Step
from engine.session import Regroup
from engine.weights import WeightsSource

# Works out a clustering on the window's session in the job's worker thread (``Session.plan_clustering``):
# (clustering, settings, the photos it is of or None for the session's, cancel) -> Regroup, or None if it does not fit
Planner = Callable[[Clustering, dict, "list[str] | None", threading.Event], "Regroup | None"]

BATCH_SIZE = 16  # small batches: a progress update and a cancel check every couple of seconds on a CPU
POLL_SECONDS = 0.05


@dataclass
class AnalysisResult:
    analysis: Analysis
    clustering: Clustering
    settings: dict
    model_load_seconds: float = 0.0  # 0 when the child still held the model from an earlier (or cancelled) run
    regroup: Regroup | None = None  # the clustering worked out on the window's session, in the worker thread


@dataclass(frozen=True)
class LiveGroups:
    """A progress step of the analysis with the groups so far; ``paths`` are what ``groups.rows`` index."""

    progress: Progress
    groups: Groups
    paths: list[str]


@dataclass
class ClusterResult:
    clustering: Clustering
    settings: dict
    features: np.ndarray  # the features it was computed from, to detect a stale result
    regroup: Regroup | None = None  # as in ``AnalysisResult``


def cluster(features: np.ndarray | HeldFeatures, settings: dict, pins: dict[int, int] | None = None) -> Clustering:
    """The clustering for ``settings``; with k-means, photos placed by hand (``pins``: row -> id) steer the rest."""
    features = _received(features)
    k, method = settings.get("clusters", "auto"), settings.get("method", "kmeans")
    if pins and method == "kmeans":
        return cluster_guided(features, pins, k)
    return cluster_features(features, k=k, method=method)


class EngineProcess:
    """The one child process that runs TensorFlow and the clustering; started on first use."""

    def __init__(self, name: str = "analysis"):
        self.name = name
        self._context = multiprocessing.get_context("spawn")
        self._executor: ProcessPoolExecutor | None = None
        self._progress: Any = None  # multiprocessing Queue / Event once started
        self._cancel: Any = None

    def _start(self) -> None:
        self._progress = self._context.Queue()
        self._cancel = self._context.Event()
        self._executor = ProcessPoolExecutor(
            1, mp_context=self._context, initializer=_child_init, initargs=(self._progress, self._cancel)
        )

    def run(self, call, args: tuple, cancel: threading.Event):
        """Run ``call(*args)`` in the child; yields its progress, returns its result, raises its exception."""
        if self._executor is None:
            self._start()
        assert self._executor is not None
        self._cancel.clear()
        _drain(self._progress)
        future = self._executor.submit(call, *args)
        try:
            while True:
                if cancel.is_set():
                    self._cancel.set()
                try:
                    yield self._progress.get(timeout=POLL_SECONDS)
                    continue
                except queue.Empty:
                    pass
                if future.done():
                    break
            yield from _drain(self._progress)
            return future.result()
        except BrokenProcessPool as exc:
            self.shutdown()
            raise RuntimeError(f"the {self.name} process stopped unexpectedly (out of memory?); try again") from exc

    def shutdown(self) -> None:
        self.held = None  # a new child holds nothing
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    held: tuple[str, weakref.ref] | None = None  # (token, the window's array) of the features the child keeps


# ---- features between the two processes ------------------------------------------------
# 100,000 photos' features are 400 MB. Pickled through the pipe they held the window process' GIL for
# 0.5-0.7 s each way (bench/scale.py's stall sampler). So the child hands its features over as a .npy file
# the window maps (no copy, no GIL held) and keeps them, and a regroup of those same features sends a token.


@dataclass(frozen=True)
class HeldFeatures:
    token: str
    path: str | None = None  # the file the window maps (child -> window); None for a token (window -> child)


def _hand_over(features: np.ndarray) -> np.ndarray | HeldFeatures:
    """Child side: keep ``features`` and write them where the window can map them (none: sent as they are)."""
    if not len(features):
        return features  # nothing to map
    token = uuid.uuid4().hex
    _child["held"] = (token, features)
    folder = Path(tempfile.gettempdir()) / "photocluster-transfer"
    folder.mkdir(exist_ok=True)
    path = folder / f"{os.getpid()}-{token}.npy"
    np.save(path, np.ascontiguousarray(features, dtype=np.float32))
    return HeldFeatures(token, str(path))


def _take_over(held: np.ndarray | HeldFeatures) -> np.ndarray:
    """Window side (a worker thread): map the child's file; the child keeps the same features under the token."""
    if not isinstance(held, HeldFeatures):
        return held
    assert held.path is not None
    features = np.load(held.path, mmap_mode="r")
    try:
        os.unlink(held.path)  # the mapping stays valid (POSIX); Windows cannot remove a mapped file
    except OSError:
        atexit.register(lambda: Path(held.path).unlink(missing_ok=True))  # type: ignore[arg-type]
    ENGINE.held = (held.token, weakref.ref(features))
    return features


def _send(features: np.ndarray) -> np.ndarray | HeldFeatures:
    """Window side: a token when the child holds these very features, else the array itself."""
    held = ENGINE.held
    return HeldFeatures(held[0]) if held is not None and held[1]() is features else features


def _received(features: np.ndarray | HeldFeatures) -> np.ndarray:
    """Child side: the features a token stands for, or the array sent."""
    if not isinstance(features, HeldFeatures):
        return features
    token, held = _child.get("held", (None, None))
    if token != features.token:
        raise RuntimeError("the analysis process no longer holds these features; analyse again")
    return held


ENGINE = EngineProcess()
atexit.register(ENGINE.shutdown)


def _drain(q):
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


# ---- the window side: generators for GeneratorWorker --------------------------------
def analysis_job(
    root: Path,
    weights: WeightsSource,
    settings: dict,
    first_fit: int | None,
    cancel: threading.Event,
    plan: Planner | None = None,
):
    """Yields ``Progress``, and from the first clusters on ``LiveGroups`` (each whole in itself, so the
    worker may drop any of them when they come faster than the window takes them). ``plan``: see ``Planner``."""
    yield Progress("model", 0, 0, message="Starting the analysis")
    engine = os.environ.get(ENGINE_ENV_VAR) or "auto"
    args = (Path(root), weights, dict(settings), default_cache_dir(), first_fit, engine)  # the child's env may be older
    steps = ENGINE.run(_analyse_in_child, args, cancel)
    paths: list[str] = []
    while True:
        try:
            step = next(steps)
        except StopIteration as stop:
            result = stop.value
            analysis = replace(result.analysis, features=_take_over(result.analysis.features))
            regroup = plan(result.clustering, result.settings, analysis.images, cancel) if plan else None
            if regroup is not None:  # the same photos: hand over the session's own list, compared in no time
                analysis = replace(analysis, images=regroup.images)
            return replace(result, analysis=analysis, regroup=regroup)
        if not isinstance(step, Step):
            yield step
            continue
        paths = step.paths or paths  # sent once, with the first groups
        yield step.progress if step.groups is None else LiveGroups(step.progress, step.groups, paths)


def cached_job(root: Path, images: list[str], weights: WeightsSource, cancel: threading.Event):
    """The features of ``images`` from the feature cache (None if not all are there); no model is loaded."""
    yield Progress("cache", 0, 0, message="Looking for the analysis from last time")
    # one string, not a list: pickling 100,000 path objects held the window's GIL ~30 ms in the pipe's feeder
    # thread (a stall as the folder opened); a file name never holds a NUL
    paths = "\0".join(images)
    args = (Path(root), paths, weights, default_cache_dir(), os.environ.get(ENGINE_ENV_VAR) or "auto")
    held = yield from ENGINE.run(_cached_in_child, args, cancel)
    return None if held is None else _take_over(held)


def cluster_job(
    features: np.ndarray,
    settings: dict,
    pins: dict[int, int] | None,
    cancel: threading.Event,
    plan: Planner | None = None,
):
    yield Progress("cluster", 0, 0, message="Regrouping photos")
    clustering = yield from ENGINE.run(cluster, (_send(features), dict(settings), pins), cancel)
    regroup = plan(clustering, dict(settings), None, cancel) if plan else None
    return ClusterResult(clustering, dict(settings), features, regroup)


def split_job(
    root: Path, names: dict, cluster: int, members: list[str], features: np.ndarray, parts: int, cancel: threading.Event
):
    """The Change that splits ``cluster`` (k-means on its photos), computed in the child, not yet applied."""
    yield Progress("split", 0, 0, message="Splitting the cluster")
    return (
        yield from ENGINE.run(_split_in_child, (Path(root), dict(names), cluster, members, features, parts), cancel)
    )


# ---- the child side -------------------------------------------------------------------
_child: dict = {}


def child_cancel_event():
    """Inside an engine child process: the event the window sets to cancel the running call."""
    return _child.get("cancel")


def _child_init(progress, cancel) -> None:
    _child.update(progress=progress, cancel=cancel, extractor=None)
    lower_priority(CHILD_NICE)  # background work: the window gets the CPU first when both want it
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


CHILD_NICE = 5


def lower_priority(nice: int) -> None:
    """Run this process at ``nice`` or lower priority. On Linux a nice value is per thread: ``os.nice`` moves
    only the calling thread (and threads it starts later), and the BLAS/OpenMP pools that importing numpy
    started kept priority 0, competing with the window's GUI thread for the two cores while they cluster."""
    if not hasattr(os, "nice"):
        return
    os.nice(max(0, nice - os.nice(0)))
    tasks = Path("/proc/self/task")
    for tid in os.listdir(tasks) if tasks.is_dir() else []:
        try:
            if os.getpriority(os.PRIO_PROCESS, int(tid)) < nice:
                os.setpriority(os.PRIO_PROCESS, int(tid), nice)
        except OSError:  # a thread that just ended, or not allowed
            pass


def _exit_with_parent(parent: int) -> None:
    """If the window's process dies without shutting us down (killed, crashed), do not linger."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _extractor(weights: WeightsSource, cache_dir: Path, engine: str):
    """The child's one loaded model, rebuilt for other weights, cache folder or engine; says what takes long."""
    from engine.features import FeatureExtractor

    if _stale(weights, cache_dir, engine):
        extractor = FeatureExtractor(weights, batch_size=BATCH_SIZE, engine=engine, cache_dir=cache_dir)
        for text in extractor.prepare():  # raises WeightsError with the fix-it text
            _child["progress"].put(Progress("model", 0, 0, message=text))
        _child.update(extractor=extractor, made_for=(weights, engine))
    return _child["extractor"]


def _stale(weights: WeightsSource, cache_dir: Path, engine: str) -> bool:
    """Whether the loaded model (if any) is not the one asked for: other weights, engine or (OpenVINO) cache."""
    extractor = _child.get("extractor")
    return (
        extractor is None
        or _child.get("made_for") != (weights, engine)
        or (extractor.engine == "openvino" and extractor.cache_dir != cache_dir)  # its model lives in the cache
    )


def _split_in_child(root: Path, names: dict, cluster: int, members: list[str], features: np.ndarray, parts: int):
    """Split on a copy of the Session that holds just the cluster: the same names give the same new ids."""
    from engine.session import Session

    copy = Session(root, members)
    copy.names = names
    copy.labels = {p: cluster for p in members}
    copy.features = features
    return copy.split(cluster, parts)


def _cached_in_child(
    root: Path, paths: str, weights: WeightsSource, cache_dir: Path, engine: str = "auto"
) -> np.ndarray | HeldFeatures | None:
    """``paths``: the photos NUL-separated (see ``cached_job``)."""
    from engine.features import FeatureExtractor
    from engine.pipeline import cached_features

    images = paths.split("\0") if paths else []
    extractor = FeatureExtractor(weights, batch_size=BATCH_SIZE, engine=engine, cache_dir=cache_dir)
    model_id = extractor.planned_model_id()  # the analysis' id; nothing is loaded
    features = None if model_id is None else cached_features(root, images, model_id, cache_dir)
    return None if features is None else _hand_over(features)


def _analyse_in_child(
    root: Path, weights: WeightsSource, settings: dict, cache_dir: Path, first_fit: int | None, engine: str = "auto"
) -> AnalysisResult:
    from engine.progressive import analyse_progressively

    progress, cancel = _child["progress"], _child["cancel"]
    fresh = _stale(weights, cache_dir, engine)
    progress.put(
        Progress("model", 0, 0, message="Loading the image model" if fresh else "Using the loaded image model")
    )
    started = time.perf_counter()
    extractor = _extractor(weights, cache_dir, engine)  # kept in this process: a cancelled run leaves it loaded
    load_seconds = time.perf_counter() - started if fresh else 0.0
    if cancel.is_set():  # asked to stop while the model loaded: stop now, before scanning
        raise Cancelled()
    k, method = settings.get("clusters", "auto"), settings.get("method", "kmeans")
    steps = analyse_progressively(root, extractor, k, method, cache_dir=cache_dir, cancel=cancel, first_fit=first_fit)
    while True:
        try:
            progress.put(next(steps))
        except StopIteration as stop:
            result = stop.value
            break
    if cancel.is_set():
        raise Cancelled()
    analysis = replace(result.analysis, features=_hand_over(result.analysis.features))
    return AnalysisResult(analysis, result.clustering, dict(settings), load_seconds)
