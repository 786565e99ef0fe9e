"""Correcting the sorting: drops, number keys, new/rename/merge/delete/split, each undone and redone."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView

from engine.cluster import UNSORTED
from gui import menus, mime
from gui.image_model import PinnedRole


def _select(window, paths):
    window.grid.clearSelection()
    model = window.images
    for p in paths:
        window.grid.selectionModel().select(
            model.index(model.row_of(p)), window.grid.selectionModel().SelectionFlag.Select
        )


def test_drop_photos_on_a_cluster_moves_them_and_undo_redo(sorted_window, cluster_of, qtmodeltester):
    w, s = sorted_window, sorted_window.session
    red, sky = cluster_of(s, "red"), cluster_of(s, "sky")
    moving = [p for p in s.images if p.startswith("red/")][:3]
    data = w.images.mimeData([w.images.index(w.images.row_of(p)) for p in moving])
    assert data.hasFormat(mime.IMAGE_IDS) and mime.unpack(data, mime.IMAGE_IDS) == moving
    target = w.clusters.index(w.clusters.row_of(sky))
    assert w.clusters.canDropMimeData(data, Qt.DropAction.MoveAction, -1, -1, target)
    assert not w.clusters.canDropMimeData(data, Qt.DropAction.MoveAction, -1, -1, w.clusters.index(0))  # All photos
    assert w.clusters.dropMimeData(data, Qt.DropAction.MoveAction, -1, -1, target)
    assert all(s.labels[p] == sky and p in s.pinned for p in moving)
    assert w.undo_action.text() == f"Undo Move 3 photos to {s.name(sky)}"
    assert w.images.data(w.images.index(w.images.row_of(moving[0])), PinnedRole)
    w.undo_action.trigger()
    assert all(s.labels[p] == red and p not in s.pinned for p in moving)
    w.redo_action.trigger()
    assert all(s.labels[p] == sky for p in moving)
    qtmodeltester.check(w.clusters)
    qtmodeltester.check(w.images)


def test_grid_of_one_cluster_follows_moves(sorted_window, cluster_of, qtmodeltester):
    w, s = sorted_window, sorted_window.session
    red, sky = cluster_of(s, "red"), cluster_of(s, "sky")
    w.cluster_view.setCurrentIndex(w.clusters.index(w.clusters.row_of(red)))
    assert w.images.rowCount() == 8
    qtmodeltester.check(w.images)
    moving = w.images.paths()[2:4]
    keep = w.images.paths()[5]
    _select(w, [keep])
    w.editor.move(moving, sky)
    assert w.images.rowCount() == 6 and moving[0] not in w.images.paths()
    assert w.selected_paths() == [keep]  # the selection of the rest survives
    w.undo_action.trigger()
    assert w.images.paths()[2:4] == moving
    assert w.grid_subtitle.text().startswith("8 photos")


def test_number_keys_send_the_selection(sorted_window, qtbot, cluster_of):
    w, s = sorted_window, sorted_window.session
    targets = w.clusters.sorting_targets()
    photo = next(p for p in s.images if s.labels[p] != targets[1])
    _select(w, [photo])
    w.grid.setFocus()
    qtbot.keyClick(w.grid, Qt.Key.Key_2)
    assert s.labels[photo] == targets[1]
    assert w.undo_action.text().startswith("Undo Move 1 photo to")


def test_new_cluster_rename_and_undo(sorted_window, qtbot):
    w, s = sorted_window, sorted_window.session
    chosen = s.images[:2]
    _select(w, chosen)
    w.new_cluster_from_selection()
    cid = s.labels[chosen[0]]
    assert cid in s.names and s.labels[chosen[1]] == cid
    row = w.clusters.row_of(cid)
    assert w.cluster_view.state() == QAbstractItemView.State.EditingState  # ready to type a name
    w.cluster_view.closePersistentEditor(w.clusters.index(row))
    old_name = s.names[cid]
    assert w.clusters.setData(w.clusters.index(row), "Beach")
    assert s.names[cid] == "Beach"
    assert w.undo_action.text() == f"Undo Rename {old_name} to Beach"
    w.undo_action.trigger()
    assert s.names[cid] != "Beach"
    w.undo_action.trigger()
    assert cid not in s.names and s.labels[chosen[0]] != cid
    w.redo_action.trigger()
    assert s.labels[chosen[0]] == cid


def test_rename_refuses_empty_and_special_rows(sorted_window):
    w = sorted_window
    assert not w.clusters.setData(w.clusters.index(0), "Anything")  # All photos
    assert not w.clusters.setData(w.clusters.index(1), "   ")
    assert not (w.clusters.flags(w.clusters.index(0)) & Qt.ItemFlag.ItemIsEditable)


def test_drag_cluster_onto_another_merges(sorted_window, cluster_of):
    w, s = sorted_window, sorted_window.session
    red, sky = cluster_of(s, "red"), cluster_of(s, "sky")
    data = w.clusters.mimeData([w.clusters.index(w.clusters.row_of(red))])
    target = w.clusters.index(w.clusters.row_of(sky))
    assert not w.clusters.canDropMimeData(
        data, Qt.DropAction.MoveAction, -1, -1, w.clusters.index(w.clusters.row_of(red))
    )  # onto itself
    assert w.clusters.dropMimeData(data, Qt.DropAction.MoveAction, -1, -1, target)
    assert red not in s.names and len(s.members(sky)) == 16
    assert w.clusters.rowCount() == 3
    w.undo_action.trigger()
    assert red in s.names and len(s.members(red)) == 8 and w.clusters.rowCount() == 4


def test_merge_delete_split_from_the_menus(sorted_window, cluster_of, qtbot):
    w, s = sorted_window, sorted_window.session
    red, sky, stripes = (cluster_of(s, f) for f in ("red", "sky", "stripes"))
    w.cluster_view.setCurrentIndex(w.clusters.index(w.clusters.row_of(red)))
    menus.fill_merge_menu(w, w.merge_menu)
    merge = next(a for a in w.merge_menu.actions() if a.data() == sky)
    merge.trigger()
    assert red not in s.names and w.cluster_view.current_cluster() == sky
    w.undo_action.trigger()

    w.cluster_view.setCurrentIndex(w.clusters.index(w.clusters.row_of(stripes)))
    w.delete_action.trigger()
    assert stripes not in s.names and all(s.labels[p] == UNSORTED for p in s.images if p.startswith("stripes/"))
    assert w.clusters.cluster_id(w.clusters.rowCount() - 1) == UNSORTED
    w.undo_action.trigger()
    assert stripes in s.names and w.clusters.row_of(UNSORTED) == -1

    w.cluster_view.setCurrentIndex(w.clusters.index(w.clusters.row_of(sky)))
    w.split_cluster(2)
    qtbot.waitUntil(lambda: w.jobs.split_worker is None, timeout=60_000)
    assert len(s.names) == 4 and 0 < len(s.members(sky)) < 8
    assert w.undo_action.text().startswith("Undo Split")
    w.undo_action.trigger()
    assert len(s.names) == 3 and len(s.members(sky)) == 8


def test_reset_manual_moves(sorted_window, qtbot, cluster_of):
    w, s = sorted_window, sorted_window.session
    red, sky = cluster_of(s, "red"), cluster_of(s, "sky")
    photo = next(p for p in s.images if p.startswith("red/"))
    w.editor.move([photo], sky)
    assert w.reset_pins_action.isEnabled()
    w.reset_pins_action.trigger()
    assert not s.pinned
    qtbot.waitUntil(lambda: w.jobs.recluster_worker is None and s.labels[photo] == red, timeout=20_000)


def test_drop_on_the_view_goes_through_the_model(sorted_window, qtbot, cluster_of):
    """A real QDropEvent on the cluster list viewport lands in dropMimeData."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QDropEvent

    w, s = sorted_window, sorted_window.session
    sky = cluster_of(s, "sky")
    photo = next(p for p in s.images if p.startswith("red/"))
    rect = w.cluster_view.visualRect(w.clusters.index(w.clusters.row_of(sky)))
    data = mime.pack(mime.IMAGE_IDS, [photo])
    event = QDropEvent(
        QPointF(rect.center()),
        Qt.DropAction.MoveAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    w.cluster_view.dropEvent(event)
    assert s.labels[photo] == sky
