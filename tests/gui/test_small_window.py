"""At 800x560 (a small laptop screen) everything on the toolbar is reachable and nothing scrolls sideways."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QToolButton


def _settle(qtbot):
    for _ in range(5):
        QApplication.processEvents()
        qtbot.wait(20)


def test_800x560_keeps_export_and_zoom_on_the_toolbar(sorted_window, qtbot):
    w = sorted_window
    w.resize(800, 560)
    _settle(qtbot)
    assert w.width() <= 800, w.minimumSizeHint()
    tools = w.toolbar
    extension = tools.findChild(QToolButton, "qt_toolbar_ext_button")
    assert extension is None or not extension.isVisible()
    for action in (w.open_action, w.analyse_action, w.export_action, w.new_cluster_action, w.undo_action):
        button = tools.widgetForAction(action)
        assert button.isVisible() and tools.rect().contains(button.geometry()), action.text()
    for widget in (w.size_slider, w.k_spin, w.method_combo):
        assert widget.isVisible() and tools.rect().contains(widget.geometry())
    assert w.export_action.toolTip().startswith("Copy, move or link")  # the text icon-only buttons lose
    assert not w.grid.horizontalScrollBar().isVisible()


def test_wide_window_shows_the_labels_again(sorted_window, qtbot):
    w = sorted_window
    w.resize(800, 560)
    _settle(qtbot)
    w.resize(1280, 800)
    _settle(qtbot)
    assert all(label.isVisible() for label in w.toolbar_labels)
    assert w.toolbar.widgetForAction(w.export_action).toolButtonStyle().name == "ToolButtonTextBesideIcon"


def test_the_side_list_never_scrolls_sideways(sorted_window, qtbot):
    w = sorted_window
    w.editor.rename(w.session.cluster_ids()[0], "A very long cluster name that does not fit in the list at all")
    for width in (800, 1280):
        w.resize(width, 600)
        _settle(qtbot)
        assert not w.cluster_view.horizontalScrollBar().isVisible(), width
        assert w.cluster_view.width() <= 260
