"""Progressive analysis in the window: groups show before the analysis ends, fill up, and the person's
edits made meanwhile survive the refits and the end; the selection does not jump."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint

from engine.cluster import UNSORTED
from gui.session_model import PathRole


@pytest.fixture
def many_photos(tmp_path, photo_maker):
    """48 photos, so that with batches of 16 and the first fit at 6 there is a refit (at 32) before the end."""
    root = tmp_path / "many"
    for i in range(16):
        for kind in ("red", "sky", "stripes"):
            photo_maker(root / kind / f"{kind}_{i:02}.jpg", kind, i + 100, size=(64, 64))
    return root


def _live_state(window):
    live = window.jobs.live
    return live.fit if live is not None else None


def test_groups_show_while_it_runs_and_edits_survive(window, many_photos, qtbot, tmp_path, monkeypatch, cluster_of):
    monkeypatch.setenv("PHOTOCLUSTER_CACHE_DIR", str(tmp_path / "cold"))  # every photo through the model
    window.open_folder(many_photos, wait=True)
    window.k_spin.setValue(3)
    window.jobs.first_fit = 6
    session = window.session
    fits = []
    window.jobs.groupsUpdated.connect(lambda k: fits.append(_live_state(window)))
    window.analyse()
    qtbot.waitUntil(lambda: window.jobs.analysis is not None, timeout=30_000)  # after the cache check on open
    worker = window.jobs.analysis
    with qtbot.waitSignal(window.jobs.groupsUpdated, timeout=120_000):
        pass
    # Clusters are on screen while the analysis still runs, and not every photo is in one yet.
    assert window.jobs.analysis is worker
    assert window.clusters.rowCount() >= 3  # All photos + clusters (+ Unsorted: the photos still to analyse)
    assert session.names and 0 < sum(1 for p in session.images if session.labels[p] != UNSORTED) < 48
    assert window.status_area.groups == len(session.names)  # "… · 3 groups so far" with the progress

    # Edits in the middle of the run: a rename, and a photo moved by hand into another cluster.
    placed = [p for p in session.images if session.labels[p] != UNSORTED]
    red = next(p for p in placed if p.startswith("red/"))
    target = next(c for c in session.names if c != session.labels[red])
    window.editor.rename(session.labels[red], "Tomatoes")
    window.editor.move([red], target)
    # The grid shows one cluster; two of its photos are selected, then more photos arrive.
    row = window.clusters.row_of(target)
    window.cluster_view.setCurrentIndex(window.clusters.index(row))
    chosen = [window.images.path(r) for r in range(min(2, window.images.rowCount()))]
    for p in chosen:
        index = window.grid.model().index(window.grid.model().row_of(p), 0)
        window.grid.selectionModel().select(index, QItemSelectionModel.SelectionFlag.Select)
    count_before = window.images.rowCount()

    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: window.jobs.analysis is None, timeout=10_000)
    assert len(fits) >= 2 and max(f for f in fits if f is not None) >= 2, fits  # refitted during the run
    # The moved photo stayed where it was put, pinned; the renamed cluster kept its name: it is the reds'.
    assert session.labels[red] == target and red in session.pinned
    assert "Tomatoes" in session.names.values()
    tomatoes = next(c for c, n in session.names.items() if n == "Tomatoes")
    assert cluster_of(session, "red") == tomatoes
    # The grid kept the cluster and the selection while photos joined it.
    assert window.images.cluster == target and window.images.rowCount() >= count_before
    assert sorted(window.selected_paths()) == sorted(chosen)
    assert "Sorted 48 photos into 3 clusters" in window.status_text.text()


def test_rows_arriving_above_do_not_scroll_the_grid(window, tmp_path, photo_maker, qtbot):
    """Photos joining the shown cluster above the view: the photo at the top left stays in view."""
    from engine.live_sorting import LiveSorting
    from engine.progressive import Groups

    root = tmp_path / "grid"
    for i in range(120):
        photo_maker(root / f"p{i:03}.jpg", "sky", i, size=(16, 16))
    window.open_folder(root, wait=True)
    session = window.session
    paths = list(session.images)
    live = LiveSorting(session, paths)
    odd = np.arange(1, 120, 2, dtype=np.int32)  # the first groups: every other photo, in one cluster
    live.update(Groups(1, odd, np.zeros(len(odd), np.int32), np.ones(len(odd), np.float32), 1))
    (cid,) = session.names
    window.cluster_view.setCurrentIndex(window.clusters.index(window.clusters.row_of(cid)))
    qtbot.waitUntil(lambda: window.grid.verticalScrollBar().maximum() > 0, timeout=5000)
    bar = window.grid.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    cell = window.grid.gridSize()
    top = lambda: window.grid.indexAt(QPoint(cell.width() // 2, cell.height() // 2)).data(PathRole)
    qtbot.waitUntil(lambda: top() is not None, timeout=5000)  # laid out
    before = top()
    assert before != paths[1]
    y = lambda path: window.grid.visualRect(window.grid.model().index(window.images.row_of(path), 0)).y()
    y_before = y(before)
    rows = np.arange(0, 120, dtype=np.int32)  # the next batch: the even ones join, half of them above the view
    live.update(Groups(1, rows, np.zeros(120, np.int32), np.ones(120, np.float32), 1))
    assert window.images.rowCount() == 120
    qtbot.wait(50)
    # The photo that was at the top left is still in the top row on screen (the grid reflows: maybe
    # another column), not pushed down by the 45 rows that came above it.
    assert abs(y(before) - y_before) < cell.height()
