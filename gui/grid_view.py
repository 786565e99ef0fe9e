"""The photo grid: a uniform icon-mode list that paints thumbnails, pins and fit, and drags photo ids.

Only visible rows ever ask for a thumbnail (the delegate paints only those);
after scrolling settles, requests for rows that scrolled away are cancelled.
Scaled thumbnails are kept in ``QPixmapCache`` so a repaint never rescales.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QDrag, QFont, QPainter, QPainterPath, QPalette, QPixmap, QPixmapCache
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from . import theme
from .duplicates_view import StackCountRole, paint_stack_badge, paint_stack_edges
from .icons import icon
from .image_model import ConfidenceRole, FailedRole, ImageModel, PathRole, PinnedRole
from .thumbnails import tier_for

LABEL_MIN_SIZE = 112  # below this thumbnail size file names are left out
PAD = 8


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.size = 160
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), 96 * 1024))
        self._pin = icon("pin", "#ffffff")  # made now: reading the file at the first paint stalled it (~30 ms)

    def show_labels(self) -> bool:
        return self.size >= LABEL_MIN_SIZE

    def cell_size(self) -> QSize:
        label = 26 if self.show_labels() else 6
        return QSize(self.size + 2 * PAD, self.size + 2 * PAD + label)

    def sizeHint(self, option, index) -> QSize:
        return self.cell_size()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = option.palette
        cell = QRect(option.rect)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            color = QColor(palette.color(QPalette.ColorRole.Highlight))
            color.setAlphaF(0.22 if selected else 0.08)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(QRectF(cell).adjusted(2, 2, -2, -2), 8, 8)
        box = QRect(cell.x() + (cell.width() - self.size) // 2, cell.y() + PAD, self.size, self.size)
        image = index.data(Qt.ItemDataRole.DecorationRole)
        if image is not None and not image.isNull():
            pixmap = self._scaled(index.data(PathRole), image, box.size(), painter.device().devicePixelRatioF())
            w, h = pixmap.width() / pixmap.devicePixelRatio(), pixmap.height() / pixmap.devicePixelRatio()
            target = QRectF(box.x() + (box.width() - w) / 2, box.y() + (box.height() - h) / 2, w, h)
            paint_stack_edges(painter, target, index.data(StackCountRole) or 1)
            clip = QPainterPath()
            clip.addRoundedRect(target, 4, 4)
            painter.setClipPath(clip)
            painter.drawPixmap(target.toRect(), pixmap)
            painter.setClipping(False)
            photo = target
        else:
            photo = QRectF(box).adjusted(6, 6, -6, -6)
            placeholder = QColor(palette.color(QPalette.ColorRole.Mid))
            placeholder.setAlphaF(0.45)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(placeholder)
            painter.drawRoundedRect(photo, 6, 6)
            if index.data(FailedRole):
                icon("skipped", theme.muted_color()).paint(painter, photo.toRect().adjusted(30, 30, -30, -30))
        if selected:
            pen_color = palette.color(QPalette.ColorRole.Highlight)
            painter.setPen(pen_color)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(photo.adjusted(-1.5, -1.5, 1.5, 1.5), 5, 5)
        self._paint_fit(painter, photo, index)
        paint_stack_badge(painter, photo, index.data(StackCountRole) or 1)
        if index.data(PinnedRole):
            self._paint_pin(painter, photo)
        if self.show_labels():
            text_rect = QRect(box.x(), box.bottom() + 7, self.size, 18)
            painter.setPen(palette.color(QPalette.ColorRole.Text if selected else QPalette.ColorRole.PlaceholderText))
            name = painter.fontMetrics().elidedText(index.data(), Qt.TextElideMode.ElideMiddle, text_rect.width())
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, name)
        painter.restore()

    def _scaled(self, path: str, image, size: QSize, dpr: float) -> QPixmap:
        key = f"{path}|{image.cacheKey()}|{size.width()}|{dpr:g}"
        pixmap = QPixmapCache.find(key)
        if pixmap is None:
            scaled = image.scaled(
                size * dpr, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            pixmap = QPixmap.fromImage(scaled)
            pixmap.setDevicePixelRatio(dpr)
            QPixmapCache.insert(key, pixmap)
        return pixmap

    def _paint_fit(self, painter: QPainter, photo: QRectF, index) -> None:
        """A thin meter under the photo: how clearly it belongs to its cluster (none for hand-placed ones)."""
        confidence = index.data(ConfidenceRole) or 0.0
        if confidence <= 0 or index.data(PinnedRole):
            return
        track = QRectF(photo.left() + 2, photo.bottom() + 3, photo.width() - 4, 2.5)
        muted = QColor(theme.muted_color())
        muted.setAlphaF(0.25)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(muted)
        painter.drawRoundedRect(track, 1.25, 1.25)
        fill = QRectF(track)
        fill.setWidth(max(2.5, track.width() * min(1.0, confidence)))
        accent = QColor(theme.ACCENT)
        accent.setAlphaF(0.75)
        painter.setBrush(accent)
        painter.drawRoundedRect(fill, 1.25, 1.25)

    def _paint_pin(self, painter: QPainter, photo: QRectF) -> None:
        badge = QRectF(photo.right() - 26, photo.top() + 6, 20, 20)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.ACCENT)
        painter.drawEllipse(badge)
        self._pin.paint(painter, badge.adjusted(3, 3, -3, -3).toRect())


class PhotoGrid(QListView):
    """Shows an ``ImageModel``; emits ``activated_path`` on double-click/Enter."""

    activated_path = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("grid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSpacing(0)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        # The width the columns get must not depend on whether the rows overflow: with "as needed" bars Qt lays
        # out for a width less a scrollbar it may not show, the column count flips as the bar comes and goes
        # and the last row can end up out of reach. So: the vertical bar always has its place, never a sideways one.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.verticalScrollBar().setSingleStep(24)
        self.setMouseTracking(True)
        self.setWordWrap(False)
        self.delegate = ThumbnailDelegate(self)
        self.setItemDelegate(self.delegate)
        self._settle = QTimer(self, singleShot=True, interval=120)
        self._settle.timeout.connect(self._cancel_offscreen)
        self.verticalScrollBar().valueChanged.connect(self._settle.start)
        self.doubleClicked.connect(self._activate)
        self._anchor: tuple[str, int, int] | None = None  # (path, row, scroll value) before rows came or went
        self._anchor_timer = QTimer(self, singleShot=True, interval=0)
        self._anchor_timer.timeout.connect(self._restore_rows_anchor)
        self.set_thumbnail_size(160)

    def set_thumbnail_size(self, size: int) -> None:
        anchor = self.top_row()
        self.delegate.size = size
        self._fit_columns()
        self.setIconSize(QSize(size, size))
        model = _image_model(self.model())
        if model is not None:
            model.set_tier(tier_for(size * self.devicePixelRatioF()))
        self._keep_anchor(anchor)
        self.viewport().update()

    def top_row(self) -> int:
        """The first photo of the top visible row (the place a zoom or resize keeps), or -1."""
        if self.model() is None or self.verticalScrollBar().value() == 0:
            return -1
        grid = self.gridSize()
        for x in (grid.width() // 2, PAD):
            index = self.indexAt(QPoint(x, max(1, grid.height() // 4)))
            if index.isValid():
                return index.row()
        return -1

    def _keep_anchor(self, row: int) -> None:
        """Lay out again now and put ``row`` back at the top, so zooming or resizing does not lose the place."""
        self.executeDelayedItemsLayout()
        self.doItemsLayout()
        model = self.model()
        if model is not None and 0 <= row < model.rowCount():
            self.scrollTo(model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop)

    def _fit_columns(self) -> None:
        """Spread the spare width over the columns, so the grid fills the view edge to edge."""
        cell = self.delegate.cell_size()
        width = self.viewport().width() - 8  # QListView wants a little slack or it drops a column
        columns = max(1, width // cell.width())
        self.setGridSize(QSize(max(cell.width(), width // columns), cell.height()))

    def resizeEvent(self, event) -> None:
        anchor = self.top_row()
        super().resizeEvent(event)
        old = self.gridSize()
        self._fit_columns()
        if self.gridSize() != old or event.oldSize().width() != event.size().width():
            self._keep_anchor(anchor)

    def setModel(self, model) -> None:
        old = self.model()
        if old is not None:
            for signal in (old.rowsAboutToBeInserted, old.rowsAboutToBeRemoved):
                signal.disconnect(self._before_rows_move)
            for signal in (old.rowsInserted, old.rowsRemoved):
                signal.disconnect(self._after_rows_move)
        super().setModel(model)
        if model is not None:
            for signal in (model.rowsAboutToBeInserted, model.rowsAboutToBeRemoved):
                signal.connect(self._before_rows_move)
            for signal in (model.rowsInserted, model.rowsRemoved):
                signal.connect(self._after_rows_move)
        model = _image_model(model)
        if model is not None:
            model.set_tier(tier_for(self.delegate.size * self.devicePixelRatioF()))

    # ---- rows coming and going above the view must not scroll what is under the mouse ----------------
    def _before_rows_move(self, *_) -> None:
        """The photo at the top left of the view and how far down it is, before rows come or go."""
        if self._anchor is not None:
            return  # several changes in a row: the first one's anchor is the one to keep
        index = self.indexAt(QPoint(self.gridSize().width() // 2, self.gridSize().height() // 2))
        if index.isValid() and self.verticalScrollBar().value() > 0:
            self._anchor = (index.data(PathRole), index.row(), self.verticalScrollBar().value())

    def _after_rows_move(self, *_) -> None:
        if self._anchor is not None and not self._anchor_timer.isActive():
            self._anchor_timer.start()

    def _restore_rows_anchor(self) -> None:
        """Scroll by as many grid rows as the anchor photo moved, once the view has laid the rows out."""
        if self._anchor is None:
            return
        path, row, value = self._anchor
        self._anchor = None
        model = self.model()
        now = model.row_of(path) if model is not None and hasattr(model, "row_of") else -1
        if now < 0:
            return
        columns = max(1, self.viewport().width() // max(1, self.gridSize().width()))
        shift = (now // columns - row // columns) * self.gridSize().height()
        if shift:
            self.doItemsLayout()
            self.verticalScrollBar().setValue(value + shift)

    def visible_paths(self) -> set[str]:
        model = self.model()
        rect = self.viewport().rect()
        first = self.indexAt(QPoint(PAD, PAD))
        if not first.isValid():
            first = self.indexAt(rect.topLeft() + QPoint(self.gridSize().width() // 2, self.gridSize().height() // 2))
        if not first.isValid() or model is None:
            return set()
        per_row = max(1, rect.width() // max(1, self.gridSize().width()))
        rows = (rect.height() // max(1, self.gridSize().height()) + 2) * per_row
        start = max(0, first.row() - per_row)
        return {
            model.index(r, 0).data(PathRole) for r in range(start, min(model.rowCount(), start + rows + 2 * per_row))
        }

    def _cancel_offscreen(self) -> None:
        model = _image_model(self.model())
        if model is not None:
            model.loader.prune("grid", self.visible_paths())

    def _activate(self, index) -> None:
        if index.isValid():
            self.activated_path.emit(index.data(PathRole))

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and self.currentIndex().isValid():
            self._activate(self.currentIndex())
            return
        super().keyPressEvent(event)

    def startDrag(self, supported_actions) -> None:
        """Drag the selected photos' ids, showing one thumbnail and how many there are."""
        indexes = sorted(self.selectedIndexes(), key=lambda i: i.row())
        if not indexes:
            return
        drag = QDrag(self)
        drag.setMimeData(self.model().mimeData(indexes))
        drag.setPixmap(self._drag_pixmap(indexes))
        drag.setHotSpot(QPoint(24, 24))
        drag.exec(Qt.DropAction.MoveAction, Qt.DropAction.MoveAction)

    def _drag_pixmap(self, indexes) -> QPixmap:
        side = 72
        dpr = self.devicePixelRatioF()
        pixmap = QPixmap(QSize(side + 16, side + 16) * dpr)
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        image = indexes[0].data(Qt.ItemDataRole.DecorationRole)
        frame = QRectF(4, 12, side, side)
        painter.setPen(QColor(255, 255, 255))
        painter.setBrush(self.palette().color(QPalette.ColorRole.Mid))
        painter.drawRoundedRect(frame, 6, 6)
        if image is not None and not image.isNull():
            clip = QPainterPath()
            clip.addRoundedRect(frame.adjusted(2, 2, -2, -2), 5, 5)
            painter.setClipPath(clip)
            painter.drawImage(frame.adjusted(2, 2, -2, -2), image, _square(image))
            painter.setClipping(False)
        if len(indexes) > 1:
            badge = QRectF(side - 14, 0, 30, 22)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(theme.ACCENT)
            painter.drawRoundedRect(badge, 11, 11)
            painter.setPen(QColor("#ffffff"))
            font = QFont(painter.font())
            font.setBold(True)
            painter.setFont(font)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(len(indexes)))
        painter.end()
        return pixmap


def _image_model(model) -> ImageModel | None:
    """The ImageModel under any sort/filter proxies (doubtful first, duplicate stacks), or None."""
    while isinstance(model, QSortFilterProxyModel):
        model = model.sourceModel()
    return model if isinstance(model, ImageModel) else None


def _square(image) -> QRectF:
    """The centred square of ``image``, for crops that must not distort."""
    side = min(image.width(), image.height())
    return QRectF((image.width() - side) / 2, (image.height() - side) / 2, side, side)
