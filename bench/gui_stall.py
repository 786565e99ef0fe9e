"""How long does the window's event loop stall while it analyses scenes6 with a cold feature cache?

A 5 ms QTimer records the gap between its ticks from the moment Analyse is
pressed until the clusters are shown; a gap far above 5 ms is a stall a person
would feel. Prints the longest gap and the 99th percentile. Goal: < 100 ms.

    python bench/gui_stall.py [--folder ../shared/data/scenes6] [--weights PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_TMP = tempfile.mkdtemp(prefix="photocluster-stall-")
os.environ["PHOTOCLUSTER_CACHE_DIR"] = os.path.join(_TMP, "cache")  # cold: every photo goes through the model
os.environ["PHOTOCLUSTER_DATA_DIR"] = os.path.join(_TMP, "data")

import numpy as np
from PySide6.QtCore import QElapsedTimer, QSettings, QTimer

QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, os.path.join(_TMP, "settings"))

from gui.app import create_application
from gui.main_window import MainWindow


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(REPO.parent / "shared" / "data" / "scenes6"))
    parser.add_argument(
        "--weights",
        default=os.environ.get("PHOTOCLUSTER_WEIGHTS")
        or str(REPO.parent / "shared" / "models" / "vgg16_imagenet_notop.weights.h5"),
    )
    parser.add_argument("--clusters", type=int, default=6)
    args = parser.parse_args()

    app = create_application()
    QSettings().setValue("analyseOnOpen", False)  # the clock starts when this script presses Analyse
    window = MainWindow(weights=args.weights)
    window.resize(1280, 800)
    window.show()
    window.open_folder(args.folder, wait=True)
    window.k_spin.setValue(args.clusters)

    gaps: list[float] = []
    long_ones: list[tuple[float, int, str]] = []  # (seconds since start, gap ms, status text then)
    clock = QElapsedTimer()
    ticker = QTimer(interval=5)

    def tick() -> None:
        gap = clock.restart()
        gaps.append(gap)
        if gap > 50:
            long_ones.append((time.perf_counter() - started, gap, window.status_text.text()))

    ticker.timeout.connect(tick)

    def start() -> None:
        clock.start()
        ticker.start()
        window.analyse()
        window.jobs.analysis.finished.connect(lambda: QTimer.singleShot(500, app.quit))

    started = time.perf_counter()
    QTimer.singleShot(200, start)
    app.exec()
    ticker.stop()
    seconds = time.perf_counter() - started
    photos = len(window.session.images) if window.session else 0  # before close() lets the folder go
    window.close()
    gaps_ms = np.array(gaps[1:], dtype=float)
    print(f"analysis of {photos} photos took {seconds:.1f} s (cold cache); {len(gaps_ms)} timer ticks")
    print(f"status: {window.status_text.text()}")
    print(
        f"max stall: {gaps_ms.max():.1f} ms; 99th percentile: {np.percentile(gaps_ms, 99):.1f} ms; "
        f"median: {np.median(gaps_ms):.1f} ms; ticks over 100 ms: {int((gaps_ms > 100).sum())}"
    )
    for at, gap, status in sorted(long_ones, key=lambda item: -item[1])[:5]:
        print(f"  {gap} ms gap ending {at:.1f} s in, while showing: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
