"""After a regroup: the list reads Cluster 1..N, the Method box follows undo/redo, and number keys stay put."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt

from engine.cluster import UNSORTED, cluster_features
from gui import menus
from gui.cluster_model import ShortcutRole


def _regroup(window, k, method):
    s = window.session
    window.editor.apply_clustering(cluster_features(s.features, k=k, method=method), {"clusters": k, "method": method})


def _names(window):
    return [window.session.name(c) for c in window.session.cluster_ids()]


def test_regroup_renumbers_and_keeps_given_names(sorted_window, cluster_of):
    w, s = sorted_window, sorted_window.session
    w.editor.rename(cluster_of(s, "sky"), "Sky")
    w.editor.delete_cluster(cluster_of(s, "red"))
    _regroup(w, 5, "agglomerative")
    names = _names(w)
    assert "Sky" in names and len(names) == 5
    numbered = [(i, n) for i, n in enumerate(names, start=1) if n != "Sky"]
    assert all(n == f"Cluster {i}" for i, n in numbered), names
    assert [w.clusters.data(w.clusters.index(r), ShortcutRole) for r in range(1, 6)] == ["1", "2", "3", "4", "5"]


def test_method_box_follows_undo_and_redo_of_a_regroup(sorted_window):
    w = sorted_window
    assert (w.method_combo.currentData(), w.k_spin.value()) == ("kmeans", 3)
    _regroup(w, 4, "agglomerative")
    assert (w.method_combo.currentData(), w.k_spin.value()) == ("agglomerative", 4)
    w.undo_action.trigger()
    assert (w.method_combo.currentData(), w.k_spin.value()) == ("kmeans", 3)
    assert w.session.settings == {"clusters": 3, "method": "kmeans"}
    w.redo_action.trigger()
    assert (w.method_combo.currentData(), w.k_spin.value()) == ("agglomerative", 4)
    assert not w.jobs.recluster_timer.isActive()  # showing the settings is not a request to regroup


def test_number_keys_stay_with_their_cluster_after_a_delete(sorted_window, qtbot, cluster_of):
    w, s = sorted_window, sorted_window.session
    third = w.clusters.cluster_for_key(3)
    assert third is not None and s.name(third) == "Cluster 3"
    w.editor.delete_cluster(w.clusters.cluster_for_key(1))
    assert w.clusters.cluster_for_key(3) == third and w.clusters.key_of(third) == "3"
    assert w.clusters.cluster_for_key(1) is None
    photo = next(p for p in s.images if s.labels[p] == UNSORTED)
    w.grid.selectionModel().select(
        w.grid.model().index(w.grid.model().row_of(photo), 0), QItemSelectionModel.SelectionFlag.Select
    )
    w.grid.setFocus()
    qtbot.keyClick(w.grid, Qt.Key.Key_3)
    assert s.labels[photo] == third
    qtbot.keyClick(w.grid, Qt.Key.Key_0)
    assert s.labels[photo] == UNSORTED


def test_move_menu_shows_keys_without_claiming_them(sorted_window):
    w = sorted_window
    w.grid.selectionModel().select(w.grid.model().index(0, 0), QItemSelectionModel.SelectionFlag.Select)
    menus.fill_move_menu(w, w.move_menu)
    texts = [a.text() for a in w.move_menu.actions()]
    assert texts[0] == "Cluster 1\t1" and texts[-1].endswith("\t0")
    assert all(a.shortcut().isEmpty() for a in w.move_menu.actions())
