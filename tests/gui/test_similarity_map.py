"""The similarity map: dots for photos, hover shows the photo, click/lasso select, edits land on the undo stack."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from engine.cluster import UNSORTED, cluster_features
from gui.similarity_map import SimilarityMapDock, SimilarityMapView, normalise, points_in_polygon


def send(
    view,
    kind,
    pos,
    buttons=Qt.MouseButton.NoButton,
    button=Qt.MouseButton.NoButton,
    modifiers=Qt.KeyboardModifier.NoModifier,
):
    event = QMouseEvent(kind, QPointF(pos), view.mapToGlobal(QPointF(pos)), button, buttons, modifiers)
    QApplication.sendEvent(view, event)


def lasso(view, polygon):
    left = Qt.MouseButton.LeftButton
    send(view, QEvent.Type.MouseButtonPress, polygon[0], left, left)
    for p in polygon[1:]:
        send(view, QEvent.Type.MouseMove, p, left)
    send(view, QEvent.Type.MouseButtonRelease, polygon[-1], Qt.MouseButton.NoButton, left)


def around(view, paths, pad=12):
    """A lasso polygon (a box) around the dots of ``paths``."""
    pts = np.array([[view.screen_pos(p).x(), view.screen_pos(p).y()] for p in paths])
    (x0, y0), (x1, y1) = pts.min(0) - pad, pts.max(0) + pad
    return [QPointF(x0, y0), QPointF(x1, y0), QPointF(x1, y1), QPointF(x0, y1), QPointF(x0, y0 + 1)]


@pytest.fixture
def dock(sorted_window, qtbot):
    w = sorted_window
    dock = SimilarityMapDock(w.editor, w.loader, w, in_process=True)
    dock.resize(700, 560)
    dock.show()
    with qtbot.waitSignal(dock.layoutReady, timeout=30_000):
        dock.set_session(w.session)
    yield dock
    dock.set_session(None)
    qtbot.waitUntil(lambda: not dock.busy(), timeout=30_000)


def test_every_photo_is_a_dot_coloured_by_cluster(dock, sorted_window):
    s = sorted_window.session
    view = dock.view
    assert view.paths == s.images and view.xy.shape == (24, 2)
    assert list(view.labels) == [s.labels[p] for p in s.images]
    assert "24 photos" in dock.status.text()
    # the three kinds of photo end up in three separate places
    groups = {
        k: view.xy[[i for i, p in enumerate(view.paths) if p.startswith(k)]].mean(0) for k in ("red", "sky", "stripes")
    }
    spread = max(np.linalg.norm(view.xy[i] - groups[view.paths[i].split("/")[0]]) for i in range(24))
    gaps = min(
        np.linalg.norm(groups[a] - groups[b]) for a, b in (("red", "sky"), ("sky", "stripes"), ("red", "stripes"))
    )
    assert gaps > spread


def test_hover_shows_the_photo_and_click_selects(dock, sorted_window, qtbot):
    view, path = dock.view, sorted_window.session.images[5]
    send(view, QEvent.Type.MouseMove, view.screen_pos(path))
    assert view.hover == 5
    qtbot.waitUntil(dock.popup.isVisible, timeout=3000)
    assert dock.popup.path == path and path.rsplit("/", 1)[-1] in dock.popup.text.text()
    with qtbot.waitSignal(dock.imagesSelected) as picked:
        send(
            view,
            QEvent.Type.MouseButtonPress,
            view.screen_pos(path),
            Qt.MouseButton.LeftButton,
            Qt.MouseButton.LeftButton,
        )
        send(
            view,
            QEvent.Type.MouseButtonRelease,
            view.screen_pos(path),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
        )
    assert picked.args == [[path]]
    send(view, QEvent.Type.MouseMove, QPointF(-50, -50))
    assert view.hover == -1


def test_select_from_the_grid_does_not_echo(dock, sorted_window, qtbot):
    chosen = sorted_window.session.images[:3]
    with qtbot.assertNotEmitted(dock.imagesSelected):
        dock.select([*chosen, "not/in/the/map.jpg"])
    assert dock.selected_paths() == chosen and dock.new_button.isEnabled()


def test_lasso_then_new_cluster_goes_on_the_undo_stack(dock, sorted_window, cluster_of, qtbot):
    w, s = sorted_window, sorted_window.session
    reds = [p for p in s.images if p.startswith("red/")]
    with qtbot.waitSignal(dock.imagesSelected) as picked:
        lasso(dock.view, around(dock.view, reds))
    assert sorted(picked.args[0]) == sorted(reds)
    before = {p: s.labels[p] for p in reds}
    cid = dock.new_cluster_from_selection()
    assert w.editor.stack.count() == 1 and w.editor.stack.undoText().startswith("New cluster")
    assert all(s.labels[p] == cid for p in reds)
    assert all(dock.view.labels[dock.view.paths.index(p)] == cid for p in reds)  # recoloured at once
    w.undo_action.trigger()
    assert {p: s.labels[p] for p in reds} == before
    assert all(dock.view.labels[dock.view.paths.index(p)] == before[p] for p in reds)


def test_move_selection_to_a_cluster_is_undoable(dock, sorted_window, cluster_of):
    w, s = sorted_window, sorted_window.session
    sky = cluster_of(s, "sky")
    reds = [p for p in s.images if p.startswith("red/")][:2]
    dock.select(reds)
    dock.move_selection_to(sky)
    assert all(s.labels[p] == sky and p in s.pinned for p in reds)
    assert w.editor.stack.count() == 1
    dock.move_selection_to(UNSORTED)
    assert w.editor.stack.count() == 2 and all(s.labels[p] == UNSORTED for p in reds)


def test_new_features_lay_the_map_out_again(dock, sorted_window, qtbot):
    s = sorted_window.session
    features = s.features[::-1].copy()
    dock.select(s.images[:2])
    with qtbot.waitSignal(dock.layoutReady, timeout=30_000):
        s.set_analysis(s.images, features)
        sorted_window.editor.apply_clustering(cluster_features(features, k=2), {"clusters": 2, "method": "kmeans"})
    assert dock._features is features
    assert dock.selected_paths() == s.images[:2]  # the selection survives the new layout


def test_points_in_polygon():
    pts = np.array([[1, 1], [3, 1], [5, 5], [2, 4], [0.5, 3.5]])
    square = np.array([[0, 0], [4, 0], [4, 4], [0, 4]])
    assert points_in_polygon(pts, square).tolist() == [True, True, False, False, True]
    ell = np.array([[0, 0], [4, 0], [4, 2], [2, 2], [2, 5], [0, 5]])  # concave
    assert points_in_polygon(pts, ell).tolist() == [True, True, False, False, True]
    assert not points_in_polygon(pts, square[:2]).any()
    assert normalise(np.array([[0, 0], [4, 2]])).tolist() == [[0, 0.25], [1, 0.75]]


def test_ten_thousand_dots_render_hover_and_lasso(app, qtbot):
    """10,000 dots are drawn into the cache once; hovering names the dot under the mouse; a lasso selects.
    How fast (render, hover, repaint) is measured by bench/see_why.py (section 4), not asserted here."""
    rng = np.random.default_rng(0)
    view = SimilarityMapView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    n = 10_000
    view.set_points([f"p{i}.jpg" for i in range(n)], rng.normal(size=(n, 2)), rng.integers(-1, 12, n))
    view.grab()  # paints: renders the dots into the cache
    assert view.last_render_ms > 0  # the dots were rendered into the cache
    for x in range(100, 800, 7):
        send(view, QEvent.Type.MouseMove, QPointF(x, 350))
    view.grab()
    lasso(view, [QPointF(300, 200), QPointF(600, 200), QPointF(600, 500), QPointF(300, 500), QPointF(300, 201)])
    assert 0 < len(view.selected_paths()) < n


def test_layout_runs_in_the_see_why_child_process(sorted_window, qtbot):
    """The real path: PCA + t-SNE in a spawned process (no GIL-holding work in the window's process)."""
    w = sorted_window
    dock = SimilarityMapDock(w.editor, w.loader, w)
    dock.set_session(w.session)
    assert not dock.busy()  # hidden: nothing is laid out (a minute of t-SNE at 100,000 photos)
    with qtbot.waitSignal(dock.layoutReady, timeout=90_000):
        dock.show()
    assert dock.view.xy.shape == (24, 2) and "tsne" in dock.status.text()
    qtbot.waitUntil(lambda: not dock.busy(), timeout=30_000)
