"""Open Destination without a file manager: the person is told, and gets the path to copy."""

from __future__ import annotations

from PySide6.QtGui import QDesktopServices, QGuiApplication

from gui.export_dialog import ExportDialog


def test_open_destination_failing_shows_the_path(sorted_window, qtbot, tmp_path, monkeypatch):
    dest = tmp_path / "sorted"
    dialog = ExportDialog(sorted_window.session, sorted_window)
    qtbot.addWidget(dialog)
    dialog.dest_edit.setText(str(dest))
    dialog.replan()
    qtbot.waitUntil(lambda: dialog.plan is not None and dialog.plan.dest == dest, timeout=5000)
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or False)
    dialog.open_destination()
    assert opened and opened[0].toLocalFile() == str(dest)
    message = dialog.open_failed
    assert message.isVisible() and message.path_edit.text() == str(dest) and message.path_edit.isReadOnly()
    message.copy_button.click()
    assert QGuiApplication.clipboard().text() == str(dest)
    assert message.isVisible()  # copying does not close it


def test_open_destination_that_works_says_nothing(sorted_window, qtbot, tmp_path, monkeypatch):
    dialog = ExportDialog(sorted_window.session, sorted_window)
    qtbot.addWidget(dialog)
    dialog.dest_edit.setText(str(tmp_path / "sorted"))
    dialog.replan()
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=5000)
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: True)
    dialog.open_destination()
    assert getattr(dialog, "open_failed", None) is None
