"""What the CNN sees: the feature-map dialog pages through a layer's maps and shows the heat-map, with the real weights."""

from __future__ import annotations

import numpy as np
import pytest

from engine.weights import resolve_weights
from gui.feature_maps import FeatureMapsDialog, gray_image


@pytest.fixture
def photo(tmp_path, photo_maker):
    return photo_maker(tmp_path / "tiny.jpg", "stripes", size=(48, 40))


@pytest.fixture
def dialog(app, qtbot, weights_path, photo):
    # in_process: the model runs in the test's own process, shared with the engine tests (built once)
    dlg = FeatureMapsDialog(resolve_weights(str(weights_path)), photo, in_process=True)
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.pageShown, timeout=60_000) as shown:
        dlg.show()
    assert shown.args == ["block3_conv1", 1]
    yield dlg
    qtbot.waitUntil(lambda: not dlg.busy(), timeout=30_000)


def _settle(dialog, qtbot):
    qtbot.waitUntil(lambda: not dialog.busy() and dialog.shown_key() == dialog._wanted, timeout=30_000)


def test_a_page_of_maps_for_a_tiny_photo(dialog, qtbot):
    grid = dialog.grid
    assert len(grid.images) == 64 and grid.images[0].width() == 56  # block3_conv1: 256 maps of 56 x 56
    assert grid.labels == list(range(64))
    assert dialog.pages_label.text() == "of 4" and "maps 1–64 of 256" in dialog.status.text()
    qtbot.waitUntil(lambda: dialog.overlay is not None, timeout=30_000)  # the heat-map follows the first page
    assert not dialog.photo_label.pixmap().isNull()
    assert dialog.overlay.photo.shape == (40, 48, 3) and dialog.overlay.heat.shape == (40, 48)


def test_layers_pages_order_and_zoom(dialog, qtbot):
    dialog.set_layer("block5_conv3")
    _settle(dialog, qtbot)
    assert dialog.pages_label.text() == "of 8" and dialog.grid.images[0].width() == 14
    dialog.set_page(8)
    _settle(dialog, qtbot)
    assert dialog.grid.labels == list(range(448, 512)) and not dialog.next_button.isEnabled()
    dialog.order_combo.setCurrentIndex(1)  # strongest first: back to page 1, sorted by mean activation
    _settle(dialog, qtbot)
    assert dialog.page_spin.value() == 1
    assert dialog.grid.strength == sorted(dialog.grid.strength, reverse=True)
    dialog.scaling_combo.setCurrentIndex(1)
    _settle(dialog, qtbot)
    assert dialog.page.layer == "block5_conv3"
    before = dialog.grid.minimumHeight()
    dialog.set_zoom(160)
    assert dialog.grid.cell == 160 and dialog.grid.minimumHeight() > before
    dialog.grab()  # paints the maps at the new size


def test_overlay_toggle_and_a_broken_photo(dialog, qtbot, tmp_path):
    qtbot.waitUntil(lambda: dialog.overlay is not None and not dialog.busy(), timeout=30_000)
    with_heat = dialog.photo_label.pixmap().toImage()
    dialog.set_overlay(False)
    assert dialog.photo_label.pixmap().toImage() != with_heat and not dialog.legend.isVisible()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really")
    dialog.set_photo(broken)
    qtbot.waitUntil(lambda: "Cannot show" in dialog.status.text(), timeout=30_000)
    assert not dialog.grid.images
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=30_000)
    assert "No heat-map" in dialog.photo_label.text()


def test_gray_image_owns_its_pixels():
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    image = gray_image(pixels)
    del pixels
    assert (image.width(), image.height()) == (4, 3) and image.pixelColor(3, 2).red() == 11
