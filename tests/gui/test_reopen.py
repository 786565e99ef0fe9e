"""Opening a folder: the analysis from last time comes back from the cache by itself, an analysis starts by
itself when one is needed (a setting turns that off), and the "press Analyse" hint only shows when it helps."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from engine.session import session_path_for
from gui.main_window import MainWindow


def _wait_idle(window, qtbot, timeout=120_000):
    jobs = window.jobs
    qtbot.waitUntil(
        lambda: jobs.analysis is None and jobs.cached_worker is None and jobs.recluster_worker is None,
        timeout=timeout,
    )


def test_reopening_brings_back_the_analysis_without_analyse(window, photos, qtbot, weights_path):
    window.open_folder(photos, wait=True)
    window.k_spin.setValue(3)
    window.analyse()
    _wait_idle(window, qtbot)
    assert window.session.features is not None and len(window.session.names) == 3
    window.close()

    again = MainWindow(weights=str(weights_path))
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.jobs.cachedLoaded, timeout=60_000) as loaded:
        assert again.open_folder(photos, wait=True)
    assert loaded.args == [True]
    _wait_idle(again, qtbot)
    s = again.session
    assert s.features is not None and s.features.shape[0] == 24 and len(s.names) == 3
    assert again.jobs.last_result is None  # no analysis ran
    assert "analysis from last time" in again.status_text.text()
    assert again.actions_by_name["duplicates"].isEnabled()
    again._reselect_cluster(s.cluster_ids()[0])
    assert again._state().can_split  # splitting needs the features: there without Analyse
    again.close()

    session_path_for(photos).unlink()  # the sorting is gone, the cache is not: the clusters come back by themselves
    third = MainWindow(weights=str(weights_path))
    qtbot.addWidget(third)
    third.analyse_on_open_action.setChecked(True)
    assert third.open_folder(photos, wait=True)
    _wait_idle(third, qtbot)
    assert third.session.features is not None and third.session.names
    assert third.jobs.last_result is None  # regrouped from the cache, not analysed
    third.close()


def test_a_folder_opens_into_an_analysis_unless_turned_off(window, photos, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOCLUSTER_CACHE_DIR", str(tmp_path / "cold"))
    window.analyse_on_open_action.setChecked(True)
    assert QSettings().value("analyseOnOpen") in (True, "true")
    window.open_folder(photos, wait=True)
    qtbot.waitUntil(lambda: window.jobs.analysis is not None, timeout=60_000)  # after the cache had too little
    assert "press Analyse" not in window.grid_subtitle.text()
    assert "being analysed" in window.grid_subtitle.text()
    _wait_idle(window, qtbot)
    assert window.session.names and "press Analyse" not in window.grid_subtitle.text()

    window.analyse_on_open_action.setChecked(False)
    other = tmp_path / "other"
    (other / "a").mkdir(parents=True)
    (photos / "red" / "red_0.jpg").replace(other / "a" / "red_0.jpg")
    window.open_folder(other, wait=True)
    assert window.jobs.analysis is None and window.jobs.cached_worker is None
    assert "press Analyse" in window.grid_subtitle.text()


def test_an_empty_folder_shows_no_analyse_hint(window, tmp_path):
    (tmp_path / "empty").mkdir()
    window.analyse_on_open_action.setChecked(True)
    window.open_folder(tmp_path / "empty", wait=True)
    assert "Analyse" not in window.grid_subtitle.text() and "no photos" in window.grid_subtitle.text()
    assert not window.analyse_action.isEnabled()
    assert "No photos here" in window.status_text.text()
    assert window.jobs.analysis is None and window.jobs.cached_worker is None
