"""The similarity map: every photo as a dot, near dots looking alike, coloured by cluster.

``SimilarityMapView`` paints up to 100,000 dots fluidly: the dots are drawn
once into a cached image (``drawPoints`` batched by colour) whenever the data,
the colours, the zoom or the size change; a repaint only blits that image and
draws the selection, the hovered dot and the lasso on top. Hover and click
find the nearest dot with a k-d tree (scipy's ``cKDTree``).

Mouse: hover shows the photo; click selects one (Shift/Ctrl adds); drag draws
a lasso (freehand polygon) that selects what it encloses; the wheel zooms
about the cursor; right- or middle-drag pans; double-click opens the photo;
right-click offers to move the selection to a cluster or make a new one.

``SimilarityMapDock(editor, loader)`` wraps the view with its controls, lays
the photos out in a worker (``see_why_jobs.layout_job``: PCA + t-SNE in a
child process), follows the Session (recolours when photos move, lays out
again when the features change) and sends every edit through the window's
``Editor`` so it lands on the same undo stack. Public API: ``set_session``,
``select(paths)``, signals ``imagesSelected(list)`` and ``imageActivated(str)``.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QCursor, QImage, QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from scipy.spatial import cKDTree

from engine import embedding
from engine.cluster import UNSORTED
from engine.session import Change, Session

from . import theme
from .markup import escape
from .see_why_jobs import layout_job
from .thumbnails import TIERS, ThumbnailLoader
from .undo import Editor
from .workers import GeneratorWorker, start_job

# Cluster colours, perceptually spaced: Tableau 10 (less its grey), then greedy farthest-point picks in CIELAB
# (lightness 40-80, chroma 30-72, away from the Unsorted grey). The first 20 are at least 30 apart (CIE76 delta
# E; about 2.3 is the least a person can see), all 40 at least 22, so no two clusters look alike. Unsorted is grey.
PALETTE = [
    QColor(c)
    for c in (
        "#4e79a7",
        "#f28e2b",
        "#e15759",
        "#76b7b2",
        "#59a14f",
        "#edc948",
        "#b07aa1",
        "#ff9da7",
        "#9c755f",
        "#6054cc",
        "#b40c84",
        "#f090fc",
        "#786c00",
        "#c0c084",
        "#00d8a8",
        "#0090fc",
        "#006c54",
        "#9c480c",
        "#9cc030",
        "#00ccfc",
        "#b4b4fc",
        "#fc609c",
        "#fcb484",
        "#9c54a8",
        "#9c4854",
        "#24cc6c",
        "#546c30",
        "#fca8e4",
        "#cc0054",
        "#a890fc",
        "#4860b4",
        "#e46030",
        "#00d8d8",
        "#84c090",
        "#608400",
        "#0090a8",
        "#c0903c",
        "#3ca8f0",
        "#007800",
        "#0ca890",
    )
]
UNSORTED_COLOR = QColor("#a0a4ab")
MARGIN = 24
HOVER_PX = 10
DRAG_PX = 4
POPUP_SIDE = 160


def cluster_color(cluster: int) -> QColor:
    return UNSORTED_COLOR if cluster == UNSORTED else PALETTE[cluster % len(PALETTE)]


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Boolean mask of the ``points`` (n x 2) inside ``polygon`` (m x 2, closed implicitly): even-odd ray casting."""
    inside = np.zeros(len(points), dtype=bool)
    if len(polygon) < 3 or not len(points):
        return inside
    x, y = points[:, 0], points[:, 1]
    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    box = (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1])
    if not box.any():
        return inside
    px, py = x[box], y[box]
    hit = np.zeros(len(px), dtype=bool)
    xj, yj = polygon[-1]
    for xi, yi in polygon:
        crosses = (yi > py) != (yj > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = (xj - xi) * (py - yi) / (yj - yi) + xi
        hit ^= crosses & (px < at)
        xj, yj = xi, yi
    inside[np.flatnonzero(box)] = hit
    return inside


def normalise(xy: np.ndarray) -> np.ndarray:
    """Layout coordinates -> [0, 1] on the longer side, aspect kept, centred."""
    xy = np.asarray(xy, dtype=np.float64)
    if not len(xy):
        return xy.reshape(0, 2)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = float(max(hi - lo)) or 1.0
    return (xy - lo) / span + (1 - (hi - lo) / span) / 2


class _HoverPopup(QFrame):
    """A tooltip-like window: the hovered photo's thumbnail, name and cluster."""

    def __init__(self, parent=None):
        super().__init__(parent, Qt.WindowType.ToolTip)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        self.image = QLabel()
        self.image.setFixedSize(POPUP_SIDE, POPUP_SIDE)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.image)
        self.text = QLabel()
        self.text.setMaximumWidth(POPUP_SIDE)
        self.text.setWordWrap(True)
        layout.addWidget(self.text)
        self.path: str | None = None

    def show_photo(self, path: str, text: str, image: QImage | None, at: QPoint) -> None:
        self.path = path
        self.text.setText(text)
        self.set_image(image)
        self.adjustSize()
        self.move(at + QPoint(16, 16))
        self.show()

    def set_image(self, image: QImage | None) -> None:
        if image is None or image.isNull():
            self.image.setText("…")
            return
        from PySide6.QtGui import QPixmap

        self.image.setPixmap(
            QPixmap.fromImage(image).scaled(
                POPUP_SIDE, POPUP_SIDE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )


class SimilarityMapView(QWidget):
    """The dots. Knows paths, positions and cluster labels; nothing about Sessions or editing."""

    selectionChanged = Signal(list)  # paths, after a click or a lasso (not after ``select``)
    hovered = Signal(str)  # a path, or "" when the mouse leaves every dot
    activated = Signal(str)  # double-click on a dot
    contextRequested = Signal(QPoint)  # global position; right-click without dragging

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setMinimumSize(240, 200)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.paths: list[str] = []
        self.xy = np.zeros((0, 2))  # normalised to [0, 1]
        self.labels = np.zeros(0, dtype=int)
        self.names: dict[int, str] = {}
        self.selected = np.zeros(0, dtype=bool)
        self.hover = -1
        self.point_size = 5.0
        self.zoom = 1.0
        self.centre = QPointF(0.5, 0.5)  # data point at the middle of the widget
        self._row_of: dict[str, int] = {}
        self._tree: cKDTree | None = None
        self._cache: QImage | None = None
        self._legend_cache: tuple[list[tuple[int, str]], QRectF] | None = None
        self._lasso: list[QPointF] = []
        self._press: QPointF | None = None
        self._pan_from: tuple[QPointF, QPointF] | None = None
        self._dragged = False
        self.last_render_ms = 0.0

    # ---- data ----------------------------------------------------------------------------
    def set_points(self, paths: list[str], xy: np.ndarray, labels: np.ndarray, names: dict[int, str] | None = None):
        self.paths = list(paths)
        self._row_of = {p: i for i, p in enumerate(self.paths)}
        self.xy = normalise(xy)
        self.labels = np.asarray(labels, dtype=int)
        self.names = dict(names or {})
        self.selected = np.zeros(len(self.paths), dtype=bool)
        self.hover = -1
        self.point_size = float(np.clip(12 - 2 * np.log10(max(len(self.paths), 1)), 3, 8))  # fewer dots: bigger
        self._tree = cKDTree(self.xy) if len(self.xy) else None
        self.reset_view()

    def set_labels(self, labels: np.ndarray, names: dict[int, str] | None = None) -> None:
        self.labels = np.asarray(labels, dtype=int)
        if names is not None:
            self.names = dict(names)
        self._invalidate()

    def reset_view(self) -> None:
        self.zoom, self.centre = 1.0, QPointF(0.5, 0.5)
        self._invalidate()

    def select(self, paths) -> None:
        """Show ``paths`` as selected (no signal: this is how the grid's selection comes in)."""
        self.selected = np.zeros(len(self.paths), dtype=bool)
        rows = [self._row_of[p] for p in paths if p in self._row_of]
        self.selected[rows] = True
        self.update()

    def selected_paths(self) -> list[str]:
        return [self.paths[i] for i in np.flatnonzero(self.selected)]

    # ---- geometry ------------------------------------------------------------------------
    def plot_rect(self) -> QRectF:
        """Where the dots go: beside or below the legend, whichever leaves the map larger, so it covers none."""
        w, h = float(max(1, self.width())), float(max(1, self.height()))
        legend = self.legend_rect()
        if legend.isEmpty():
            return QRectF(0, 0, w, h)
        left, top = legend.right() + 4, legend.bottom() + 4
        if min(w - left, h) >= min(w, h - top):
            return QRectF(left, 0, max(1.0, w - left), h)
        return QRectF(0, top, w, max(1.0, h - top))

    def _scale(self) -> float:
        plot = self.plot_rect()
        side = max(1.0, min(plot.width(), plot.height()) - 2 * MARGIN)
        return side * self.zoom

    def to_screen(self, xy: np.ndarray) -> np.ndarray:
        s, middle = self._scale(), self.plot_rect().center()
        return np.column_stack(
            [(xy[:, 0] - self.centre.x()) * s + middle.x(), (xy[:, 1] - self.centre.y()) * s + middle.y()]
        )

    def to_data(self, pos: QPointF) -> np.ndarray:
        s, middle = self._scale(), self.plot_rect().center()
        return np.array([(pos.x() - middle.x()) / s + self.centre.x(), (pos.y() - middle.y()) / s + self.centre.y()])

    def screen_pos(self, path: str) -> QPointF:
        """Where ``path``'s dot is drawn (for tests and for pointing at it)."""
        x, y = self.to_screen(self.xy[[self._row_of[path]]])[0]
        return QPointF(x, y)

    def index_at(self, pos: QPointF, radius_px: float = HOVER_PX) -> int:
        if self._tree is None:
            return -1
        dist, i = self._tree.query(self.to_data(pos), distance_upper_bound=radius_px / self._scale())
        return int(i) if np.isfinite(dist) else -1

    # ---- painting ------------------------------------------------------------------------
    def _invalidate(self) -> None:
        self._cache = None
        self._legend_cache = None
        self.update()

    def _render_cache(self) -> QImage:
        started = time.perf_counter()
        dpr = self.devicePixelRatioF()
        image = QImage(
            QSize(max(1, self.width()), max(1, self.height())) * dpr, QImage.Format.Format_ARGB32_Premultiplied
        )
        image.setDevicePixelRatio(dpr)
        image.fill(Qt.GlobalColor.transparent)
        if len(self.paths):
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            screen = self.to_screen(self.xy)
            visible = (
                (screen[:, 0] > -10)
                & (screen[:, 0] < self.width() + 10)
                & (screen[:, 1] > -10)
                & (screen[:, 1] < self.height() + 10)
            )
            # Unsorted first (underneath), then clusters; each colour in one drawPoints call.
            for cluster in sorted(set(self.labels.tolist()), key=lambda c: (c != UNSORTED, c)):
                rows = np.flatnonzero((self.labels == cluster) & visible)
                if not len(rows):
                    continue
                color = QColor(cluster_color(cluster))
                color.setAlpha(200)
                pen = QPen(color, self.point_size)
                pen.setCapStyle(Qt.PenCapStyle.RoundCap)
                painter.setPen(pen)
                painter.drawPoints(QPolygonF([QPointF(x, y) for x, y in screen[rows]]))
            painter.end()
        self.last_render_ms = (time.perf_counter() - started) * 1000
        return image

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
        if not len(self.paths):
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.property("emptyText") or "No photos")
            painter.end()
            return
        if self._cache is None:
            self._cache = self._render_cache()
        painter.drawImage(0, 0, self._cache)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rows = np.flatnonzero(self.selected)
        if len(rows):
            screen = self.to_screen(self.xy[rows])
            ring = QPen(self.palette().color(QPalette.ColorRole.Text), self.point_size + 4)
            ring.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(ring)
            painter.drawPoints(QPolygonF([QPointF(x, y) for x, y in screen]))
            for cluster in set(self.labels[rows].tolist()):
                pen = QPen(cluster_color(cluster), self.point_size + 1)
                pen.setCapStyle(Qt.PenCapStyle.RoundCap)
                painter.setPen(pen)
                sub = rows[self.labels[rows] == cluster]
                painter.drawPoints(QPolygonF([QPointF(x, y) for x, y in self.to_screen(self.xy[sub])]))
        if self.hover >= 0:
            x, y = self.to_screen(self.xy[[self.hover]])[0]
            painter.setPen(QPen(theme.ACCENT, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QPointF(x, y), self.point_size + 3, self.point_size + 3)
        if len(self._lasso) > 1:
            path = QPainterPath(self._lasso[0])
            for p in self._lasso[1:]:
                path.lineTo(p)
            path.closeSubpath()
            fill = QColor(theme.ACCENT)
            fill.setAlpha(40)
            painter.setBrush(fill)
            painter.setPen(QPen(theme.ACCENT, 1.5, Qt.PenStyle.DashLine))
            painter.drawPath(path)
        self._paint_legend(painter)
        painter.end()

    def _legend(self) -> tuple[list[tuple[int, str]], QRectF]:
        """The legend's lines (cluster, text) and its box, worked out once per change of the labels."""
        if self._legend_cache is None:
            lines: list[tuple[int, str]] = []
            box = QRectF()
            if len(self.paths):
                clusters, counts = np.unique(self.labels, return_counts=True)
                count = dict(zip(clusters.tolist(), counts.tolist()))
                fm = self.fontMetrics()
                for c in sorted(count, key=lambda c: (c == UNSORTED, c))[:14]:
                    name = self.names.get(c, "Unsorted" if c == UNSORTED else f"Cluster {c + 1}")
                    name = fm.elidedText(name, Qt.TextElideMode.ElideRight, 150)  # leave the dots their room
                    lines.append((c, f"{name}  {count[c]:,}"))
                if lines:
                    width = max(fm.horizontalAdvance(t) for _, t in lines) + 30
                    box = QRectF(8, 8, width, len(lines) * (fm.height() + 2) + 10)
            self._legend_cache = (lines, box)
        return self._legend_cache

    def legend_rect(self) -> QRectF:
        return self._legend()[1]

    def _paint_legend(self, painter: QPainter) -> None:
        entries, box = self._legend()
        if box.isEmpty():
            return
        fm = painter.fontMetrics()
        clusters = [c for c, _ in entries]
        lines = [t for _, t in entries]
        width = box.width()
        background = QColor(self.palette().color(QPalette.ColorRole.Base))
        background.setAlpha(215)
        painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(background)
        painter.drawRoundedRect(box, 6, 6)
        y = box.top() + 5
        for c, text in zip(clusters, lines):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(cluster_color(c))
            painter.drawEllipse(QPointF(box.left() + 12, y + fm.height() / 2), 4.5, 4.5)
            painter.setPen(self.palette().color(QPalette.ColorRole.Text))
            painter.drawText(QRectF(box.left() + 22, y, width, fm.height()), Qt.AlignmentFlag.AlignVCenter, text)
            y += fm.height() + 2

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._cache = None
        self._legend_cache = None

    # ---- mouse -----------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        pos = event.position()
        self._dragged = False
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = pos
            self._lasso = [pos]
        elif event.button() in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
            self._pan_from = (pos, QPointF(self.centre))

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        if self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
            if (pos - self._press).manhattanLength() > DRAG_PX:
                self._dragged = True
            self._lasso.append(pos)
            self.update()
            return
        if self._pan_from is not None:
            start, centre = self._pan_from
            if (pos - start).manhattanLength() > DRAG_PX:
                self._dragged = True
            s = self._scale()
            self.centre = QPointF(centre.x() - (pos.x() - start.x()) / s, centre.y() - (pos.y() - start.y()) / s)
            self._invalidate()
            return
        self._set_hover(self.index_at(pos))

    def mouseReleaseEvent(self, event) -> None:
        pos = event.position()
        additive = bool(event.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier))
        if event.button() == Qt.MouseButton.LeftButton and self._press is not None:
            if self._dragged and len(self._lasso) > 2:
                polygon = np.array([[p.x(), p.y()] for p in self._lasso])
                hit = points_in_polygon(self.to_screen(self.xy), polygon)
                self.selected = (self.selected | hit) if additive else hit
            else:
                i = self.index_at(pos)
                if not additive:
                    self.selected = np.zeros(len(self.paths), dtype=bool)
                if i >= 0:
                    self.selected[i] = not self.selected[i] if additive else True
            self._press, self._lasso = None, []
            self.update()
            self.selectionChanged.emit(self.selected_paths())
        elif self._pan_from is not None:
            self._pan_from = None
            if event.button() == Qt.MouseButton.RightButton and not self._dragged:
                self.contextRequested.emit(event.globalPosition().toPoint())

    def mouseDoubleClickEvent(self, event) -> None:
        i = self.index_at(event.position())
        if i >= 0 and event.button() == Qt.MouseButton.LeftButton:
            self.activated.emit(self.paths[i])

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120
        if not steps:
            return
        pos = event.position()
        before = self.to_data(pos)
        self.zoom = float(np.clip(self.zoom * 1.25**steps, 0.5, 200))
        after = self.to_data(pos)
        self.centre = QPointF(self.centre.x() + before[0] - after[0], self.centre.y() + before[1] - after[1])
        self._invalidate()

    def leaveEvent(self, event) -> None:
        self._set_hover(-1)

    def _set_hover(self, i: int) -> None:
        if i != self.hover:
            self.hover = i
            self.update()
            self.hovered.emit(self.paths[i] if i >= 0 else "")


class SimilarityMapDock(QDockWidget):
    """The map with its controls, bound to the window's Editor (edits) and ThumbnailLoader (hover pictures)."""

    imagesSelected = Signal(list)  # paths the person picked on the map (click or lasso)
    imageActivated = Signal(str)  # double-clicked: open it
    layoutReady = Signal()

    def __init__(self, editor: Editor, loader: ThumbnailLoader, parent=None, in_process: bool = False):
        super().__init__("Similarity Map", parent)
        self.setObjectName("similarityMapDock")
        self.editor, self.loader, self.in_process = editor, loader, in_process
        self.session: Session | None = None
        self._features: np.ndarray | None = None  # the features the shown layout was made from
        self._worker: GeneratorWorker | None = None
        self._again = False
        self._started = 0.0
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 4, 8, 4)
        self.method_combo = QComboBox()
        labels = {
            "auto": "Automatic",
            "tsne": "t-SNE",
            "opentsne": "t-SNE (openTSNE)",
            "umap": "UMAP",
            "pca": "PCA (instant, rough)",
        }
        for m in embedding.available_methods():
            self.method_combo.addItem(labels[m], m)
        self.method_combo.setToolTip("How the photos are laid out in 2-D: near dots look alike")
        self.method_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.method_combo.setMinimumContentsLength(8)  # "t-SNE (openTSNE)" may elide rather than widen the dock
        self.method_combo.currentIndexChanged.connect(self.recompute)
        bar.addWidget(self.method_combo)
        self.move_button = QToolButton(text="Move Selection To")
        self.move_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.move_menu = QMenu(self.move_button)
        self.move_menu.aboutToShow.connect(lambda: self._fill_move_menu(self.move_menu))
        self.move_button.setMenu(self.move_menu)
        bar.addWidget(self.move_button)
        self.new_button = QToolButton(text="New Cluster")
        self.new_button.setToolTip("Put the selected dots' photos in a new cluster")
        self.new_button.clicked.connect(self.new_cluster_from_selection)
        bar.addWidget(self.new_button)
        bar.addStretch(1)
        layout.addLayout(bar)
        self.status = QLabel()
        self.status.setObjectName("emptyHint")
        self.status.setWordWrap(True)  # its own line: a long message must not widen the dock
        self.status.setContentsMargins(8, 0, 8, 2)
        layout.addWidget(self.status)
        self.view = SimilarityMapView()
        self.view.setProperty("emptyText", "Analyse the folder to see its photos on a map")
        self.view.selectionChanged.connect(self._picked)
        self.view.hovered.connect(self._hovered)
        self.view.activated.connect(self.imageActivated)
        self.view.contextRequested.connect(self._context_menu)
        layout.addWidget(self.view, 1)
        self.setWidget(body)
        self.popup = _HoverPopup(self.view)
        self._popup_timer = QTimer(self, singleShot=True, interval=120)
        self._popup_timer.timeout.connect(self._show_popup)
        loader.ready.connect(self._thumbnail_ready)
        self._update_buttons()
        self.visibilityChanged.connect(self._visibility_changed)

    def _visibility_changed(self, visible: bool) -> None:
        session = self.session
        if visible and session is not None and session.features is not None and session.features is not self._features:
            self.recompute()

    # ---- binding -------------------------------------------------------------------------
    def set_session(self, session: Session | None) -> None:
        if self.session is not None:
            self.session.unsubscribe(self._session_changed)
        self.session = session
        self._features = None
        if session is not None:
            session.subscribe(self._session_changed)
        self.view.set_points([], np.zeros((0, 2)), np.zeros(0, int))
        self._update_buttons()
        self.recompute()

    def select(self, paths) -> None:
        """Mirror the grid's selection (no ``imagesSelected`` back)."""
        self.view.select(paths)
        self._update_buttons()

    def selected_paths(self) -> list[str]:
        return self.view.selected_paths()

    # ---- layout ----------------------------------------------------------------------------
    def recompute(self) -> None:
        session = self.session
        if session is None or session.features is None or not len(session.images):
            self.status.clear()  # the empty map says what to do
            return
        if not self.isVisible():  # laid out when shown: a t-SNE nobody sees is a minute of CPU at 100,000
            return
        if self._worker is not None:
            self._again = True
            return
        features, images = session.features, list(session.images)
        self._started = time.perf_counter()
        self.status.setText(f"Laying out {len(images):,} photos…")
        self._worker = start_job(
            layout_job,
            features,
            self.method_combo.currentData() or "auto",
            in_process=self.in_process,
            done=lambda result: self._laid_out(result, session, features, images),
            failed=self._failed,
            finished=self._finished,
        )

    def _laid_out(self, result: embedding.Embedding, session: Session, features: np.ndarray, images: list[str]) -> None:
        """A layout of ``features`` for ``images`` of ``session``, as they were when it started."""
        if self.session is not session or features is not session.features:
            return  # stale: the folder or its analysis changed meanwhile (``_finished`` starts again)
        self._features = features
        labels = np.array([session.labels.get(p, UNSORTED) for p in images])
        keep = self.view.selected_paths()
        self.view.set_points(images, result.xy, labels, dict(session.names))
        self.view.select(keep)  # a new layout keeps what was selected
        self.status.setText(f"{len(images):,} photos · {result.method} · {time.perf_counter() - self._started:.1f} s")
        self._update_buttons()
        self.layoutReady.emit()

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"The map could not be made: {exc}")

    def _finished(self) -> None:
        self._worker = None
        session = self.session
        if self._again or (
            session is not None and session.features is not None and session.features is not self._features
        ):
            self._again = False
            self.recompute()

    def busy(self) -> bool:
        return self._worker is not None

    def _session_changed(self, change: Change) -> None:
        session = self.session
        if session is None:
            return
        if session.features is not None and (session.features is not self._features or change.paths):
            if self._worker is None:
                self.recompute()
            return
        if change.labels or change.names:
            self.view.set_labels(
                np.array([session.labels.get(p, UNSORTED) for p in self.view.paths]), dict(session.names)
            )

    # ---- picking and editing --------------------------------------------------------------------
    def _picked(self, paths: list) -> None:
        self._update_buttons()
        self.imagesSelected.emit(paths)

    def _update_buttons(self) -> None:
        has = bool(self.view.selected_paths()) and self.session is not None
        self.move_button.setEnabled(has)
        self.new_button.setEnabled(has)

    def move_selection_to(self, cluster: int) -> None:
        paths = self.view.selected_paths()
        if paths and self.session is not None:
            self.editor.move(paths, cluster)

    def new_cluster_from_selection(self, name: str | None = None) -> int | None:
        paths = self.view.selected_paths()
        if not paths or self.session is None:
            return None
        return self.editor.new_cluster(paths, name)

    def _fill_move_menu(self, menu: QMenu) -> None:
        menu.clear()
        if self.session is None:
            return
        for cid in [*sorted(self.session.names), UNSORTED]:
            action = menu.addAction(self.session.name(cid))
            action.setIcon(_dot_icon(cluster_color(cid)))
            action.triggered.connect(lambda checked=False, c=cid: self.move_selection_to(c))

    def _context_menu(self, at: QPoint) -> None:
        n = len(self.view.selected_paths())
        menu = QMenu(self)
        move = menu.addMenu(f"Move {n} Photo{'s' if n != 1 else ''} To")
        self._fill_move_menu(move)
        new = menu.addAction(f"New Cluster from {n} Photo{'s' if n != 1 else ''}")
        new.triggered.connect(lambda: self.new_cluster_from_selection())
        for item in (move, new):
            item.setEnabled(n > 0)
        menu.addSeparator()
        menu.addAction("Reset Zoom", self.view.reset_view)
        menu.exec(at)

    # ---- hover popup ------------------------------------------------------------------------------
    def _hovered(self, path: str) -> None:
        if path:
            self._popup_timer.start()
        else:
            self._popup_timer.stop()
            self.popup.hide()

    def _show_popup(self) -> None:
        i = self.view.hover
        if i < 0 or self.session is None:
            return
        path = self.view.paths[i]
        cluster = self.session.labels.get(path, UNSORTED)
        fit = self.session.confidence.get(path)
        text = f"<b>{escape(path.rsplit('/', 1)[-1])}</b><br>{escape(self.session.name(cluster))}"
        if fit is not None and cluster != UNSORTED:
            text += f" · fit {fit:.0%}"
        self.popup.show_photo(path, text, self.loader.get(path, TIERS[0], group="map"), QCursor.pos())

    def _thumbnail_ready(self, path: str, tier: int) -> None:
        if self.popup.isVisible() and path == self.popup.path and tier == TIERS[0]:
            self.popup.set_image(self.loader.get(path, tier, group="map"))


def _dot_icon(color: QColor):
    from PySide6.QtGui import QIcon, QPixmap

    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawEllipse(QRect(1, 1, 10, 10))
    painter.end()
    return QIcon(pixmap)


__all__ = ["SimilarityMapDock", "SimilarityMapView", "points_in_polygon"]
