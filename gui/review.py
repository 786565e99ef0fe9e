"""Doubtful first: the photos that least belong to their cluster, where a person looks first.

The grid's own "Doubtful First" is an order of the window's ``ImageModel``
(``set_doubtful_first``). Here:

* ``ReviewDock``: "Review doubtful photos" across all clusters: a strip with
  each cluster's representative (its medoid, ``Session.representative``), and
  below it the N least confident photos of every cluster, most doubtful
  first, each labelled with its fit and cluster. Photos drag onto the cluster
  list like from the grid; "Move To" and "New Cluster" go through the
  window's ``Editor`` (undoable). ``DoubtfulModel`` is the list behind it.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.cluster import UNSORTED
from engine.session import Change, Session

from . import mime
from .grid_view import PhotoGrid
from .image_model import ClusterRole, ConfidenceRole, FailedRole, PathRole, PinnedRole
from .markup import escape
from .session_model import PhotoListModel, SessionListModel
from .thumbnails import TIERS, ThumbnailLoader
from .undo import Editor

RepresentativeRole = Qt.ItemDataRole.UserRole + 21  # path of the photo's cluster's representative
CountRole = Qt.ItemDataRole.UserRole + 22
ALL_CLUSTERS = -2
DEFAULT_PER_CLUSTER = 6


def doubtful(session: Session, per_cluster: int, cluster: int = ALL_CLUSTERS) -> list[str]:
    """The ``per_cluster`` least confident photos of every cluster (or of one), most doubtful first overall.

    Unsorted photos are all doubtful by definition and are left out (they have
    their own entry in the cluster list); so are photos moved by hand.
    """
    chosen = []
    clusters = sorted(session.names) if cluster == ALL_CLUSTERS else [cluster]
    for cid in clusters:  # by_doubt puts the pinned last: at most per_cluster of them to drop
        chosen += [p for p in session.by_doubt(session.members(cid))[:per_cluster] if p not in session.pinned]
    return session.by_doubt(chosen)


class DoubtfulModel(PhotoListModel):
    """The photos ``doubtful`` picks, with the image model's roles (so the grid's delegate paints them)."""

    def __init__(self, loader: ThumbnailLoader, parent=None):
        super().__init__(loader, parent)
        self.per_cluster = DEFAULT_PER_CLUSTER
        self.cluster = ALL_CLUSTERS
        self.tier = TIERS[0]

    def set_session(self, session: Session | None) -> None:
        self.cluster = ALL_CLUSTERS
        super().set_session(session)

    def set_per_cluster(self, n: int) -> None:
        self.per_cluster = max(1, n)
        self.refresh()

    def show_cluster(self, cluster: int) -> None:
        self.cluster = cluster
        self.refresh()

    def set_tier(self, tier: int) -> None:
        self.tier = tier

    def refresh(self) -> None:
        self.beginResetModel()
        wanted = []
        self._stale = not self.live  # hidden: nothing to rank until it is shown (0.15 s at 100,000 photos)
        if (
            self.live
            and self.session is not None
            and (self.cluster == ALL_CLUSTERS or self.cluster in self.session.names)
        ):
            wanted = doubtful(self.session, self.per_cluster, self.cluster)
        self._set_paths(wanted)
        self.endResetModel()

    def _session_changed(self, change: Change) -> None:
        self.refresh()

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._paths) or self.session is None:
            return None
        session, path = self.session, self._paths[index.row()]
        cid = session.labels.get(path, UNSORTED)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{session.confidence.get(path, 0.0):.0%} · {session.name(cid)}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self.loader.get(path, self.tier, group="review")
        if role == PathRole:
            return path
        if role == ClusterRole:
            return cid
        if role == ConfidenceRole:
            return session.confidence.get(path, 0.0)
        if role == PinnedRole:
            return path in session.pinned
        if role == FailedRole:
            return self.loader.failed(path, self.tier)
        if role == RepresentativeRole:
            return session.representative(cid)
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"<b>{escape(path)}</b><br>In {escape(session.name(cid))}, fit "
                f"{session.confidence.get(path, 0.0):.0%}: among the photos that fit this cluster least"
            )
        return None

    def flags(self, index):
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return [mime.IMAGE_IDS]

    def mimeData(self, indexes):
        rows = sorted({i.row() for i in indexes if i.isValid()})
        return mime.pack(mime.IMAGE_IDS, [self._paths[r] for r in rows])

    def supportedDragActions(self):
        return Qt.DropAction.MoveAction

    def _thumbnail_ready(self, path: str, tier: int) -> None:
        row = self._row_of.get(path)
        if row is not None and tier == self.tier:
            self.dataChanged.emit(self.index(row), self.index(row), [Qt.ItemDataRole.DecorationRole])


class RepresentativesModel(SessionListModel):
    """One row per cluster: its name and size, and its representative photo as the picture."""

    def __init__(self, loader: ThumbnailLoader, parent=None):
        super().__init__(loader, parent)
        self._ids: list[int] = []
        self._reps: dict[int, str | None] = {}

    def refresh(self) -> None:
        self.beginResetModel()
        session = self.session if self.live else None
        self._stale = not self.live
        self._ids = sorted(session.names) if session is not None else []
        self._reps = {c: session.representative(c) for c in self._ids} if session is not None else {}
        self.endResetModel()

    def _session_changed(self, change: Change) -> None:
        self.refresh()

    def cluster_id(self, row: int) -> int:
        return self._ids[row]

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._ids) or self.session is None:
            return None
        cid = self._ids[index.row()]
        rep = self._reps.get(cid)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{self.session.name(cid)} · {len(self.session.members(cid))}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self.loader.get(rep, TIERS[0], group="review") if rep else None
        if role in (PathRole, RepresentativeRole):
            return rep
        if role == ClusterRole:
            return cid
        if role == CountRole:
            return len(self.session.members(cid))
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"<b>{escape(self.session.name(cid))}</b>: its most typical photo"
                f"{' (' + escape(rep) + ')' if rep else ''}.<br>Click to review only this cluster; again for all."
            )
        return None

    def _thumbnail_ready(self, path: str, tier: int) -> None:
        for row, cid in enumerate(self._ids):
            if self._reps.get(cid) == path and tier == TIERS[0]:
                self.dataChanged.emit(self.index(row), self.index(row), [Qt.ItemDataRole.DecorationRole])


class RepresentativeDelegate(QStyledItemDelegate):
    """A cluster in the strip: its representative photo, square-cropped, with the name and size below."""

    SIDE = 84

    def sizeHint(self, option, index) -> QSize:
        return QSize(self.SIDE + 28, self.SIDE + 30)

    def paint(self, painter: QPainter, option, index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        cell = QRect(option.rect)
        photo = QRectF(cell.x() + (cell.width() - self.SIDE) / 2, cell.y() + 6, self.SIDE, self.SIDE)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        clip = QPainterPath()
        clip.addRoundedRect(photo, 6, 6)
        image = index.data(Qt.ItemDataRole.DecorationRole)
        if image is not None and not image.isNull():
            side = min(image.width(), image.height())
            source = QRectF((image.width() - side) / 2, (image.height() - side) / 2, side, side)
            painter.setClipPath(clip)
            painter.drawImage(photo, image, source)
            painter.setClipping(False)
        else:
            placeholder = QColor(palette.color(QPalette.ColorRole.Mid))
            painter.fillPath(clip, placeholder)
        if selected:
            painter.setPen(palette.color(QPalette.ColorRole.Highlight))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(photo.adjusted(-2, -2, 2, 2), 7, 7)
        text = QRect(cell.x() + 2, int(photo.bottom()) + 4, cell.width() - 4, 18)
        painter.setPen(palette.color(QPalette.ColorRole.Text if selected else QPalette.ColorRole.WindowText))
        label = painter.fontMetrics().elidedText(index.data(), Qt.TextElideMode.ElideMiddle, text.width())
        painter.drawText(text, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, label)
        painter.restore()


class ReviewDock(QDockWidget):
    """Review doubtful photos across all clusters; the public API mirrors the similarity map's."""

    imagesSelected = Signal(list)
    imageActivated = Signal(str)

    def __init__(self, editor: Editor, loader: ThumbnailLoader, parent=None):
        super().__init__("Review Doubtful Photos", parent)
        self.setObjectName("reviewDock")
        self.editor, self.loader = editor, loader
        self.session: Session | None = None
        self._echo = False
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        bar = QHBoxLayout()
        bar.setContentsMargins(10, 6, 10, 2)
        bar.setSpacing(6)
        bar.addWidget(QLabel("Least fitting"))
        self.per_cluster_spin = QSpinBox()
        self.per_cluster_spin.setRange(1, 50)
        self.per_cluster_spin.setValue(DEFAULT_PER_CLUSTER)
        self.per_cluster_spin.setToolTip("How many of each cluster's least fitting photos to show")
        bar.addWidget(self.per_cluster_spin)
        bar.addWidget(QLabel("per cluster"))
        bar.addStretch(1)
        self.move_button = QToolButton(text="Move Selection To")
        self.move_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.move_menu = QMenu(self.move_button)
        self.move_menu.aboutToShow.connect(self._fill_move_menu)
        self.move_button.setMenu(self.move_menu)
        bar.addWidget(self.move_button)
        layout.addLayout(bar)
        hint = QLabel("Each cluster's most typical photo; click one to review only that cluster.")
        hint.setObjectName("gridSubtitle")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.representatives = RepresentativesModel(loader, self)
        self.strip = QListView()
        self.strip.setObjectName("representatives")
        self.strip.setModel(self.representatives)
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setItemDelegate(RepresentativeDelegate(self.strip))
        self.strip.setUniformItemSizes(True)
        self.strip.setSpacing(2)
        self.strip.setFixedHeight(RepresentativeDelegate.SIDE + 44)
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.strip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.strip.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.strip.clicked.connect(self._representative_clicked)
        layout.addWidget(self.strip)
        self.title = QLabel(objectName="gridTitle")
        self.title.setWordWrap(True)  # the dock must not need more width than the screen has
        layout.addWidget(self.title)
        self.model = DoubtfulModel(loader, self)
        self.grid = PhotoGrid()
        self.grid.setModel(self.model)
        self.grid.set_thumbnail_size(120)
        self.grid.activated_path.connect(self.imageActivated)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._grid_menu)
        layout.addWidget(self.grid, 1)
        self.setWidget(body)
        self.per_cluster_spin.valueChanged.connect(self.model.set_per_cluster)
        self.model.modelReset.connect(self._update_title)
        self._update_title()
        for model in (self.model, self.representatives):
            model.set_live(False)  # until the dock is shown
        self.visibilityChanged.connect(self._visibility_changed)

    def _visibility_changed(self, visible: bool) -> None:
        for model in (self.model, self.representatives):
            model.set_live(visible)

    # ---- binding -------------------------------------------------------------------------
    def set_session(self, session: Session | None) -> None:
        self.session = session
        self.representatives.set_session(session)
        self.model.set_session(session)

    def select(self, paths) -> None:
        """Select ``paths`` among the shown photos (no ``imagesSelected`` back)."""
        from PySide6.QtCore import QItemSelection, QItemSelectionModel

        selection = QItemSelection()
        for p in paths:
            row = self.model.row_of(p)
            if row >= 0:
                selection.select(self.model.index(row), self.model.index(row))
        self._echo = True
        try:
            self.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        finally:
            self._echo = False

    def selected_paths(self) -> list[str]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        return [self.model.path(r) for r in rows]

    def show_cluster(self, cluster: int) -> None:
        self.model.show_cluster(cluster)

    # ---- reacting ----------------------------------------------------------------------------
    def _representative_clicked(self, index) -> None:
        cid = self.representatives.cluster_id(index.row())
        if self.model.cluster == cid:
            self.strip.clearSelection()
            self.model.show_cluster(ALL_CLUSTERS)
        else:
            self.model.show_cluster(cid)

    def _update_title(self) -> None:
        n = self.model.rowCount()
        if self.session is None or not self.session.names:
            self.title.setText("Analyse the folder to review its clusters")
        elif self.model.cluster == ALL_CLUSTERS:
            self.title.setText(f"{n} least fitting photos of all clusters, most doubtful first")
        else:
            self.title.setText(f"{n} least fitting photos of {self.session.name(self.model.cluster)}")
        self.move_button.setEnabled(bool(self.selected_paths()))

    def _selection_changed(self) -> None:
        paths = self.selected_paths()
        self.move_button.setEnabled(bool(paths))
        if not self._echo:
            self.imagesSelected.emit(paths)

    def move_selection_to(self, cluster: int) -> None:
        paths = self.selected_paths()
        if paths and self.session is not None:
            self.editor.move(paths, cluster)

    def new_cluster_from_selection(self) -> int | None:
        paths = self.selected_paths()
        if not paths or self.session is None:
            return None
        return self.editor.new_cluster(paths)

    def _fill_move_menu(self, menu: QMenu | None = None) -> None:
        menu = menu or self.move_menu
        menu.clear()
        if self.session is None:
            return
        for cid in [*sorted(self.session.names), UNSORTED]:
            action = menu.addAction(self.session.name(cid))
            action.triggered.connect(lambda checked=False, c=cid: self.move_selection_to(c))
        menu.addSeparator()
        menu.addAction("New Cluster", self.new_cluster_from_selection)

    def _grid_menu(self, pos) -> None:
        if not self.selected_paths():
            return
        menu = QMenu(self)
        self._fill_move_menu(menu.addMenu("Move To"))
        menu.exec(self.grid.viewport().mapToGlobal(pos))
