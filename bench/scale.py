"""100,000 photos through everything but the model: scan, cache, clustering, session, window, map, duplicates, export.

    python bench/scale.py                        # 100,000 photos, every part (about 10-20 min on 2 cores)
    python bench/scale.py --photos 20000         # smaller
    python bench/scale.py --parts engine         # engine, layout, dupes, export, gui (comma-separated)

The photos are small generated JPEGs (96 x 96, 20 "classes" of colour layout and
shapes, 1 % re-encoded near-duplicate copies), written once into ``--workdir``
(default: a folder in the temp dir named after the count; kept between runs, so
a rerun measures rather than regenerates; ``--clean`` removes it at the end).
The model is replaced by stored vectors: synthetic 1,024-d non-negative
vectors with the same cluster structure (a class centre times log-normal noise;
a copy = its original's vector with 2 % noise) are written into the feature
cache through ``engine.cache.FeatureCache`` under the model id the real
extractor uses, so the window's Analyse and ``cluster`` find every photo cached.

Parts (each timed, with this process's RSS after it and its peak):

* ``engine``: scan; fingerprints of every file (cold) and cache writes in
  batches of 32 (what an analysis does per batch); ``pipeline.analyse`` with
  everything cached (stat index + cache reads, no model: a stand-in extractor
  that fails if it is called); clustering at k=20 and auto (``cluster_features``,
  "regroup"); ``Session.apply_clustering``, save and load.
* ``layout``: the similarity map (``engine.embedding.embed`` on all photos),
  seconds and kNN-10 preservation (as bench/see_why.py) on a 10,000 sample.
* ``dupes``: ``engine.duplicates.find_duplicates`` on every photo, with the
  vectors: seconds, and recall/precision of the generated copies.
* ``export``: ``plan_export`` of every photo and a copy export of them.
* ``gui``: in a fresh process (its own peak RSS): the window opens the folder
  with the saved session as File > Open does (in the background; timed until it
  is shown), scrolls the whole grid (page by page, one step per 30 ms) and runs
  Analyse (every photo cached: the child process builds the model but never
  calls it), a regroup and the grid's view toggles (Doubtful First, stacking),
  while a 5 ms QTimer records the longest event-loop stall per phase (as
  bench/gui_stall.py). A stall over 100 ms is sampled: where
  the GUI thread was, and which other threads were running Python (holding the
  GIL the GUI thread waits for). Per phase it also prints the cores busy in the
  window's process and in its engine child, the share of the machine's CPU the
  hypervisor stole, and the window's busiest threads: a window that should be
  idle and is not shows there.

Goals on the development machine (2 cores): regroup <= 15 s, session save <= 0.5 s,
window open <= 3 s, peak RSS <= 3 GB, no stall > 100 ms, similarity map <= 60 s.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("PHOTOCLUSTER_ENGINE", "tensorflow")  # the stand-in vectors are stored under its model id

import _common as common
import numpy as np

CLASSES = 20
SIDE = 96
DUPLICATE_SHARE = 0.01
PHOTOS_VERSION = 2  # bump when the generated photos change: the kept folder is then made again
GOALS = {"regroup": 15.0, "save": 0.5, "open": 3.0, "rss_gb": 3.0, "stall_ms": 100.0, "map": 60.0}


def main() -> int:
    p = common.parser(__doc__.splitlines()[0], data=False)
    p.add_argument("--photos", type=int, default=100_000)
    p.add_argument("--parts", default="engine,layout,dupes,export,gui")
    p.add_argument("--workdir", type=Path, default=None, help="where the photos and cache live (kept between runs)")
    p.add_argument("--layouts", default="auto", help="comma-separated engine.embedding methods for the map")
    p.add_argument("--export-limit", type=int, default=0, help="copy-export only the first N photos (0 = all)")
    p.add_argument("--clean", action="store_true", help="remove the work folder at the end")
    p.add_argument("--gui-child", action="store_true", help=argparse_hidden())
    args = p.parse_args()
    args.workdir = args.workdir or Path(tempfile.gettempdir()) / f"pc-scale-{args.photos}"
    weights = common.weights_source(args)
    if args.gui_child:
        return gui_child(args, weights)
    started = time.perf_counter()
    common.header(
        f"scale: {args.photos:,} photos through everything but the model",
        args,
        photos=args.photos,
        parts=args.parts,
        workdir=args.workdir,
    )
    parts = args.parts.split(",")
    photos, cache_dir, data_dir = args.workdir / "photos", args.workdir / "cache", args.workdir / "data"
    rows: list[list] = []
    made = make_folder(photos, args.photos)
    if made:
        rows.append(["generate photos (once)", made, None, "", ""])
    state = {}
    if "engine" in parts or not (data_dir / "done.json").exists():
        state = bench_engine(args, weights, photos, cache_dir, data_dir, rows)
    if "layout" in parts:
        bench_layout(args, state or reload_state(weights, photos, cache_dir), rows)
    if "dupes" in parts:
        bench_dupes(state or reload_state(weights, photos, cache_dir), photos, rows)
    if "export" in parts:
        bench_export(state or reload_state(weights, photos, cache_dir), args.workdir, args.export_limit, rows)
    print(f"\n-- {args.photos:,} photos (this process; RSS in GB)")
    common.table(["step", "seconds", "RSS GB", "goal", "met"], rows)
    print(
        f"peak RSS of this process: {peak_rss_gb():.2f} GB (goal <= {GOALS['rss_gb']:g}): "
        f"{common.verdict(peak_rss_gb() <= GOALS['rss_gb'])}"
    )
    if "gui" in parts:
        bench_gui(args, data_dir, cache_dir)
    if args.clean:
        shutil.rmtree(args.workdir, ignore_errors=True)
    common.footer(started)
    return 0


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


# ---------------------------------------------------------------- photos and vectors


def layout(n: int) -> list[tuple[str, int, int | None]]:
    """(relative path, class, original index or None) for every photo; copies point at their original."""
    rng = np.random.default_rng(1)
    copies = set(rng.choice(n, int(n * DUPLICATE_SHARE), replace=False).tolist()) if n > 100 else set()
    out = []
    for i in range(n):
        if i in copies:
            orig = int(rng.integers(0, n))
            while orig in copies:
                orig = int(rng.integers(0, n))
            out.append((f"c{orig % CLASSES:02d}/copy-{i:06d}.jpg", orig % CLASSES, orig))
        else:
            out.append((f"c{i % CLASSES:02d}/img-{i:06d}.jpg", i % CLASSES, None))
    return out


def _pixels(i: int, cls: int) -> np.ndarray:
    """A 96 x 96 photo: a gradient in a random direction, shapes of the class's colour at random places, noise.

    Random layouts keep the perceptual hashes of different photos apart (as in real collections); the
    class shows in the colour of the shapes (and in the stand-in vectors).
    """
    from PIL import Image, ImageDraw

    shape = np.random.default_rng(1000 + cls).integers(0, 256, 3)
    rng = np.random.default_rng(i)
    a, b = rng.integers(0, 256, (2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    t = np.clip((np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)) + 0.5, 0, 1)[..., None]
    im = Image.fromarray(np.clip(a * (1 - t) + b * t, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(4, 10))):
        x0, y0 = rng.integers(-16, SIDE, 2)
        x1, y1 = x0 + rng.integers(8, 56), y0 + rng.integers(8, 56)
        colour = tuple(int(c) for c in np.clip(shape + rng.integers(-60, 60, 3), 0, 255))
        (draw.ellipse if rng.integers(0, 2) else draw.rectangle)([int(x0), int(y0), int(x1), int(y1)], fill=colour)
    arr = np.asarray(im, np.int16) + rng.integers(-8, 9, (SIDE, SIDE, 1))
    return np.clip(arr, 0, 255).astype(np.uint8)


def _write_range(root: str, items: list[tuple[str, int, int | None]]) -> None:
    from PIL import Image

    for rel, cls, orig in items:
        i = orig if orig is not None else int(rel.split("-")[1].split(".")[0])
        im = Image.fromarray(_pixels(i, cls))
        if orig is not None:  # a near-duplicate: resized to 80 % and re-encoded harder
            im = im.resize((SIDE * 4 // 5, SIDE * 4 // 5), Image.BILINEAR)
        im.save(os.path.join(root, rel), quality=60 if orig is not None else 85)


def make_folder(photos: Path, n: int) -> float | None:
    """Write the photos once; returns the seconds it took, or None when they were already there."""
    done = photos / ".complete"
    if done.exists() and done.read_text() == f"{n} v{PHOTOS_VERSION}":
        return None
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    shutil.rmtree(photos, ignore_errors=True)
    for c in range(CLASSES):
        (photos / f"c{c:02d}").mkdir(parents=True, exist_ok=True)
    items = layout(n)
    chunks = [items[s : s + 2000] for s in range(0, n, 2000)]
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_write_range, [str(photos)] * len(chunks), chunks))
    done.write_text(f"{n} v{PHOTOS_VERSION}")
    return time.perf_counter() - t0


def vectors_for(rels: list[str]) -> np.ndarray:
    """The stand-in descriptors: class centre x log-normal noise; a copy is its original's vector x 2 % noise."""
    from engine import descriptor

    crng = np.random.default_rng(7)
    centres = np.abs(crng.normal(0, 1, (CLASSES, descriptor.SIZE))) ** 2
    out = np.empty((len(rels), descriptor.SIZE), np.float32)
    for row, rel in enumerate(rels):
        cls = int(rel[1:3])
        kind, num = rel.split("/")[1].split("-")
        i = int(num.split(".")[0])
        orig = i if kind == "img" else None
        if orig is None:  # find the original this copy was made from (same generator as layout)
            orig = _original_of(i)
        rng = np.random.default_rng(orig)
        v = centres[cls] * np.exp(rng.normal(0, 0.6, descriptor.SIZE))
        if kind == "copy":
            v = v * np.exp(np.random.default_rng(i).normal(0, 0.02, descriptor.SIZE))
        out[row] = v
    return out


_ORIGINALS: dict[int, int] = {}


def _original_of(i: int) -> int:
    if not _ORIGINALS:
        raise RuntimeError("layout not loaded")
    return _ORIGINALS[i]


def _load_originals(n: int) -> None:
    for rel, _, orig in layout(n):
        if orig is not None:
            _ORIGINALS[int(rel.split("-")[1].split(".")[0])] = orig


# ---------------------------------------------------------------- measuring


def rss_gb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e9


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


def timed(rows, name, fn, goal=None):
    load = common.load()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    rows.append(
        [
            f"{name} (load {load:.1f})",
            seconds,
            rss_gb(),
            "" if goal is None else f"<= {goal:g} s",
            "" if goal is None else seconds <= goal,
        ]
    )
    print(f"   ... {name}: {seconds:.2f} s", file=sys.stderr, flush=True)
    return out


class NoModel:
    """Stands in for FeatureExtractor when every vector is cached: same model id, fails if asked to run."""

    def __init__(self, weights):
        from engine.features import FeatureExtractor, cpu_has_bf16

        # the precision the window's TensorFlow extractor picks here (no GPU), without importing TensorFlow;
        # the window runs TensorFlow too ($PHOTOCLUSTER_ENGINE, set above), so the model ids agree
        self._real = FeatureExtractor(weights, "bfloat16" if cpu_has_bf16() else "float32", engine="tensorflow")
        self.model_id = self._real.model_id
        self.label, self.notice = self._real.label, ""

    def load(self):
        pass

    def prepare(self):
        return iter(())

    def extract(self, paths, cancel=None):
        if paths:
            raise AssertionError(f"{len(paths)} photos would reach the model; the bench expects all cached")
        return iter(())


def bench_engine(args, weights, photos: Path, cache_dir: Path, data_dir: Path, rows) -> dict:
    from engine.cache import FeatureCache, as_stored
    from engine.cluster import cluster_features
    from engine.pipeline import analyse, run
    from engine.scan import scan_folder
    from engine.session import Session, session_path_for

    shutil.rmtree(cache_dir, ignore_errors=True)
    shutil.rmtree(data_dir, ignore_errors=True)
    _load_originals(args.photos)
    model = NoModel(weights)
    scan = timed(rows, "scan", lambda: scan_folder(photos))
    paths = [str(scan.root / r) for r in scan.images]
    vectors = vectors_for(scan.images)
    with FeatureCache(model.model_id, cache_dir) as cache:
        keys, failed = timed(rows, "fingerprints + stat index (cold)", lambda: cache.keys_for(paths))
        assert not failed and len(keys) == len(paths)

        def write(vectors=vectors):
            for s in range(0, len(keys), 32):
                cache.put_many([(k.fingerprint, vectors[s + j]) for j, k in enumerate(keys[s : s + 32])])

        timed(rows, "cache writes, 32 per transaction", write)
    analysis = timed(rows, "analyse, all cached (stat index + reads)", lambda: run(analyse(photos, model, cache_dir)))
    assert analysis.cached == len(paths) and analysis.extracted == 0
    features = analysis.features
    # two copies of one original can come out byte for byte the same: one file content, one cached vector
    assert np.isclose(features, as_stored(vectors), rtol=1e-2, atol=1e-2).all(1).mean() > 0.999
    del vectors
    clustering = timed(rows, "regroup k=20", lambda: cluster_features(features, 20), GOALS["regroup"])
    timed(rows, "regroup k=auto", lambda: cluster_features(features, "auto"), GOALS["regroup"])
    from sklearn.metrics import normalized_mutual_info_score

    nmi = normalized_mutual_info_score([r[1:3] for r in analysis.images], clustering.labels)
    rows.append([f"  (NMI of k=20 against the generated classes: {nmi:.3f})", None, None, "", ""])
    session = Session(analysis.root, analysis.images)
    session.set_analysis(analysis.images, features)
    timed(rows, "Session.apply_clustering", lambda: session.apply_clustering(clustering, {"clusters": 20}))
    session.move(analysis.images[:500], next(iter(session.names)))  # some pinned photos, as after a person's edits
    path = session_path_for(analysis.root, data_dir)
    timed(rows, "session save", lambda: session.save(path), GOALS["save"])
    rows.append([f"  (session file: {path.stat().st_size / 1e6:.1f} MB)", None, None, "", ""])
    loaded = timed(rows, "session load", lambda: Session.load(path))
    assert loaded.labels == session.labels
    (data_dir / "done.json").write_text(json.dumps({"session": str(path)}))
    return {"analysis": analysis, "session": session}


def reload_state(weights, photos: Path, cache_dir: Path) -> dict:
    from engine.pipeline import analyse, run
    from engine.session import Session, session_path_for

    analysis = run(analyse(photos, NoModel(weights), cache_dir))
    session = Session.load(session_path_for(analysis.root, cache_dir.parent / "data"))
    session.set_analysis(analysis.images, analysis.features)
    return {"analysis": analysis, "session": session}


def bench_layout(args, state, rows) -> None:
    from engine import embedding

    features = state["analysis"].features
    for method in args.layouts.split(","):
        result = timed(rows, f"similarity map ({method})", lambda m=method: embedding.embed(features, m), GOALS["map"])
        idx = np.random.default_rng(0).choice(len(features), min(10_000, len(features)), replace=False)
        keep = embedding.knn_preservation(result.prepared[idx], result.xy[idx], 10)
        rows.append([f"  ({result.method}: kNN-10 kept on a 10,000 sample {keep:.3f})", None, None, "", ""])


def bench_dupes(state, photos: Path, rows) -> None:
    from engine.duplicates import find_duplicates
    from engine.pipeline import run

    analysis = state["analysis"]
    report = timed(
        rows,
        "near-duplicates (read every photo + compare)",
        lambda: run(find_duplicates(analysis.images, analysis.root, analysis.features)),
    )
    truth = [(rel, _orig_rel(rel)) for rel in analysis.images if "/copy-" in rel]
    group_of = {p: g for g, group in enumerate(report.groups) for p in group.members}
    hits = sum(1 for a, b in truth if a in group_of and group_of.get(a) == group_of.get(b))
    reported = sum(len(g.members) * (len(g.members) - 1) // 2 for g in report.groups)  # pairs sharing a group
    recall, precision = hits / max(1, len(truth)), hits / max(1, reported)
    largest = max((len(g.members) for g in report.groups), default=0)
    rows.append(
        [
            f"  ({len(report.groups)} groups, largest {largest}; copy pairs recall {recall:.3f}, precision {precision:.3f})",
            None,
            None,
            "",
            "",
        ]
    )


def _orig_rel(rel: str) -> str:
    i = int(rel.split("-")[1].split(".")[0])
    orig = _ORIGINALS[i]
    return f"c{orig % CLASSES:02d}/img-{orig:06d}.jpg"


def bench_export(state, workdir: Path, limit: int, rows) -> None:
    from engine.export import plan_export, run_export
    from engine.pipeline import run

    session = state["session"]
    dest = workdir / "export"
    shutil.rmtree(dest, ignore_errors=True)
    plan = timed(
        rows,
        "export plan",
        lambda: plan_export(session.root, session.assignments(), dest, "copy", confidence=session.confidence),
    )
    if limit:
        plan.items = plan.items[:limit]
    report = timed(rows, f"copy export of {len(plan.items):,} photos", lambda: run(run_export(plan)))
    assert len(report.done) == len(plan.items), report.summary()
    shutil.rmtree(dest, ignore_errors=True)


# ---------------------------------------------------------------- the window


def bench_gui(args, data_dir: Path, cache_dir: Path) -> None:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--gui-child",
        "--photos",
        str(args.photos),
        "--workdir",
        str(args.workdir),
    ]
    if args.weights:
        cmd += ["--weights", str(args.weights)]
    env = dict(
        os.environ,
        PHOTOCLUSTER_CACHE_DIR=str(cache_dir),
        PHOTOCLUSTER_DATA_DIR=str(data_dir),
        QT_QPA_PLATFORM="offscreen",
    )
    print(f"\n-- the window, {args.photos:,} photos (a fresh process)", flush=True)
    subprocess.run(cmd, env=env, check=False)


class _StallSampler:
    """Where the GUI thread is when the event loop has not ticked for 100 ms: the code to fix, not a guess.
    Also where every other busy thread of the process is then: one running Python holds the GIL the
    window waits for (an idle one sits in ``threading``, ``queue`` and the like, and is left out)."""

    # innermost frames of a thread that is waiting: a lock or queue, a pool's idle worker, or workers.py's own
    # waits (the mailbox, the release queue, the GIL hand-over's sleep)
    IDLE = ("threading.py", "thread.py", "queue.py", "selectors.py", "connection.py", "scale.py", "workers.py")

    def __init__(self, beat: list[float], phase: list[str]):
        import threading

        self.beat, self.phase = beat, phase
        self.main = threading.main_thread().ident
        self.me = 0
        self.names = threading._active  # ident -> Thread, for the name of a busy thread
        self.seen: dict[tuple[str, str], float] = {}
        self.others: dict[tuple[str, str], float] = {}
        threading.Thread(target=self._watch, daemon=True).start()

    @staticmethod
    def _where(frame, depth: int = 3) -> str:
        import traceback

        stack = traceback.extract_stack(frame)
        ours = [f for f in stack if "/engine/" in f.filename or "/gui/" in f.filename] or stack
        return " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(ours[-depth:]))

    def _watch(self) -> None:
        import threading

        self.me = threading.get_ident()
        while True:
            time.sleep(0.05)
            age = time.perf_counter() - self.beat[0]
            frames = sys._current_frames()
            frame = frames.get(self.main)
            if age < 0.1 or frame is None or self.phase[0] == "done":  # done: the clock stopped, closing is not timed
                continue
            key = (self.phase[0], self._where(frame))
            self.seen[key] = self.seen.get(key, 0.0) + 0.05
            for ident, other in frames.items():
                if ident in (self.main, self.me) or Path(other.f_code.co_filename).name in self.IDLE:
                    continue
                thread = self.names.get(ident)
                name = thread.name if thread is not None else str(ident)
                key = (self.phase[0], f"[{name}] {self._where(other, 2)}")
                self.others[key] = self.others.get(key, 0.0) + 0.05

    def report(self) -> None:
        if not self.seen:
            print("no stall over 100 ms was caught by the sampler")
            return
        print("where the GUI thread was during stalls over 100 ms (seconds sampled, worst first):")
        for (phase, where), secs in sorted(self.seen.items(), key=lambda kv: -kv[1])[:15]:
            print(f"  {secs:5.2f} s  {phase:8s} {where}")
        print("other threads running Python meanwhile (they hold the GIL the GUI thread needs):")
        for (phase, where), secs in sorted(self.others.items(), key=lambda kv: -kv[1])[:10]:
            print(f"  {secs:5.2f} s  {phase:8s} {where}")
        if not self.others:
            print("  none")


class _CollectionLog:
    """The garbage collector's passes over 20 ms, and the thread each ran in: a pass holds the GIL,
    so one in any thread of the window's process stalls the window (the sampler cannot see it)."""

    def __init__(self, phase: list[str]):
        import gc
        import threading

        self.phase, self.threading, self.started = phase, threading, 0.0
        self.slow: list[tuple[str, int, str, float]] = []
        gc.callbacks.append(self._callback)

    def _callback(self, stage: str, info: dict) -> None:
        if stage == "start":
            self.started = time.perf_counter()
            return
        ms = (time.perf_counter() - self.started) * 1000
        if ms > 20:
            self.slow.append((self.phase[0], info["generation"], self.threading.current_thread().name, ms))

    def report(self) -> None:
        print(f"garbage-collector passes over 20 ms: {len(self.slow)}")
        for phase, generation, thread, ms in self.slow[:15]:
            print(f"  {ms:6.0f} ms  {phase:8s} generation {generation} in thread {thread}")


class _PhaseMeter:
    """Per phase: CPU time of the window's process and of its engine child (in cores busy), the share of
    the machine's CPU time the hypervisor stole (a stall with the host's CPU taken away is not the window's),
    and the window's threads that used the most CPU."""

    def __init__(self, phase: list[str]):
        self.phase, self.rows, self.busiest = phase, [], []
        self.mark = self._now()

    @staticmethod
    def _threads() -> dict[str, float]:
        import threading

        import psutil

        names = {t.native_id: t.name for t in threading.enumerate()}
        seconds: dict[str, float] = {}
        for t in psutil.Process().threads():
            name = names.get(t.id)
            if name is None:  # a thread Python did not start: Qt's, or a library's; the kernel knows its name
                try:
                    name = Path(f"/proc/self/task/{t.id}/comm").read_text().strip()
                except OSError:
                    name = str(t.id)
            seconds[name] = seconds.get(name, 0.0) + t.user_time + t.system_time
        return seconds

    def _now(self):
        import psutil

        me = psutil.Process()
        child = 0.0
        for c in me.children(recursive=True):
            try:
                times = c.cpu_times()
                child += times.user + times.system
            except psutil.Error:
                pass
        times = me.cpu_times()
        try:  # /proc/stat's first line: user nice system idle iowait irq softirq steal ...
            ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        except OSError:
            ticks = [0] * 8
        return time.perf_counter(), times.user + times.system, child, ticks[7], sum(ticks), self._threads()

    def enter(self, name: str) -> None:
        now = self._now()
        wall = now[0] - self.mark[0]
        if name != self.phase[0]:  # the first enter starts the clock
            steal = (now[3] - self.mark[3]) / max(1, now[4] - self.mark[4]) * 100
            window, engine = (now[1] - self.mark[1]) / wall, (now[2] - self.mark[2]) / wall
            self.rows.append([self.phase[0], wall, window, engine, steal])
            used = {k: (v - self.mark[5].get(k, 0.0)) / wall for k, v in now[5].items()}
            top = sorted(used.items(), key=lambda kv: -kv[1])[:4]
            self.busiest.append(f"  {self.phase[0]:8s} " + ", ".join(f"{k} {v:.2f}" for k, v in top if v >= 0.01))
        self.phase[0], self.mark = name, now

    def report(self) -> None:
        print("CPU per phase: cores busy in the window's process and its engine child, and the machine's CPU stolen:")
        common.table(["phase", "seconds", "window", "engine", "stolen %"], self.rows)
        print("the window's busiest threads per phase (cores):")
        print("\n".join(self.busiest))


def gui_child(args, weights) -> int:
    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer

    settings_dir = tempfile.mkdtemp(prefix="pc-scale-settings-")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
    from gui.app import create_application
    from gui.main_window import MainWindow

    app = create_application()
    QSettings().setValue("analyseOnOpen", False)  # the bench starts the analysis itself, after the scroll
    window = MainWindow(weights=str(weights.value))
    window.resize(1280, 800)
    window.show()
    photos = args.workdir / "photos"
    gaps: list[tuple[str, float, int]] = []  # phase, ms since the last tick, major page faults meanwhile
    phase = ["open"]
    clock = QElapsedTimer()
    ticker = QTimer(interval=5)
    beat = [float("inf")]  # the sampler ignores the start-up, until the clock's first tick

    faults = [resource.getrusage(resource.RUSAGE_SELF).ru_majflt]

    def tick():  # major faults: pages read back from disk (code or data the OS paged out) stall whoever needs them
        beat[0] = time.perf_counter()
        now = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
        gaps.append((phase[0], clock.restart(), now - faults[0]))
        faults[0] = now

    ticker.timeout.connect(tick)
    stalls = _StallSampler(beat, phase)
    collections = _CollectionLog(phase)
    meter = _PhaseMeter(phase)
    results: dict[str, float] = {}
    rows = []
    child_peak = [0.0]

    def sample_children():  # the engine child is not waited for at exit, so ru_maxrss of children misses it
        import psutil

        me = psutil.Process()
        while True:
            try:
                child_peak[0] = max([child_peak[0]] + [c.memory_info().rss / 1e9 for c in me.children(recursive=True)])
            except psutil.Error:
                pass
            time.sleep(0.5)

    import threading

    threading.Thread(target=sample_children, daemon=True).start()

    def open_it():  # in the background, as File > Open does: the window is timed from the click on
        load = common.load()
        t0 = time.perf_counter()
        clock.start()
        ticker.start()
        meter.enter("open")

        def shown(ok: bool):
            window.folderOpened.disconnect(shown)
            results["open"] = time.perf_counter() - t0
            rows.append(
                [
                    f"open_folder with the saved session, until shown (load {load:.1f})",
                    results["open"],
                    f"<= {GOALS['open']:g} s",
                    ok and results["open"] <= GOALS["open"],
                ]
            )
            then_cached()

        window.folderOpened.connect(shown)
        window.open_folder(photos)

    def then_cached():
        meter.enter("reopen")
        t1 = time.perf_counter()

        def cached(_found=None):  # the analysis from last time comes back from the feature cache by itself
            window.jobs.cachedLoaded.disconnect(cached)
            found = window.session is not None and window.session.features is not None
            rows.append(
                [
                    f"  then its analysis from the feature cache, no model ({'found' if found else 'NOT found'})",
                    time.perf_counter() - t1,
                    "",
                    "",
                ]
            )
            QTimer.singleShot(300, scroll)

        window.jobs.cachedLoaded.connect(cached)

    def scroll():
        meter.enter("scroll")
        bar = window.grid.verticalScrollBar()
        step = max(1, bar.pageStep())
        t0 = time.perf_counter()

        def next_page():
            if bar.value() >= bar.maximum():
                rows.append([f"scroll the grid: {bar.maximum() // step + 1} pages", time.perf_counter() - t0, "", ""])
                QTimer.singleShot(200, analyse)
                return
            bar.setValue(bar.value() + step)
            QTimer.singleShot(30, next_page)

        next_page()

    def analyse():
        meter.enter("analyse")
        t0 = time.perf_counter()
        window.analyse()

        def done():
            rows.append(
                [
                    f"Analyse, all cached (model built, never called) (load {common.load():.1f})",
                    time.perf_counter() - t0,
                    "",
                    "",
                ]
            )
            rows.append([f"  ({window.status_text.text()})", None, "", ""])
            QTimer.singleShot(300, regroup)

        window.jobs.analysis.finished.connect(done)

    def regroup():
        meter.enter("regroup")
        t0 = time.perf_counter()
        window.k_spin.setValue(12)
        window.recluster()

        def wait():
            if window.jobs.recluster_worker is None and not window.jobs.recluster_timer.isActive():
                rows.append(
                    [
                        f"regroup to k=12 in the window (load {common.load():.1f})",
                        time.perf_counter() - t0,
                        f"<= {GOALS['regroup']:g} s",
                        time.perf_counter() - t0 <= GOALS["regroup"],
                    ]
                )
                QTimer.singleShot(300, views)
            else:
                QTimer.singleShot(50, wait)

        QTimer.singleShot(50, wait)

    def views():  # View > Doubtful First on and off, then Stack Near-Duplicates on with it (no groups here)
        meter.enter("views")
        steps = [
            ("Doubtful First on", window.doubtful_first_action, True),
            ("Doubtful First off", window.doubtful_first_action, False),
            ("Doubtful First on again", window.doubtful_first_action, True),
            ("Stack Near-Duplicates on, doubtful first", window.stack_action, True),
        ]

        def step():
            if not steps:
                QTimer.singleShot(300, finish)
                return
            name, action, on = steps.pop(0)
            t0 = time.perf_counter()
            action.setChecked(on)
            rows.append([f"  {name} (the call, on the GUI thread)", time.perf_counter() - t0, "", ""])
            QTimer.singleShot(500, step)

        step()

    def finish():  # Qt 6's quit() closes the window first (its final save): that is not part of the timing
        meter.enter("done")
        ticker.stop()
        app.quit()

    QTimer.singleShot(100, open_it)
    app.exec()
    window.close()
    common.table(["step", "seconds", "goal", "met"], rows)
    worst: dict[str, list[tuple[float, int]]] = {}
    for name, gap, majflt in gaps[1:]:
        worst.setdefault(name, []).append((gap, majflt))
    stall_rows = []
    for name, pairs in worst.items():
        values, majflts = np.array([g for g, _ in pairs], float), np.array([f for _, f in pairs])
        stall_rows.append(
            [
                name,
                float(values.max()),
                float(np.percentile(values, 99)),
                int((values > 100).sum()),
                int(majflts.sum()),
                int(majflts[values > 100].sum()),
                values.max() <= GOALS["stall_ms"],
            ]
        )
    print("event-loop gaps with a 5 ms timer (ms), and the window process' major page faults (all / in gaps > 100 ms):")
    common.table(["phase", "max ms", "p99 ms", "over 100 ms", "faults", "in those", "met"], stall_rows)
    meter.report()
    stalls.report()
    collections.report()
    print(
        f"peak RSS of the window's process: {peak_rss_gb():.2f} GB; of its engine child (sampled every 0.5 s): "
        f"{child_peak[0]:.2f} GB (goal <= {GOALS['rss_gb']:g} each)"
    )
    shutil.rmtree(settings_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
