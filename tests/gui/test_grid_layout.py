"""The grid's layout: every row reachable, no sideways scrolling, and zoom/resize keep the place."""

from __future__ import annotations

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication


def _settle(qtbot, window) -> None:
    for _ in range(5):
        QApplication.processEvents()
        qtbot.wait(20)


def _fifteen_photo_cluster(window, cluster_of) -> int:
    s = window.session
    red, sky = cluster_of(s, "red"), cluster_of(s, "sky")
    window.editor.move([p for p in s.images if p.startswith("sky/")][:7], red)
    assert len(s.members(red)) == 15 and sky in s.names
    window._reselect_cluster(red)
    return red


def test_a_fifteen_photo_cluster_shows_every_row_with_a_scrollbar(sorted_window, qtbot, cluster_of):
    w = sorted_window
    w.resize(1000, 700)  # 4 columns: 4 rows, taller than the view
    _fifteen_photo_cluster(w, cluster_of)
    _settle(qtbot, w)
    grid = w.grid
    assert w.images.rowCount() == 15
    bar = grid.verticalScrollBar()
    rows = {grid.visualRect(grid.model().index(r, 0)).top() for r in range(15)}
    assert len(rows) == 4
    columns = sum(1 for r in range(15) if grid.visualRect(grid.model().index(r, 0)).top() == min(rows))
    assert columns == grid.viewport().width() // grid.gridSize().width()  # no column left empty
    assert bar.isVisible() and bar.maximum() > 0
    assert not grid.horizontalScrollBar().isVisible()
    grid.scrollToBottom()
    _settle(qtbot, w)
    last = grid.visualRect(grid.model().index(14, 0))
    assert grid.viewport().rect().contains(last.adjusted(0, 0, 0, -8)), (last, grid.viewport().rect())


def test_no_sideways_scrollbar_at_any_width(sorted_window, qtbot, cluster_of):
    w = sorted_window
    _fifteen_photo_cluster(w, cluster_of)
    for width, height in ((800, 560), (917, 560), (1013, 700), (1280, 800)):
        w.resize(width, height)
        _settle(qtbot, w)
        assert not w.grid.horizontalScrollBar().isVisible(), width
        cells = [w.grid.visualRect(w.grid.model().index(r, 0)) for r in range(15)]
        assert max(c.right() for c in cells) <= w.grid.viewport().width(), width
        top = min(c.top() for c in cells)
        assert sum(c.top() == top for c in cells) == w.grid.viewport().width() // w.grid.gridSize().width(), width


def _top_row(grid) -> int:
    return grid.indexAt(QPoint(grid.gridSize().width() // 2, 4)).row()


def test_zoom_and_resize_keep_the_scroll_anchor(sorted_window, qtbot, cluster_of):
    w = sorted_window
    w.resize(900, 560)
    w.show_all()
    w.size_slider.setValue(120)
    _settle(qtbot, w)
    grid = w.grid
    grid.scrollTo(grid.model().index(10, 0), grid.ScrollHint.PositionAtTop)
    _settle(qtbot, w)
    anchor = _top_row(grid)
    assert anchor > 0
    w.size_slider.setValue(240)  # the same pixel offset would now show a much later row
    _settle(qtbot, w)
    per_row = max(1, grid.viewport().width() // grid.gridSize().width())
    assert abs(_top_row(grid) - anchor) < per_row, (anchor, _top_row(grid))
    anchor = _top_row(grid)
    w.resize(1100, 700)
    _settle(qtbot, w)
    per_row = max(1, grid.viewport().width() // grid.gridSize().width())
    assert abs(_top_row(grid) - anchor) < per_row, (anchor, _top_row(grid))
