"""The status bar: how many photos are selected, and no stale message left standing after an edit."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel


def _select(window, paths):
    model, selection = window.images, window.grid.selectionModel()
    selection.clearSelection()
    for p in paths:
        selection.select(model.index(model.row_of(p)), QItemSelectionModel.SelectionFlag.Select)


def test_selected_count_follows_the_selection(sorted_window, cluster_of):
    w, s = sorted_window, sorted_window.session
    label = w.status_area.selection
    assert label.isHidden()
    _select(w, s.images[:3])
    assert not label.isHidden() and label.text() == "3 of 24 selected"
    w._reselect_cluster(cluster_of(s, "red"))  # another cluster: a new, empty selection
    assert label.isHidden()
    _select(w, w.images.paths()[:2])
    assert label.text() == "2 of 8 selected"


def test_an_edit_clears_a_stale_message(sorted_window, cluster_of):
    w, s = sorted_window, sorted_window.session
    w.set_status("Regrouped into 3 clusters (k-means, chosen number). Ctrl+Z goes back.")
    w.editor.move([s.images[0]], cluster_of(s, "sky"))
    assert w.status_text.text() == ""
