"""Screenshots of the window sorting scenes6, for the README and docs/gui.md.

Opens the folder, analyses it with k=6 (the features are cached in
bench/out/cache, so a second run is quick), waits for the thumbnails, and
renders the window with ``grab()`` at 1280x800, 800x600 and 1920x1080
(docs/screenshot-WIDTH.png), then once more at 1280x800 with the similarity
map open (docs/screenshot-map-1280.png).

    python bench/gui_screenshot.py [--weights PATH] [--folder ../shared/data/scenes6]
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
os.environ.setdefault("PHOTOCLUSTER_CACHE_DIR", str(REPO / "bench" / "out" / "cache"))
_TMP = tempfile.mkdtemp(prefix="photocluster-shot-")
os.environ["PHOTOCLUSTER_DATA_DIR"] = _TMP  # start from a fresh sorting, not one saved earlier

from PIL import Image
from PySide6.QtCore import QEventLoop, QSettings
from PySide6.QtGui import QImage

QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, _TMP)

from gui.app import create_application
from gui.main_window import MainWindow


def wait_until(app, condition, timeout_s: float) -> bool:
    """Process events until ``condition()`` holds or ``timeout_s`` passes; returns ``condition()``."""
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)
    return condition()


def pause(app, seconds: float) -> None:
    wait_until(app, lambda: False, seconds)


def settle(app, window) -> None:
    """Let layout and thumbnail decoding finish, so the picture shows real photos."""
    pause(app, 0.4)
    wait_until(app, lambda: window.loader.pending_count() == 0, 20)
    pause(app, 0.3)


def save_small_png(image: QImage, target: Path, octree: bool = False) -> None:
    """A 256-colour dithered PNG, so the file stays small. Median cut keeps photos smooth but spends its colours by
    area, so the map's small cluster dots came out as look-alike browns and greys: the map shot uses octree."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    pixels = Image.frombytes(
        "RGB", (image.width(), image.height()), bytes(image.constBits()), "raw", "RGB", image.bytesPerLine()
    )
    method = Image.Quantize.FASTOCTREE if octree else Image.Quantize.MEDIANCUT
    pixels.quantize(256, method=method, dither=Image.Dither.FLOYDSTEINBERG).save(target, "PNG", optimize=True)


def shot(window, target: Path, octree: bool = False) -> None:
    save_small_png(window.grab().toImage(), target, octree)
    print(f"wrote {target} ({window.width()}x{window.height()}, {target.stat().st_size // 1024} KB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(REPO.parent / "shared" / "data" / "scenes6"))
    parser.add_argument(
        "--weights",
        default=os.environ.get("PHOTOCLUSTER_WEIGHTS")
        or str(REPO.parent / "shared" / "models" / "vgg16_imagenet_notop.weights.h5"),
    )
    parser.add_argument("--out", default=str(REPO / "docs"))
    args = parser.parse_args()

    app = create_application()
    QSettings().setValue("analyseOnOpen", False)  # this script presses Analyse itself, with k=6
    window = MainWindow(weights=args.weights)
    window.resize(1280, 800)
    window.show()
    window.open_folder(args.folder, wait=True)
    window.k_spin.setValue(6)
    window.analyse()
    jobs = window.jobs
    if not wait_until(app, lambda: not (jobs.analysis or jobs.recluster_worker or jobs.cached_worker), 900):
        print("the analysis did not finish in time", file=sys.stderr)
        return 1
    print(window.status_text.text(), window.banner.text.text() if window.banner.isVisible() else "")
    session = window.session
    first = min(session.names)
    window.cluster_view.setCurrentIndex(window.clusters.index(window.clusters.row_of(first)))
    # Show a correction in progress: one photo moved by hand into the first cluster (pin marker).
    stranger = next(p for p in session.images if session.labels[p] != first)
    window.editor.move([stranger], first)
    window.grid.selectionModel().select(
        window.images.index(window.images.row_of(stranger)), window.grid.selectionModel().SelectionFlag.Select
    )
    window.grid.setFocus()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (800, 600), (1920, 1080)):
        window.resize(width, height)
        settle(app, window)
        shot(window, out / f"screenshot-{width}.png")
    window.resize(1280, 800)
    window.map_action.trigger()
    if not wait_until(app, lambda: len(window.map_dock.view.paths) == len(session.images), 300):
        print("the similarity map was not laid out in time", file=sys.stderr)
        return 1
    settle(app, window)
    shot(window, out / "screenshot-map-1280.png", octree=True)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
