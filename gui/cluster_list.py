"""The cluster side list: a representative thumbnail, the name, a count; drop photos or clusters onto it."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPalette
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QListView, QStyle, QStyledItemDelegate

from engine.cluster import UNSORTED

from . import theme
from .cluster_model import ClusterIdRole, CountRole, PinnedCountRole, ShortcutRole
from .grid_view import _square
from .icons import icon
from .image_model import ALL

ROW_HEIGHT = 52
THUMB = 38


class ClusterDelegate(QStyledItemDelegate):
    def sizeHint(self, option, index) -> QSize:
        return QSize(160, ROW_HEIGHT)  # painted to the full row width; a smaller hint never forces scrolling

    def paint(self, painter: QPainter, option, index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = option.palette
        rect = QRect(option.rect).adjusted(6, 2, -6, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            color = QColor(palette.color(QPalette.ColorRole.Highlight))
            color.setAlphaF(0.18 if selected else 0.07)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(QRectF(rect), 7, 7)
        cid = index.data(ClusterIdRole)
        thumb = QRectF(rect.x() + 7, rect.y() + (rect.height() - THUMB) / 2, THUMB, THUMB)
        self._paint_thumb(painter, thumb, index, cid, palette)
        count = index.data(CountRole) or 0
        font = QFont(option.font)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1))
        painter.setFont(small)
        count_text = f"{count:,}"
        pill_w = painter.fontMetrics().horizontalAdvance(count_text) + 14
        pill = QRectF(rect.right() - pill_w - 8, rect.center().y() - 9, pill_w, 18)
        pill_color = QColor(palette.color(QPalette.ColorRole.Mid))
        pill_color.setAlphaF(0.6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(pill_color)
        painter.drawRoundedRect(pill, 9, 9)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, count_text)
        text_left = int(thumb.right()) + 10
        text_rect = QRect(text_left, rect.y(), int(pill.left()) - text_left - 6, rect.height())
        font.setWeight(QFont.Weight.DemiBold if selected else QFont.Weight.Normal)
        if cid == UNSORTED:
            font.setItalic(True)
        painter.setFont(font)
        name = painter.fontMetrics().elidedText(index.data(), Qt.TextElideMode.ElideRight, text_rect.width())
        shortcut = index.data(ShortcutRole)
        pinned = index.data(PinnedCountRole) or 0
        detail = " · ".join(
            filter(
                None,
                [f"key {shortcut}" if shortcut else "", f"{pinned} moved by hand" if pinned and cid != ALL else ""],
            )
        )
        if detail:
            painter.drawText(
                text_rect.adjusted(0, 0, 0, -14), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name
            )
            painter.setFont(small)
            painter.setPen(theme.muted_color())
            painter.drawText(
                text_rect.adjusted(0, 18, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, detail
            )
        else:
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        painter.restore()

    def _paint_thumb(self, painter: QPainter, thumb: QRectF, index, cid, palette) -> None:
        clip = QPainterPath()
        clip.addRoundedRect(thumb, 6, 6)
        image = index.data(Qt.ItemDataRole.DecorationRole)
        if image is not None and not image.isNull() and cid != UNSORTED:
            painter.setClipPath(clip)
            painter.drawImage(thumb, image, _square(image))
            painter.setClipping(False)
            return
        back = QColor(palette.color(QPalette.ColorRole.Mid))
        back.setAlphaF(0.5)
        painter.fillPath(clip, back)
        name = "photos" if cid == ALL else "unsorted" if cid == UNSORTED else None
        if name:
            icon(name, theme.muted_color()).paint(painter, thumb.adjusted(9, 9, -9, -9).toRect())

    def createEditor(self, parent, option, index):
        editor = QLineEdit(parent)
        editor.setFrame(True)
        return editor

    def updateEditorGeometry(self, editor, option, index) -> None:
        rect = QRect(option.rect).adjusted(6 + THUMB + 14, 12, -50, -12)
        editor.setGeometry(rect)


class ClusterList(QListView):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("clusters")
        self.setItemDelegate(ClusterDelegate(self))
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setMouseTracking(True)
        self.setMinimumWidth(200)
        # rows paint to the list's width and elide their names: never a sideways scrollbar in a narrow window
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)

    def current_cluster(self) -> int | None:
        index = self.currentIndex()
        return index.data(ClusterIdRole) if index.isValid() else None
