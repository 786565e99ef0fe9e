"""Progressive analysis: is the final grouping as good as one-shot, and how soon are the first groups shown?

``quality``: for each labelled folder, the features come from a feature cache
(``--cache-dir``, filled by ``python main.py extract`` first; photos missing
from it are analysed), and are fed through ``analyse_progressively`` in its
spread order, batch by batch, as the model would give them. Printed: NMI
against the folder names of the groups so far at every fit, of the photos
placed live just before the end, and of the final grouping next to a one-shot
``cluster_features`` of the same photos. Goal: |final - one-shot| <= 0.01.

``window``: a folder of ``--photos`` photos (crops and flips of scenes6 and
food101_10, cycled; made once under ``--work``) is opened in the window with
a cold feature cache and Analyse pressed: the real model, in the window's
analysis process. Printed: seconds from Analyse to the first groups on screen
(goal <= 60 s), and the event loop's stalls (a 5 ms timer, as bench/gui_stall.py)
from Analyse until ``--seconds`` later, when it cancels; ``--one-shot`` measures
the same without groups before the end, as a baseline. Goal: longest stall < 100 ms.

    python bench/progressive.py quality [--cache-dir DIR] [--sets DIR ...]
    python bench/progressive.py window [--photos 5000] [--seconds 150] [--one-shot] [--work DIR]
    python bench/progressive.py replay [--photos 5000] [--work DIR]

``replay``: the window's share alone: the same snapshots fed to the window without the model (see ``replay``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np

DATASETS = (_common.SHARED / "data" / "scenes6", _common.SHARED / "data" / "food101_10")


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0], data=False)
    p.add_argument("what", choices=("quality", "window", "replay"))
    p.add_argument("--sets", type=Path, nargs="+", default=list(DATASETS), help="labelled folders (quality)")
    p.add_argument("--cache-dir", type=Path, default=None, help="feature cache to read (quality)")
    p.add_argument("--clusters", default="auto", help="k for both runs (quality)")
    p.add_argument("--photos", type=int, default=5000, help="folder size (window)")
    p.add_argument("--seconds", type=float, default=150.0, help="seconds from Analyse to Cancel (window)")
    p.add_argument("--one-shot", action="store_true", help="no groups before the end: the baseline (window)")
    p.add_argument("--engine", default=None, help="auto, openvino or tensorflow (window; default: the app's)")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "photocluster-5000")
    args = p.parse_args()
    started = time.perf_counter()
    if args.what == "quality":
        sets = " ".join(s.name for s in args.sets)
        _common.header(
            "progressive vs one-shot grouping (NMI against the folder names)", args, k=args.clusters, sets=sets
        )
        status = quality(args)
    elif args.what == "replay":
        _common.header("progressive analysis in the window: the GUI thread's share, no model", args, photos=args.photos)
        status = replay(args)
    else:
        _common.header("progressive analysis in the window: first groups and stalls", args, photos=args.photos)
        status = window(args)
    _common.footer(started)
    return status


# ---------------------------------------------------------------- quality


class CachedExtractor:
    """Gives the vectors a real extractor stored in ``cache_dir``, batch by batch; the model runs only for
    photos the cache does not hold. Its own model id keeps the pipeline's cache lookup empty."""

    def __init__(self, real, cache_dir: Path | None):
        self.real, self.cache_dir, self.batch_size = real, cache_dir, real.batch_size
        self.model_id = real.model_id + "-replay"

    def load(self) -> None:
        pass

    def extract(self, paths, cancel=None):
        from engine import descriptor
        from engine.cache import FeatureCache
        from engine.features import FeatureBatch

        with FeatureCache(self.real.model_id, self.cache_dir) as cache:
            for start in range(0, len(paths), self.batch_size):
                keys, _ = cache.keys_for(paths[start : start + self.batch_size])
                vectors = np.zeros((len(keys), descriptor.SIZE), np.float32)
                have = cache.fill([k.fingerprint for k in keys], vectors)
                row = {k.path: i for i, k in enumerate(keys)}
                missing = [k.path for k, h in zip(keys, have) if not h]
                for batch in self.real.extract(missing, cancel) if missing else ():
                    vectors[[row[p] for p in batch.paths]] = batch.vectors
                yield FeatureBatch([k.path for k in keys], vectors)


def quality(args) -> int:
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from engine.cluster import UNSORTED, cluster_features
    from engine.features import FeatureExtractor
    from engine.progressive import analyse_progressively

    k = args.clusters if args.clusters == "auto" else int(args.clusters)
    real = FeatureExtractor(_common.weights_source(args), batch_size=args.batch_size)
    worst = 0.0
    for folder in args.sets:
        extractor = CachedExtractor(real, args.cache_dir)
        with tempfile.TemporaryDirectory() as empty:
            steps = analyse_progressively(folder, extractor, k, cache_dir=empty)
            fits, last, paths = [], None, []
            while True:
                try:
                    step = next(steps)
                except StopIteration as stop:
                    result = stop.value
                    break
                if step.groups is not None:
                    paths = step.paths or paths  # sent with the first groups only
                    truth = [paths[r].split("/")[0] for r in step.groups.rows]
                    if not fits or fits[-1][0] != step.groups.fit:
                        fits.append((step.groups.fit, len(truth), step.groups.k, nmi(truth, step.groups.labels)))
                    last = (len(truth), step.groups.k, nmi(truth, step.groups.labels))
        images = result.analysis.images
        truth = [p.split("/")[0] for p in images]
        one_shot = cluster_features(result.analysis.features, k)
        final = result.clustering.labels
        a, b = nmi(truth, one_shot.labels), nmi(truth, final)
        worst = max(worst, abs(a - b))
        print(f"\n{folder.name}: {len(images)} photos, {len(set(truth))} classes")
        for fit, n, kk, score in fits:
            print(f"  fit {fit}: on {n:5d} photos, {kk:2d} groups, NMI {score:.3f}")
        if last:
            print(f"  live, just before the end: {last[0]} photos placed, {last[1]} groups, NMI {last[2]:.3f}")
        unsorted = int((final == UNSORTED).sum())
        print(
            f"  final (fit {result.fits}): k={result.clustering.k}, NMI {b:.3f}; one-shot: k={one_shot.k}, "
            f"NMI {a:.3f}; difference {b - a:+.4f}; same labels: {np.array_equal(final, one_shot.labels)}"
            + (f"; {unsorted} unsorted" if unsorted else "")
        )
        print(f"  seconds on fits before the final: {result.fit_seconds:.1f}; final fit {result.cluster_seconds:.1f}")
    print(f"\nlargest |final - one-shot| NMI difference: {worst:.4f} (goal <= 0.01)")
    return 0 if worst <= 0.01 else 1


# ---------------------------------------------------------------- window


def make_folder(root: Path, n: int) -> Path:
    """``n`` distinct photos: scenes6 and food101_10 cycled, each pass another crop/flip, as JPEG."""
    from PIL import Image, ImageOps

    done = root / f".complete-{n}"
    if done.exists():
        return root
    sources = sorted(p for d in DATASETS for p in d.glob("*/*.jpg"))
    for i in range(n):
        src = sources[i % len(sources)]
        turn = i // len(sources)
        out = root / f"{src.parent.parent.name}_{src.parent.name}" / f"{src.stem}_{turn}.jpg"
        if out.exists():
            continue
        with Image.open(src) as im:
            im = im.convert("RGB")
            w, h = im.size
            cut = [0.0, 0.06, 0.1, 0.14][turn % 4]
            im = im.crop((int(w * cut), int(h * cut / 2), w - int(w * cut / 2), h - int(h * cut)))
            if turn % 2 == 0:
                im = ImageOps.mirror(im)
            out.parent.mkdir(parents=True, exist_ok=True)
            im.save(out, quality=90)
    done.touch()
    return root


def window(args) -> int:
    folder = make_folder(args.work, args.photos)
    tmp = tempfile.mkdtemp(prefix="photocluster-progressive-")
    os.environ["PHOTOCLUSTER_CACHE_DIR"] = os.path.join(tmp, "cache")  # cold: every photo through the model
    # ... but the converted (and INT8-quantised) models are kept between runs, as they are for a person after
    # the first ever analysis: one folder beside the generated photos.
    models = args.work.parent / f"{args.work.name}-models"
    models.mkdir(exist_ok=True)
    Path(tmp, "cache").mkdir()
    os.symlink(models, os.path.join(tmp, "cache", "models"))
    if args.engine:
        os.environ["PHOTOCLUSTER_ENGINE"] = args.engine
    os.environ["PHOTOCLUSTER_DATA_DIR"] = os.path.join(tmp, "data")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, os.path.join(tmp, "settings"))
    from gui.app import create_application
    from gui.main_window import MainWindow
    from gui.settings import set_analyse_on_open

    weights = str(args.weights or _common.DEFAULT_WEIGHTS)
    app = create_application()
    set_analyse_on_open(False)  # the clock starts at the Analyse press below
    win = MainWindow(weights=weights)
    win.resize(1280, 800)
    win.show()
    win.open_folder(folder, wait=True)
    gaps: list[float] = []
    long_ones: list[tuple[float, float, str]] = []
    updates: list[tuple[float, int, int]] = []  # (seconds since Analyse, groups, photos placed)
    clock, ticker = QElapsedTimer(), QTimer(interval=5)
    t: dict[str, float] = {}

    def tick() -> None:
        gap = clock.restart()
        gaps.append(gap)
        if gap > 50:
            long_ones.append((time.perf_counter() - t["analyse"], gap, win.status_text.text()))

    def groups(k: int) -> None:
        now = time.perf_counter() - t["analyse"]
        placed = sum(1 for c in win.session.labels.values() if c != -1)
        updates.append((now, k, placed))

    def stop() -> None:
        t["stopped"] = time.perf_counter() - t["analyse"]
        win.cancel_analysis()

    def start() -> None:
        clock.start()
        ticker.start()
        t["analyse"] = time.perf_counter()
        win.jobs.first_fit = None if args.one_shot else win.jobs.first_fit
        win.analyse()  # it may wait for the window's look in the feature cache on opening: Analyse is pressed now
        QTimer.singleShot(int(args.seconds * 1000), stop)
        watch.start()

    def check_done() -> None:
        if win.jobs.analysis is not None:
            t["running"] = 1
        elif t.get("running"):
            watch.stop()
            QTimer.singleShot(300, app.quit)

    watch = QTimer(interval=100)
    watch.timeout.connect(check_done)

    ticker.timeout.connect(tick)
    win.jobs.groupsUpdated.connect(groups)
    QTimer.singleShot(200, start)
    app.exec()
    ticker.stop()
    status = win.status_text.text()
    win.close()
    gaps_ms = np.array(gaps[1:], dtype=float)
    mode = "one-shot (no groups before the end)" if args.one_shot else "progressive"
    print(f"folder: {folder} ({args.photos} photos), cold feature cache, {mode}")
    if updates:
        first = updates[0]
        print(f"first groups on screen {first[0]:.1f} s after Analyse: {first[1]} groups of {first[2]} photos")
        for (at, k, placed), (_, before, _) in zip(updates[1:], updates):
            if k != before:
                print(f"  {at:6.1f} s: now {k} groups, {placed} photos placed")
        at, k, placed = updates[-1]
        print(f"  {len(updates)} updates; the last {at:.1f} s after Analyse: {k} groups, {placed} photos placed")
    print(f"stopped (Cancel) {t.get('stopped', float('nan')):.1f} s after Analyse; last status: {status}")
    print(
        f"max stall: {gaps_ms.max():.1f} ms; 99th percentile: {np.percentile(gaps_ms, 99):.1f} ms; "
        f"median: {np.median(gaps_ms):.1f} ms; ticks over 100 ms: {int((gaps_ms > 100).sum())} of {len(gaps_ms)}"
    )
    for at, gap, text in sorted(long_ones, key=lambda item: -item[1])[:5]:
        print(f"  {gap:.0f} ms gap ending {at:.1f} s in, while showing: {text}")
    fast = args.one_shot or (updates and updates[0][0] <= 60)
    return 0 if fast and gaps_ms.max() < 100 else 1


def replay(args) -> int:
    """The window's side of a progressive run without the model: groups snapshots as the engine sends them
    (16 photos more every 0.3 s, a refit with another k each time the count doubles) go through the same
    ``LiveSorting`` and views; the 5 ms timer's longest gap is the GUI thread's own cost, apart from the CPU
    the model takes from it in a real run."""
    folder = make_folder(args.work, args.photos)
    tmp = tempfile.mkdtemp(prefix="photocluster-replay-")
    os.environ["PHOTOCLUSTER_DATA_DIR"] = os.path.join(tmp, "data")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, os.path.join(tmp, "settings"))
    from engine.live_sorting import LiveSorting
    from engine.pipeline import spread_order
    from engine.progressive import FIRST_FIT, Groups
    from gui.app import create_application
    from gui.main_window import MainWindow
    from gui.settings import set_analyse_on_open

    app = create_application()
    set_analyse_on_open(False)
    win = MainWindow(weights=str(args.weights or _common.DEFAULT_WEIGHTS))
    win.resize(1280, 800)
    win.show()
    win.open_folder(folder, wait=True)
    paths = list(win.session.images)
    order, rng = spread_order(len(paths)), np.random.default_rng(0)
    classes = {name: i for i, name in enumerate(sorted({p.split("/")[0] for p in paths}))}
    truth = np.array([classes[p.split("/")[0]] for p in paths])
    live = LiveSorting(win.session, paths)
    state = {"n": FIRST_FIT - 16, "fit": 0, "next": FIRST_FIT}
    gaps: list[float] = []
    costs: list[float] = []
    clock, ticker, feeder = QElapsedTimer(), QTimer(interval=5), QTimer(interval=300)

    def tick() -> None:
        gaps.append(clock.restart())

    def feed() -> None:
        state["n"] += 16
        n = state["n"]
        if n >= state["next"]:
            state["fit"], state["next"] = state["fit"] + 1, 2 * n
        rows = np.sort(order[:n]).astype(np.int32)
        k = len(classes) - state["fit"] % 2  # another k at every other refit: clusters come and go
        labels = ((truth[rows] + state["fit"]) % k).astype(np.int32)
        t0 = time.perf_counter()
        live.update(Groups(state["fit"], rows, labels, rng.random(n).astype(np.float32), k))
        win.status_area.set_groups(k)
        costs.append((time.perf_counter() - t0) * 1000)
        if n >= min(len(paths), 4 * FIRST_FIT + 16 * 20):
            app.quit()

    ticker.timeout.connect(tick)
    feeder.timeout.connect(feed)
    QTimer.singleShot(2000, lambda: (clock.start(), ticker.start(), feeder.start()))  # after the folder settles
    app.exec()
    win.close()
    g = np.array(gaps[1:], dtype=float)
    print(f"folder: {folder} ({len(paths)} photos); {len(costs)} snapshots applied, {state['fit']} fits")
    print(
        f"applying a snapshot (LiveSorting.update and the views' slots): median {np.median(costs):.1f} ms, "
        f"max {max(costs):.1f} ms"
    )
    print(
        f"max stall: {g.max():.1f} ms; 99th percentile: {np.percentile(g, 99):.1f} ms; "
        f"ticks over 100 ms: {int((g > 100).sum())} of {len(g)}"
    )
    return 0 if g.max() < 100 else 1


if __name__ == "__main__":
    sys.exit(main())
