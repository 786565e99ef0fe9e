"""Autosave and reopen; the export dialog writing folders and a manifest; the preview dialog."""

from __future__ import annotations

import csv

from PySide6.QtCore import Qt

from engine.session import Session, session_path_for
from gui.export_dialog import ExportDialog
from gui.main_window import MainWindow
from gui.preview import PreviewDialog


def test_autosave_then_reopen_restores_clusters_names_and_pins(sorted_window, qtbot, cluster_of, app, weights_path):
    w, s = sorted_window, sorted_window.session
    sky = cluster_of(s, "sky")
    w.editor.rename(sky, "Sky")
    photo = next(p for p in s.images if p.startswith("red/"))
    w.editor.move([photo], sky)
    path = session_path_for(s.root)
    qtbot.waitUntil(lambda: path.exists() and photo in Session.load(path).pinned, timeout=5000)
    assert "\n" not in path.read_text(encoding="utf-8")  # compact JSON: the C encoder, not seconds of GIL at 100k
    labels, names = dict(s.labels), dict(s.names)
    w.close()

    again = MainWindow(weights=str(weights_path))
    qtbot.addWidget(again)
    assert again.open_folder(s.root, wait=True)
    restored = again.session
    assert restored.labels == labels and restored.names == names and photo in restored.pinned
    assert again.clusters.rowCount() == 4  # the saved clusters show at once, before any analysis
    assert "Restored your sorting" in again.status_text.text()
    again.close()


def test_export_dialog_copies_into_cluster_folders(sorted_window, qtbot, tmp_path, cluster_of):
    w, s = sorted_window, sorted_window.session
    w.editor.rename(cluster_of(s, "red"), "Red things")
    dest = tmp_path / "out"
    dialog = ExportDialog(s, w)
    qtbot.addWidget(dialog)
    dialog.dest_edit.setText(str(dest))
    dialog.replan()
    qtbot.waitUntil(
        lambda: dialog.plan is not None and dialog.plan.dest == dest and dialog.export_button.isEnabled(), timeout=5000
    )
    assert dialog.folders.topLevelItemCount() == 3
    assert "Red things" in [dialog.folders.topLevelItem(i).text(0) for i in range(3)]
    assert "red/red_0.jpg" in dialog.dry_run.toPlainText()
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.report is not None and dialog._worker is None, timeout=20_000)
    assert len(dialog.report.done) == 24 and not dialog.report.skipped
    assert sorted(p.name for p in (dest / "Red things").iterdir()) == sorted(f"red_{i}.jpg" for i in range(8))
    with open(dialog.report.manifest_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 24 and {r["cluster"] for r in rows} >= {"Red things"}
    assert not dialog.open_button.isHidden() and "Copied 24 photos" in dialog.result_label.text()
    assert (s.root / "red" / "red_0.jpg").exists()  # a copy leaves the originals


def test_preview_shows_facts_and_steps_with_arrow_keys(sorted_window, qtbot):
    w = sorted_window
    dialog = PreviewDialog(w.images, 0, w)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.facts is not None, timeout=5000)
    assert (dialog.facts.width, dialog.facts.height) == (64, 64)
    assert "64 × 64 px" in dialog.info.text() and w.images.path(0).rsplit("/", 1)[-1] in dialog.info.text()
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    assert dialog.row == 1 and dialog.position.text() == "2 of 24"
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    assert dialog.row == 0
    dialog.close()


def test_damaged_autosave_is_kept_aside_and_reported(sorted_window, qtbot, weights_path):
    w, s = sorted_window, sorted_window.session
    root, path = s.root, session_path_for(s.root)
    w.close()
    path.write_text('{"version": 1, "images": [')  # a save cut off half-way
    again = MainWindow(weights=str(weights_path))
    qtbot.addWidget(again)
    assert again.open_folder(root, wait=True)
    assert "kept as" in again.banner.text.text() and len(again.session.images) == 24
    assert list(path.parent.glob(path.name + ".damaged-*"))  # the old file is still there
    again.close()


def test_second_window_on_the_same_folder_is_read_only(sorted_window, qtbot, weights_path):
    w, s = sorted_window, sorted_window.session
    w.save_session(wait=True)
    second = MainWindow(weights=str(weights_path))
    qtbot.addWidget(second)
    assert second.open_folder(s.root, wait=True)
    assert second.read_only and not w.read_only
    assert "already open in another PhotoCluster window" in second.banner.text.text()
    path = session_path_for(s.root)
    saved_before = path.read_text()
    second.editor.rename(next(iter(second.session.names)), "Not saved")
    second.save_session(wait=True)
    assert path.read_text() == saved_before  # the first window's sorting is safe
    second.close()
    w.close()
    reopened = MainWindow(weights=str(weights_path))
    qtbot.addWidget(reopened)
    reopened.open_folder(s.root, wait=True)
    assert not reopened.read_only  # free once the first window let go
    reopened.close()
