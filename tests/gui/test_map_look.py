"""The similarity map's look: clusters in clearly different colours, a legend that covers no dot, and a dock
that opens without pushing the window past the screen."""

from __future__ import annotations

import itertools

import numpy as np
from PySide6.QtWidgets import QApplication

from engine.cluster import UNSORTED
from gui.similarity_map import PALETTE, UNSORTED_COLOR, SimilarityMapView, cluster_color


def _lab(colour) -> np.ndarray:
    c = np.array([colour.redF(), colour.greenF(), colour.blueF()])
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ c
    xyz = xyz / [0.95047, 1.0, 1.08883]
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_cluster_colours_are_perceptually_far_apart():
    colours = [cluster_color(c) for c in range(len(PALETTE))]
    assert len({c.name() for c in colours}) == len(PALETTE) >= 40

    def closest(group):
        return min(np.linalg.norm(_lab(a) - _lab(b)) for a, b in itertools.combinations(group, 2))

    assert closest(colours[:20]) >= 25  # CIE76 delta E: ~2.3 is just noticeable; Tableau's two blues were ~12 apart
    assert closest(colours) >= 20
    assert min(np.linalg.norm(_lab(c) - _lab(UNSORTED_COLOR)) for c in colours) >= 20
    assert cluster_color(UNSORTED) == UNSORTED_COLOR


def test_legend_covers_no_dot(app, qtbot):
    view = SimilarityMapView()
    qtbot.addWidget(view)
    view.resize(520, 400)
    rng = np.random.default_rng(1)
    xy = rng.random((400, 2))
    xy[:4] = [[0, 0], [0, 1], [1, 0], [1, 1]]  # the corners, where a legend sits
    labels = rng.integers(-1, 12, 400)
    view.set_points([f"p{i}.jpg" for i in range(400)], xy, labels, {i: f"A long cluster name {i}" for i in range(12)})
    view.show()
    QApplication.processEvents()
    legend = view.legend_rect()
    assert not legend.isEmpty()
    screen = view.to_screen(view.xy)
    inside = (
        (screen[:, 0] >= legend.left() - 3)
        & (screen[:, 0] <= legend.right() + 3)
        & (screen[:, 1] >= legend.top() - 3)
        & (screen[:, 1] <= legend.bottom() + 3)
    )
    assert not inside.any()
    assert (screen[:, 0] <= view.width()).all() and (screen[:, 1] <= view.height()).all()
    view.grab()  # paints


def test_opening_the_map_does_not_widen_the_window(sorted_window, qtbot):
    w = sorted_window
    for size in ((1280, 800), (800, 560)):
        w.map_dock.hide()
        w.resize(*size)
        QApplication.processEvents()
        w.map_action.trigger()
        for _ in range(5):
            QApplication.processEvents()
            qtbot.wait(20)
        assert w.map_dock.isVisible()
        assert w.width() <= size[0], (size, w.width())  # the dock takes room from the grid, not from the screen
        button = w.map_dock.move_button
        assert button.isVisible() and button.visibleRegion().boundingRect().width() == button.width()
