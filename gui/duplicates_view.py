"""Near-duplicates: groups of copies of one picture, the one to keep marked. Nothing is ever deleted.

* ``DuplicatesDialog(session, loader, editor)`` finds the groups in a worker
  thread (``engine.duplicates``: perceptual hash + the analysis' features),
  lists them with thumbnails, the photo to keep first with a "Keep" badge,
  and offers to select the extra copies (``imagesSelected``) or to put them in
  a cluster of their own ("Duplicates", through the Editor: undoable).
  ``report`` holds the result; ``engine.duplicates.redundant(report.groups)``
  is what "export only the best of each group" leaves out.
* ``StackDuplicatesProxy``: for the grid: hides every group's extra copies
  behind its best one and gives that one a ``StackCountRole``;
  ``paint_stack_badge`` draws the count the way the grid's delegate would.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QProgressBar,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QVBoxLayout,
)

from engine.duplicates import DuplicateGroup, DuplicateReport, redundant
from engine.session import Session

from . import theme
from .image_model import PathRole
from .markup import escape
from .see_why_jobs import duplicates_job
from .session_model import PhotoProxy
from .thumbnails import TIERS, ThumbnailLoader
from .undo import Editor
from .workers import GeneratorWorker

GroupRole = Qt.ItemDataRole.UserRole + 31  # the DuplicateGroup of a row
StackCountRole = Qt.ItemDataRole.UserRole + 32  # photos stacked under this one (1 = not a duplicate)
THUMB = 112
MAX_SHOWN = 8  # members drawn per group row; the rest are counted


class DuplicateGroupsModel(QAbstractListModel):
    """One row per group, largest first; the picture side is painted by ``DuplicateGroupDelegate``."""

    def __init__(self, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self.loader = loader
        self.groups: list[DuplicateGroup] = []
        self._rows_of: dict[str, int] = {}
        loader.ready.connect(self._thumbnail_ready)

    def set_groups(self, groups: list[DuplicateGroup]) -> None:
        self.beginResetModel()
        self.groups = list(groups)
        self._rows_of = {p: r for r, g in enumerate(self.groups) for p in g.members}
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.groups)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.groups):
            return None
        group = self.groups[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{len(group.members)} copies · keep {group.best.rsplit('/', 1)[-1]} ({group.why_best()})"
        if role == GroupRole:
            return group
        if role == PathRole:
            return group.best
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"Keep <b>{escape(group.best)}</b>: {escape(group.why_best())}."]
            for p in group.members:
                line = f"<b>{escape(p)}</b>: {group.facts[p].describe()}"
                if p == group.best:
                    line += " — <b>keep</b>"
                elif p in group.enlarged:
                    line += f" — enlarged from {escape(group.enlarged[p].rsplit('/', 1)[-1])}, no finer detail"
                lines.append(line)
            return "<br>".join(lines)
        return None

    def thumbnail(self, path: str):
        return self.loader.get(path, TIERS[0], group="duplicates")

    def _thumbnail_ready(self, path: str, tier: int) -> None:
        row = self._rows_of.get(path)
        if row is not None:
            self.dataChanged.emit(self.index(row), self.index(row), [Qt.ItemDataRole.DecorationRole])


class DuplicateGroupDelegate(QStyledItemDelegate):
    """A group as a row of thumbnails, the keeper first with a badge, each with its size under it."""

    def sizeHint(self, option, index) -> QSize:
        return QSize(THUMB * 4, THUMB + 58)

    def paint(self, painter: QPainter, option, index) -> None:
        group: DuplicateGroup = index.data(GroupRole)
        model = index.model()
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        palette = option.palette
        cell = QRect(option.rect)
        if option.state & QStyle.StateFlag.State_Selected:
            tint = QColor(palette.color(QPalette.ColorRole.Highlight))
            tint.setAlphaF(0.15)
            painter.fillRect(cell, tint)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        bold = QFont(painter.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(
            QRect(cell.x() + 10, cell.y() + 4, cell.width() - 20, 18), Qt.AlignmentFlag.AlignVCenter, index.data()
        )
        painter.setFont(option.font)
        x = cell.x() + 10
        top = cell.y() + 26
        small = painter.fontMetrics()
        for n, path in enumerate(group.members[:MAX_SHOWN]):
            box = QRectF(x, top, THUMB, THUMB)
            clip = QPainterPath()
            clip.addRoundedRect(box, 5, 5)
            image = model.thumbnail(path)
            if image is not None and not image.isNull():
                w, h = image.width(), image.height()
                scale = min(THUMB / w, THUMB / h)
                target = QRectF(
                    box.x() + (THUMB - w * scale) / 2, box.y() + (THUMB - h * scale) / 2, w * scale, h * scale
                )
                painter.setClipPath(clip)
                painter.fillRect(box, palette.color(QPalette.ColorRole.AlternateBase))
                painter.drawImage(target, image)
                painter.setClipping(False)
            else:
                painter.fillPath(clip, palette.color(QPalette.ColorRole.Mid))
            facts = group.facts.get(path)
            if n == 0:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(theme.ACCENT)
                badge = QRectF(box.left() + 5, box.top() + 5, 40, 18)
                painter.drawRoundedRect(badge, 9, 9)
                painter.setPen(QColor("#ffffff"))
                painter.setFont(bold)
                painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "Keep")
                painter.setFont(option.font)
                painter.setPen(QColor(theme.ACCENT))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRoundedRect(box.adjusted(-1.5, -1.5, 1.5, 1.5), 6, 6)
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            caption = f"{facts.width}×{facts.height}" if facts else ""
            name = small.elidedText(path.rsplit("/", 1)[-1], Qt.TextElideMode.ElideMiddle, THUMB)
            painter.drawText(QRectF(x, box.bottom() + 2, THUMB, 14), Qt.AlignmentFlag.AlignHCenter, name)
            painter.drawText(QRectF(x, box.bottom() + 15, THUMB, 14), Qt.AlignmentFlag.AlignHCenter, caption)
            x += THUMB + 12
        extra = len(group.members) - MAX_SHOWN
        if extra > 0:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(QRectF(x, top, 80, THUMB), Qt.AlignmentFlag.AlignVCenter, f"+{extra} more")
        painter.restore()


class DuplicatesDialog(QDialog):
    """Find and show near-duplicates of the session's photos; nothing is deleted, moves are undoable."""

    imagesSelected = Signal(list)
    reportReady = Signal(object)

    def __init__(self, session: Session, loader: ThumbnailLoader, editor: Editor, parent=None):
        super().__init__(parent)
        self.session, self.loader, self.editor = session, loader, editor
        self.report: DuplicateReport | None = None
        self._worker: GeneratorWorker | None = None
        self._started = 0.0
        self.setWindowTitle("Near-Duplicates")
        self.resize(860, 620)
        layout = QVBoxLayout(self)
        self.summary = QLabel("Looking for near-duplicates…")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        hint = QLabel(
            "Copies of one picture (resized, re-saved or slightly cropped). The photo marked Keep has the "
            "highest resolution, then the sharpest detail, then the largest file. Nothing is deleted."
        )
        hint.setWordWrap(True)
        hint.setObjectName("emptyHint")
        layout.addWidget(hint)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        layout.addWidget(self.progress)
        self.model = DuplicateGroupsModel(loader, self)
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setItemDelegate(DuplicateGroupDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.list.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        layout.addWidget(self.list, 1)
        buttons = QDialogButtonBox()
        self.select_button = QPushButton("Select the Extra Copies")
        self.select_button.setToolTip("Select every copy except the one to keep, in the photo grid")
        self.select_button.clicked.connect(self.select_extra_copies)
        self.cluster_button = QPushButton("Put the Extra Copies in a Cluster")
        self.cluster_button.setToolTip(
            "Move every copy except the one to keep into a new cluster \u201cDuplicates\u201d (Undo puts them back)"
        )
        self.cluster_button.clicked.connect(self.cluster_extra_copies)
        for b in (self.select_button, self.cluster_button):
            b.setEnabled(False)
            buttons.addButton(b, QDialogButtonBox.ButtonRole.ActionRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.reject)
        layout.addWidget(buttons)
        self.start()

    def start(self) -> None:
        session = self.session
        worker = GeneratorWorker(duplicates_job, list(session.images), session.root, session.features)
        worker.progress.connect(self._progress)
        worker.returned.connect(self._found)
        worker.errored.connect(self._failed)
        worker.finished.connect(self._finished)
        self._worker = worker
        self._started = time.perf_counter()
        self.progress.setRange(0, 0)
        self.progress.show()
        worker.start()

    def busy(self) -> bool:
        return self._worker is not None

    def _progress(self, progress) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
        self.summary.setText(f"{progress.message}… {progress.done:,} of {progress.total:,}")

    def _found(self, report: DuplicateReport) -> None:
        self.report = report
        self.model.set_groups(report.groups)
        extra = len(redundant(report.groups))
        seconds = time.perf_counter() - self._started
        if report.groups:
            text = (
                f"<b>{len(report.groups)} group{'s' if len(report.groups) != 1 else ''} of near-duplicates</b>: "
                f"{extra} extra cop{'ies' if extra != 1 else 'y'} among {len(self.session.images):,} photos "
                f"({seconds:.1f} s)."
            )
        else:
            text = f"<b>No near-duplicates</b> among {len(self.session.images):,} photos ({seconds:.1f} s)."
        if self.session.features is None:
            text += " Analyse the folder to find cropped copies too (only the picture hash was used)."
        if report.unreadable:
            text += f" {len(report.unreadable)} files could not be read."
        self.summary.setText(text)
        self.select_button.setEnabled(extra > 0)
        self.cluster_button.setEnabled(extra > 0)
        self.reportReady.emit(report)

    def _failed(self, exc: BaseException) -> None:
        self.summary.setText(
            f"<span style='color:#c0392b'>Near-duplicates could not be found: {escape(str(exc))}</span>"
        )

    def _finished(self) -> None:
        self._worker = None
        self.progress.hide()

    def extra_copies(self) -> list[str]:
        """Every photo with a better copy, in session order (of the selected groups, when some are selected)."""
        if self.report is None:
            return []
        rows = sorted({i.row() for i in self.list.selectionModel().selectedIndexes()})
        groups = [self.model.groups[r] for r in rows] or self.model.groups
        drop = redundant(groups)
        return [p for p in self.session.images if p in drop]

    def select_extra_copies(self) -> None:
        self.imagesSelected.emit(self.extra_copies())

    def cluster_extra_copies(self) -> int | None:
        paths = self.extra_copies()
        if not paths:
            return None
        return self.editor.new_cluster(paths, "Duplicates")

    def done(self, result: int) -> None:
        if self._worker is not None:
            self._worker.cancel()
        super().done(result)


class StackDuplicatesProxy(PhotoProxy):
    """The image model with each group's extra copies hidden behind the one to keep (``StackCountRole``)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._hidden: set[str] = set()
        self._members: dict[str, list[str]] = {}
        # Nothing hidden, nothing to re-filter when rows change: without this every dataChanged over all rows
        # (the first live groups, a regroup) asked filterAcceptsRow of each row (13 ms at 5,000 photos).
        self.setDynamicSortFilter(False)

    def set_groups(self, groups: list[DuplicateGroup]) -> None:
        hidden = redundant(groups)
        refilter = bool(hidden or self._hidden)  # no groups before or after: nothing to filter (2 s at 100,000)
        restack = bool(groups or self._members)  # no groups before or after: every stack count stays 1
        self._hidden = hidden
        self.setDynamicSortFilter(bool(hidden))
        self._members = {g.best: list(g.members) for g in groups}
        if refilter:
            self.invalidateFilter()
        # rowCount() maps every row through filterAcceptsRow, in Python: 64 ms at 100,000 when a folder opens
        if restack and self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, 0), [StackCountRole])

    def stacked(self, path: str) -> list[str]:
        """The photos shown as ``path``: its whole group (best first), or just itself."""
        return list(self._members.get(path, [path]))

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        if not self._hidden:  # the usual case: skip reading each of (maybe 100,000) paths from the source
            return True
        path = self.sourceModel().index(source_row, 0, source_parent).data(PathRole)
        return path not in self._hidden

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == StackCountRole:
            return (len(self._members.get(index.data(PathRole), ())) or 1) if index.isValid() else None
        return super().data(index, role)


def paint_stack_edges(painter: QPainter, photo: QRectF, count: int) -> None:
    """Before the photo is drawn: two offset card edges behind it, so a stack of copies looks like one."""
    if count <= 1:
        return
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for offset in (6, 3):
        painter.setPen(QColor(0, 0, 0, 70))
        painter.setBrush(QColor(255, 255, 255, 230))
        painter.drawRoundedRect(photo.translated(offset, -offset), 4, 4)
    painter.restore()


def paint_stack_badge(painter: QPainter, photo: QRectF, count: int) -> None:
    """After the photo is drawn: a "×N" pill at its top-left corner."""
    if count <= 1:
        return
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    badge = QRectF(photo.left() + 6, photo.top() + 6, 34, 20)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 170))
    painter.drawRoundedRect(badge, 10, 10)
    painter.setPen(QColor("#ffffff"))
    font = QFont(painter.font())
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, f"×{count}")
    painter.restore()
