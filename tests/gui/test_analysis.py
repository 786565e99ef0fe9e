"""A real analysis of small photos with the shared VGG16: clusters appear, Cancel stops, errors show."""

from __future__ import annotations

from PySide6.QtCore import Qt

from engine.cluster import UNSORTED
from gui.skipped_dialog import SkippedDialog


def _analyse(window, qtbot, timeout=120_000):
    window.analyse()
    assert window.jobs.analysis is not None
    worker = window.jobs.analysis
    with qtbot.waitSignal(worker.finished, timeout=timeout):
        pass
    qtbot.waitUntil(lambda: window.jobs.analysis is None and window.jobs.recluster_worker is None, timeout=10_000)


def test_analysis_makes_clusters_and_lists_skipped_files(
    window, photos, qtbot, qtmodeltester, cluster_of, tmp_path, monkeypatch
):
    monkeypatch.setenv("PHOTOCLUSTER_CACHE_DIR", str(tmp_path / "cold"))  # a "features" stage, whatever ran before
    (photos / "broken.jpg").write_bytes(b"not really a jpeg")
    window.open_folder(photos, wait=True)
    window.k_spin.setValue(3)
    progress = []
    window.analyse()
    window.jobs.analysis.progress.connect(lambda p: progress.append(p.stage))
    with qtbot.waitSignal(window.jobs.analysis.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: window.jobs.analysis is None, timeout=5000)
    session = window.session
    assert len(session.names) == 3
    assert window.clusters.rowCount() == 4  # All photos + 3 clusters
    for folder in ("red", "sky", "stripes"):
        cid = cluster_of(session, folder)
        assert all(session.labels[p] == cid for p in session.images if p.startswith(folder + "/"))
    assert "features" in progress
    assert [s.path for s in window.skipped] == ["broken.jpg"]
    assert window.banner.isVisible() and "could not be read" in window.banner.text.text()
    dialog = SkippedDialog(window.skipped, window)
    assert dialog.table.topLevelItemCount() == 1 and dialog.table.topLevelItem(0).text(0) == "broken.jpg"
    assert window.analyse_action.isEnabled() and not window.progress.isVisible()
    assert "Sorted 24 photos into 3 clusters" in window.status_text.text()
    qtmodeltester.check(window.clusters)
    qtmodeltester.check(window.images)

    # Changing k re-clusters from the features in memory: no second extraction.
    with qtbot.waitSignal(window.editor.stack.indexChanged, timeout=30_000):
        window.k_spin.setValue(2)
    qtbot.waitUntil(lambda: window.jobs.recluster_worker is None, timeout=10_000)
    assert len(session.names) == 2
    assert "Regrouped into 2 clusters" in window.status_text.text()
    window.undo_action.trigger()
    assert len(session.names) == 3

    # Choosing a cluster shows its photos only.
    row = window.clusters.row_of(cluster_of(session, "sky"))
    window.cluster_view.setCurrentIndex(window.clusters.index(row))
    assert window.images.rowCount() == 8
    assert window.grid_title.text() == session.name(cluster_of(session, "sky"))


def test_cancel_stops_cleanly(window, photos, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOCLUSTER_CACHE_DIR", str(tmp_path / "cold"))
    window.open_folder(photos, wait=True)
    window.analyse()
    worker = window.jobs.analysis
    assert window.cancel_action.isEnabled() and window.progress.isVisible()
    errors = []
    worker.errored.connect(errors.append)
    window.cancel_action.trigger()
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: window.jobs.analysis is None, timeout=5000)
    assert worker.wait(5000)
    assert [type(e).__name__ for e in errors] == ["Cancelled"]
    assert "cancelled" in window.status_text.text()
    assert not window.progress.isVisible() and window.analyse_action.isEnabled()
    assert not window.banner.isVisible()
    assert set(window.session.labels.values()) == {UNSORTED}


def test_missing_weights_are_explained_in_the_window(window, photos, tmp_path):
    window.weights_option = str(tmp_path / "nowhere.weights.h5")
    window.open_folder(photos, wait=True)
    window.analyse()
    assert window.jobs.analysis is None
    assert window.banner.isVisible() and window.banner.kind == "error"
    text = window.banner.text.text()
    assert "does not exist" in text and "--weights" in text


def test_hdbscan_and_agglomerative_from_the_toolbar(window, photos, qtbot):
    window.open_folder(photos, wait=True)
    window.method_combo.setCurrentIndex(window.method_combo.findData("agglomerative"))
    window.k_spin.setValue(3)
    _analyse(window, qtbot)
    assert window.session.settings["method"] == "agglomerative"
    assert len(window.session.names) == 3
    window.method_combo.setCurrentIndex(window.method_combo.findData("hdbscan"))
    qtbot.waitUntil(lambda: window.session.settings["method"] == "hdbscan", timeout=30_000)
    qtbot.waitUntil(lambda: window.jobs.recluster_worker is None, timeout=10_000)
    assert "Regrouped into" in window.status_text.text()
    assert window.clusters.data(window.clusters.index(1), Qt.ItemDataRole.DisplayRole)


def test_a_cancel_keeps_the_model_loaded_for_the_next_analysis(window, photos, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOCLUSTER_CACHE_DIR", str(tmp_path / "cold"))
    from gui import jobs

    jobs.ENGINE.shutdown()  # a fresh child: the first analysis has to load the model
    window.open_folder(photos, wait=True)
    window.analyse()
    worker = window.jobs.analysis
    window.cancel_action.trigger()  # while the model loads
    assert "stays loaded" in window.status_text.text()
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: window.jobs.analysis is None, timeout=5000)
    assert "cancelled" in window.status_text.text()
    _analyse(window, qtbot)
    assert window.jobs.last_result is not None and window.jobs.last_result.model_load_seconds == 0.0
    assert len(window.session.names) >= 1
