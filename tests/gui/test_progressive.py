"""Progressive analysis in the window: groups show before the analysis ends, fill up, and the person's
edits made meanwhile survive the refits and the end; the selection does not jump."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel

from engine.cluster import UNSORTED


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
    window.open_folder(many_photos)
    window.k_spin.setValue(3)
    window.jobs.first_fit = 6
    session = window.session
    fits = []
    window.jobs.groupsUpdated.connect(lambda k: fits.append(_live_state(window)))
    window.analyse()
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
        index = window.images.index(window.images.row_of(p))
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
