"""Issue 9 item 11: a move export and its undo keep the sorting; a read-only window refuses edits and says so."""

from __future__ import annotations

from PySide6.QtCore import Qt

from engine.cluster import UNSORTED
from engine.session import session_path_for
from gui import mime
from gui.export_dialog import ExportDialog
from gui.main_window import MainWindow


def _move_export(window, qtbot, dest):
    dialog = ExportDialog(window.session, window)
    qtbot.addWidget(dialog)
    dialog.photos_relocated.connect(window.photos_relocated)  # as show_export wires it
    dialog.dest_edit.setText(str(dest))
    dialog.set_mode("move")
    dialog.replan()
    qtbot.waitUntil(
        lambda: dialog.plan is not None and dialog.plan.mode == "move" and dialog.export_button.isEnabled(),
        timeout=5000,
    )
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.report is not None and dialog._worker is None, timeout=20_000)
    return dialog


def _sorting(session):
    return {p.rsplit("/", 1)[-1]: session.name(session.labels[p]) for p in session.images}


def test_move_export_keeps_every_photo_in_its_cluster(sorted_window, qtbot, tmp_path, cluster_of):
    """Before: the folder was reopened after the move, so every cluster shown was empty and features were gone."""
    w, s = sorted_window, sorted_window.session
    w.editor.rename(cluster_of(s, "red"), "Red things")
    before, features = _sorting(s), s.features
    dialog = _move_export(w, qtbot, tmp_path / "moved")
    assert "Moved 24 photos" in dialog.report.summary()
    assert w.session is s and len(s.images) == 24 and _sorting(s) == before
    assert s.features is features  # no re-analysis needed
    assert all((s.root / p).is_file() for p in s.images)  # each path names the photo where it now lies
    red = cluster_of(s, "../moved/Red things")
    assert s.name(red) == "Red things" and len(s.members(red)) == 8
    w.cluster_view.setCurrentIndex(w.clusters.index(w.clusters.row_of(red)))
    assert w.images.rowCount() == 8  # the cluster shown is not empty


def test_undo_export_restores_the_sorting(sorted_window, qtbot, tmp_path, cluster_of):
    """Before: Undo Export put the files back but every photo was Unsorted, pins were lost and Undo was greyed out."""
    w, s = sorted_window, sorted_window.session
    sky = cluster_of(s, "sky")
    w.editor.rename(sky, "Sky")
    photo = next(p for p in s.images if p.startswith("red/"))
    w.editor.move([photo], sky)
    labels, names, pinned = dict(s.labels), dict(s.names), set(s.pinned)
    dialog = _move_export(w, qtbot, tmp_path / "moved")
    assert not dialog.undo_button.isHidden()
    dialog.undo_button.click()
    qtbot.waitUntil(lambda: dialog.report.mode == "undo" and dialog._worker is None, timeout=20_000)
    assert (s.root / photo).is_file()
    assert w.session is s
    assert s.labels == labels and s.names == names and s.pinned == pinned
    assert w.undo_action.isEnabled()
    w.undo_action.trigger()  # the edits made before the export still undo, on the restored paths
    assert s.labels[photo] == cluster_of(s, "red") and photo not in s.pinned


def _read_only_second(sorted_window, qtbot, weights_path):
    w, s = sorted_window, sorted_window.session
    w.save_session(wait=True)
    second = MainWindow(weights=str(weights_path))
    qtbot.addWidget(second)
    second.resize(1280, 800)
    second.show()
    assert second.open_folder(s.root, wait=True) and second.read_only
    return second


def test_read_only_window_refuses_moves_and_says_so(sorted_window, qtbot, weights_path, cluster_of):
    """Before: key 3 and drops moved photos in the read-only window, and closing it dropped them without a word."""
    second = _read_only_second(sorted_window, qtbot, weights_path)
    s2 = second.session
    labels = dict(s2.labels)
    second.banner.hide()
    second.grid.selectionModel().select(
        second.grid.model().index(0, 0), second.grid.selectionModel().SelectionFlag.Select
    )
    sorted_window.hide()  # the key goes to the window in front
    second.activateWindow()
    second.grid.setFocus()
    qtbot.waitUntil(second.grid.hasFocus, timeout=2000)
    qtbot.keyClick(second.grid, Qt.Key.Key_3)  # the key
    assert s2.labels == labels and not second.editor.stack.count()
    assert second.banner.isVisible() and "only shows it" in second.banner.text.text()

    photo = s2.images[0]
    target = next(c for c in s2.names if c != s2.labels[photo])
    data = mime.pack(mime.IMAGE_IDS, [photo])  # a drop on a cluster
    assert not second.clusters.dropMimeData(
        data, Qt.DropAction.MoveAction, -1, -1, second.clusters.index(second.clusters.row_of(target))
    )
    second.move_selection(target)  # the Move To menu
    assert second.editor.new_cluster([photo]) is None
    assert s2.labels == labels and s2.names == dict(sorted_window.session.names)
    assert not second.analyse_action.isEnabled()
    second.close()


def test_read_only_window_never_writes_the_first_windows_save(sorted_window, qtbot, weights_path):
    second = _read_only_second(sorted_window, qtbot, weights_path)
    path = session_path_for(sorted_window.session.root)
    saved = path.read_text()
    second.editor.rename(next(iter(second.session.names)), "Not saved")
    assert "Not saved" not in second.session.names.values()  # refused, not silently dropped later
    second.close()
    assert path.read_text() == saved
    assert UNSORTED not in sorted_window.session.names
