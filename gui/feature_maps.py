"""What the CNN sees: a photo's feature maps, layer by layer, and a heat-map of where the deepest layer fires.

``FeatureMapsDialog(weights, path)`` shows one VGG16 conv layer at a time as a
grid of its maps (64 a page; a layer has 64 to 512), each stretched for
contrast on its own, in channel order or strongest first, with a zoom slider.
Beside it: the photo, optionally with the heat-map of ``block5_conv3`` (the
layer the analysis describes photos with) blended over it.

The maps come from ``see_why_jobs`` (a child process keeps the model and the
photo's activations, so paging and switching layers are quick); this module
only turns the arrays it gets back into images and paints them.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QRect, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QLinearGradient, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from engine import activations
from engine.weights import WeightsSource

from .markup import escape
from .see_why_jobs import MAPS_PER_PAGE, HeatOverlay, MapsPage, heat_job, maps_job
from .workers import GeneratorWorker, start_job

ZOOM = (24, 224, 72)  # cell size slider: min, max, default (px)
GAP = 4
SCALINGS = (("Each map: min – max", "minmax"), ("Each map: 1st – 99th percentile", "percentile"))
ORDERS = (("Channel order", "channel"), ("Strongest first", "strength"))


def gray_image(pixels: np.ndarray) -> QImage:
    """An H x W uint8 array as a QImage that owns its pixels."""
    h, w = pixels.shape
    return QImage(np.ascontiguousarray(pixels).data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def rgb_image(pixels: np.ndarray) -> QImage:
    h, w, _ = pixels.shape
    return QImage(np.ascontiguousarray(pixels).data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class MapGrid(QWidget):
    """Paints a page of maps in a grid of ``cell`` px squares (nearest-neighbour: every activation stays visible)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.cell = ZOOM[2]
        self.images: list[QImage] = []
        self.labels: list[int] = []
        self.strength: list[float] = []
        self._shrunk: dict[tuple[int, int], QImage] = {}
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def set_page(self, page: MapsPage) -> None:
        self.images = [gray_image(m) for m in page.maps]
        self.labels = [int(i) for i in page.index]
        self.strength = [float(s) for s in page.strength]
        self._relayout()

    def clear(self) -> None:
        self.images, self.labels, self.strength = [], [], []
        self._relayout()

    def set_cell(self, cell: int) -> None:
        self.cell = cell
        self._relayout()

    def columns(self) -> int:
        parent = self.parentWidget()
        width = parent.width() if parent is not None else self.width()
        return max(1, (width - GAP) // (self.cell + GAP))

    def _relayout(self) -> None:
        self._shrunk = {}
        rows = math.ceil(len(self.images) / self.columns()) if self.images else 0
        self.setMinimumSize(self.cell + 2 * GAP, rows * (self.cell + GAP) + GAP)
        self.resize(max(self.width(), self.minimumWidth()), self.minimumHeight())
        self.update()

    def cell_rect(self, i: int) -> QRect:
        cols = self.columns()
        row, col = divmod(i, cols)
        return QRect(GAP + col * (self.cell + GAP), GAP + row * (self.cell + GAP), self.cell, self.cell)

    def index_at(self, pos: QPoint) -> int:
        for i in range(len(self.images)):
            if self.cell_rect(i).contains(pos):
                return i
        return -1

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        # Enlarged maps stay blocky (every activation visible); shrunk ones are filtered, not aliased.
        shrinking = bool(self.images) and self.cell < self.images[0].width()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, shrinking)
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, self.font().pointSizeF() - 2))
        painter.setFont(small)
        visible = event.rect()
        for i, image in enumerate(self.images):
            rect = self.cell_rect(i)
            if not rect.intersects(visible):
                continue
            if shrinking:  # an area-averaged copy: thin lines in early layers stay visible when small
                key = (i, self.cell)
                if key not in self._shrunk:
                    self._shrunk[key] = image.scaled(
                        self.cell,
                        self.cell,
                        Qt.AspectRatioMode.IgnoreAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                image = self._shrunk[key]
            painter.drawImage(rect, image)
            if self.cell >= 48:
                label = str(self.labels[i])
                box = QRect(rect.left(), rect.bottom() - 13, painter.fontMetrics().horizontalAdvance(label) + 6, 14)
                painter.fillRect(box, QColor(0, 0, 0, 150))
                painter.setPen(QColor(255, 255, 255, 220))
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
        painter.end()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            rows = math.ceil(len(self.images) / self.columns()) if self.images else 0
            self.setMinimumHeight(rows * (self.cell + GAP) + GAP)

    def mouseMoveEvent(self, event) -> None:
        i = self.index_at(event.position().toPoint())
        if i >= 0:
            QToolTip.showText(
                event.globalPosition().toPoint(),
                f"Channel {self.labels[i]} · mean activation {self.strength[i]:.3g}",
                self,
            )
        else:
            QToolTip.hideText()


class FeatureMapsDialog(QDialog):
    """The maps of one photo; ``set_photo`` switches photos. ``pageShown(layer, page)`` follows every page drawn."""

    pageShown = Signal(str, int)
    overlayShown = Signal(str)
    page_spin: QSpinBox  # made in __init__ after the buttons that read it

    def __init__(self, weights: WeightsSource, path: str | os.PathLike, parent=None, in_process: bool = False):
        super().__init__(parent)
        self.weights = weights
        self.in_process = in_process
        self.path = ""
        self.page: MapsPage | None = None
        self.overlay: HeatOverlay | None = None
        self._worker: GeneratorWorker | None = None
        self._wanted: tuple | None = None
        self._shown: tuple | None = None
        self._heat_for: str | None = None
        self._started = 0.0
        self.setWindowTitle("What the Network Sees")
        self.resize(1120, 760)
        self._build()
        self.set_photo(path)

    # ---- building --------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Layer"))
        self.layer_combo = QComboBox()
        for spec in activations.LAYERS:
            self.layer_combo.addItem(spec.label, spec.name)
        self.layer_combo.setToolTip("Early layers respond to edges and colours, deep ones to parts and whole things")
        self.layer_combo.setCurrentIndex(activations.LAYER_NAMES.index("block3_conv1"))
        self.layer_combo.currentIndexChanged.connect(self._layer_changed)
        bar.addWidget(self.layer_combo)
        self.order_combo = QComboBox()
        for label, key in ORDERS:
            self.order_combo.addItem(label, key)
        self.order_combo.currentIndexChanged.connect(self._layer_changed)
        bar.addWidget(self.order_combo)
        self.scaling_combo = QComboBox()
        for label, key in SCALINGS:
            self.scaling_combo.addItem(label, key)
        self.scaling_combo.setToolTip(
            "How each map is stretched to black..white: by its own range, or ignoring "
            "its 1 % brightest and darkest pixels"
        )
        self.scaling_combo.currentIndexChanged.connect(self.request)
        bar.addWidget(self.scaling_combo)
        bar.addSpacing(12)
        self.prev_button = QToolButton(text="◀")
        self.prev_button.setAutoRaise(True)
        self.prev_button.clicked.connect(lambda: self.set_page(self.page_spin.value() - 1))
        bar.addWidget(self.prev_button)
        bar.addWidget(QLabel("Page"))
        self.page_spin = QSpinBox()
        self.page_spin.setRange(1, 1)
        self.page_spin.valueChanged.connect(self.request)
        bar.addWidget(self.page_spin)
        self.pages_label = QLabel("of 1")
        bar.addWidget(self.pages_label)
        self.next_button = QToolButton(text="▶")
        self.next_button.setAutoRaise(True)
        self.next_button.clicked.connect(lambda: self.set_page(self.page_spin.value() + 1))
        bar.addWidget(self.next_button)
        bar.addStretch(1)
        bar.addWidget(QLabel("Zoom"))
        self.zoom_slider = QSlider(Qt.Orientation.Horizontal)
        self.zoom_slider.setRange(ZOOM[0], ZOOM[1])
        self.zoom_slider.setValue(ZOOM[2])
        self.zoom_slider.setFixedWidth(150)
        self.zoom_slider.valueChanged.connect(self.set_zoom)
        bar.addWidget(self.zoom_slider)
        layout.addLayout(bar)

        body = QHBoxLayout()
        side = QVBoxLayout()
        self.photo_label = QLabel()
        self.photo_label.setFixedSize(300, 300)
        self.photo_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.photo_label.setStyleSheet("background: rgba(0,0,0,0.06); border-radius: 6px;")
        side.addWidget(self.photo_label)
        self.overlay_box = QCheckBox("Heat-map: where the deepest layer fires")
        self.overlay_box.setChecked(True)
        self.overlay_box.setToolTip(
            "Mean activation of block5_conv3 (the layer the photos are grouped by), stretched over the photo"
        )
        self.overlay_box.toggled.connect(self._show_photo)
        side.addWidget(self.overlay_box)
        self.legend = _Legend()
        side.addWidget(self.legend)
        self.name_label = QLabel()
        self.name_label.setWordWrap(True)
        self.name_label.setObjectName("emptyHint")
        side.addWidget(self.name_label)
        side.addStretch(1)
        body.addLayout(side)
        self.grid = MapGrid()
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(self.grid)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body.addWidget(self.scroll_area, 1)
        layout.addLayout(body, 1)
        self.status = QLabel("Loading…")
        self.status.setObjectName("emptyHint")
        layout.addWidget(self.status)

    # ---- public API ----------------------------------------------------------------------
    def set_photo(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self.overlay = None
        self._heat_for = None
        self.name_label.setText(Path(self.path).name)
        self.setWindowTitle(f"What the Network Sees — {Path(self.path).name}")
        self.photo_label.clear()
        self.request()

    def set_layer(self, name: str) -> None:
        self.layer_combo.setCurrentIndex(activations.LAYER_NAMES.index(name))

    def set_page(self, page: int) -> None:
        self.page_spin.setValue(page)

    def set_zoom(self, cell: int) -> None:
        if self.zoom_slider.value() != cell:
            self.zoom_slider.setValue(cell)
            return
        self.grid.set_cell(cell)

    def set_overlay(self, on: bool) -> None:
        self.overlay_box.setChecked(on)

    def layer(self) -> str:
        return self.layer_combo.currentData()

    def pages(self) -> int:
        return math.ceil(activations.layer(self.layer()).channels / MAPS_PER_PAGE)

    # ---- requests ------------------------------------------------------------------------
    def _layer_changed(self) -> None:
        self.page_spin.blockSignals(True)
        self.page_spin.setRange(1, self.pages())
        self.page_spin.setValue(1)
        self.page_spin.blockSignals(False)
        self.request()

    def _wanted_key(self) -> tuple:
        first = (self.page_spin.value() - 1) * MAPS_PER_PAGE
        return (
            self.path,
            self.layer(),
            first,
            MAPS_PER_PAGE,
            self.scaling_combo.currentData(),
            self.order_combo.currentData(),
        )

    def request(self) -> None:
        """Ask for what the controls show now; one request runs at a time and only the latest waiting one follows."""
        pages = self.pages()
        self.page_spin.setRange(1, pages)
        self.pages_label.setText(f"of {pages}")
        self.prev_button.setEnabled(self.page_spin.value() > 1)
        self.next_button.setEnabled(self.page_spin.value() < pages)
        self._wanted = self._wanted_key()
        self._pump()

    def _pump(self) -> None:
        if self._worker is not None:
            return
        self._started = time.perf_counter()
        if self._wanted is not None and self._wanted != self._shown:
            key = self._wanted
            path, layer, first, count, scaling, order = key
            self.status.setText(f"Computing {layer}…")
            self._worker = start_job(
                maps_job,
                self.weights,
                path,
                layer,
                first,
                count,
                scaling,
                order,
                in_process=self.in_process,
                done=lambda page: self._page_ready(page, key),
                failed=lambda exc: self._failed(exc, key),
                finished=self._worker_finished,
            )
        elif self.path and self._heat_for != self.path:
            path = self._heat_for = self.path
            self._worker = start_job(
                heat_job,
                self.weights,
                path,
                in_process=self.in_process,
                done=self._heat_ready,
                failed=lambda exc: self._failed(exc, path),
                finished=self._worker_finished,
            )

    def _page_ready(self, page: MapsPage, key: tuple) -> None:
        self._shown = key
        self.page = page
        self.grid.set_page(page)
        self.scroll_area.verticalScrollBar().setValue(0)
        spec = activations.layer(page.layer)
        last = page.first + len(page.maps)
        order = " (strongest first)" if page.order == "strength" else ""
        self.status.setText(
            f"{spec.name}: maps {page.first + 1}–{last} of {page.channels}{order}, "
            f"{spec.size}×{spec.size} each · {time.perf_counter() - self._started:.2f} s"
        )
        self.pageShown.emit(page.layer, page.first // MAPS_PER_PAGE + 1)

    def _heat_ready(self, overlay: HeatOverlay) -> None:
        if overlay.path != self.path:
            return
        self.overlay = overlay
        self._show_photo()
        self.overlayShown.emit(overlay.path)

    def _show_photo(self) -> None:
        self.legend.setVisible(self.overlay_box.isChecked())
        if self.overlay is None:
            return
        pixels = self.overlay.blended if self.overlay_box.isChecked() else self.overlay.photo
        pixmap = QPixmap.fromImage(rgb_image(pixels))
        self.photo_label.setPixmap(
            pixmap.scaled(
                self.photo_label.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )

    def _failed(self, exc: BaseException, key: tuple | str) -> None:
        text = escape(str(exc) or type(exc).__name__)
        if isinstance(key, tuple):  # a page of maps: do not ask for the same page again in a loop
            self._shown = key
            self.page = None
            self.grid.clear()
            self.status.setText(f"<span style='color:#c0392b'>Cannot show the maps: {text}</span>")
        elif key == self.path:  # the heat-map (the maps may still be fine)
            self.photo_label.setText(f"No heat-map: {text}")

    def _worker_finished(self) -> None:
        self._worker = None
        self._pump()

    def shown_key(self) -> tuple | None:
        return self._shown

    def busy(self) -> bool:
        return self._worker is not None

    def done(self, result: int) -> None:
        if self._worker is not None:
            self._worker.cancel()
        super().done(result)


class _Legend(QWidget):
    """The heat-map's colour ramp, low to high."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFixedHeight(30)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        bar = QRect(0, 2, self.width() - 1, 10)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        ramp = activations.colorize(np.linspace(0, 1, 9))
        for i, (r, g, b) in enumerate(ramp):
            gradient.setColorAt(i / 8, QColor(int(r), int(g), int(b)))
        painter.fillRect(bar, gradient)
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        text = QRect(0, 13, self.width(), 16)
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft, "weak")
        painter.drawText(text, Qt.AlignmentFlag.AlignRight, "strong")
        painter.end()
