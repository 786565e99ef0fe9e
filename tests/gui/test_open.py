"""Opening a folder: rows at once, thumbnails soon after, every way in (menu, drop, command line, recent)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from gui import menus
from gui import settings as app_settings
from gui.image_model import ALL


def test_empty_state_then_open_shows_rows_and_thumbnails(window, photos, qtbot, qtmodeltester):
    assert window.pages.currentIndex() == 0  # "Open a folder of photos to begin"
    assert not window.analyse_action.isEnabled()
    assert window.open_folder(photos, wait=True)
    assert window.pages.currentIndex() == 1
    assert window.images.rowCount() == 24
    assert window.clusters.cluster_id(0) == ALL
    assert window.analyse_action.isEnabled()
    qtbot.waitUntil(
        lambda: window.images.data(window.images.index(0), Qt.ItemDataRole.DecorationRole) is not None, timeout=5000
    )
    image = window.images.data(window.images.index(0), Qt.ItemDataRole.DecorationRole)
    assert max(image.width(), image.height()) <= 256
    qtmodeltester.check(window.images)
    qtmodeltester.check(window.clusters)


def test_thumbnail_arrival_is_announced_per_row(window, photos, qtbot):
    window.open_folder(photos, wait=True)
    model = window.images
    with qtbot.waitSignal(model.dataChanged, timeout=5000, check_params_cb=lambda top, bottom, roles=(): top == bottom):
        model.data(model.index(5), Qt.ItemDataRole.DecorationRole)


def test_dropping_a_folder_on_the_window_opens_it(window, photos, qtbot):
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(photos))])
    event = QDropEvent(
        QPointF(300, 300), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.session is not None, timeout=3000)
    assert window.session.root == photos.resolve()


def test_recent_folders_are_remembered(window, photos, tmp_path):
    window.open_folder(photos, wait=True)
    assert app_settings.recent_folders()[0] == str(photos.resolve())
    menus.fill_recent_menu(window)
    assert str(photos.resolve()) in [a.text() for a in window.recent_menu.actions()]


def test_not_a_folder_is_reported_in_the_window(window, tmp_path):
    assert not window.open_folder(tmp_path / "missing", wait=True)
    assert window.banner.isVisible() and "not a folder" in window.banner.text.text()


def test_command_line_arguments():
    from gui.app import parse_args

    args = parse_args(["/some/folder", "--weights", "/w.h5"])
    assert args.folder == "/some/folder" and args.weights == "/w.h5"
    assert parse_args([]).folder is None


def test_thumbnail_size_slider_changes_grid_and_tier(window, photos):
    window.open_folder(photos, wait=True)
    window.size_slider.setValue(80)
    assert window.grid.delegate.size == 80
    assert window.images.tier == 128
    window.size_slider.setValue(240)
    assert window.images.tier == 256
    assert window.grid.gridSize().height() > 240


def test_run_opens_the_folder_from_the_command_line(app, photos, monkeypatch, qtbot):
    from gui import app as app_module

    windows = []

    class Recorded(app_module.MainWindow):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            windows.append(self)

    def event_loop() -> int:  # stands in for app.exec(): runs until the folder is open, then "quits"
        qtbot.waitUntil(lambda: bool(windows) and windows[0].session is not None, timeout=5000)
        return 0

    monkeypatch.setattr(app_module, "MainWindow", Recorded)
    monkeypatch.setattr(app, "exec", event_loop)
    assert app_module.run([str(photos)]) == 0
    assert windows[0].session.root == photos.resolve() and windows[0].images.rowCount() == 24
    windows[0].close()
