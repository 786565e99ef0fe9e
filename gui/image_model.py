"""The photos shown in the grid: all of them, or one cluster's, as a thin adapter over the Session.

Rows are relative paths in the session's image order, or most doubtful first
(``set_doubtful_first``: ``Session.by_doubt``, in numpy; a sort proxy compared
rows in Python, 27 s at 100,000 photos). The model listens to Session changes:
photos leaving or joining the shown cluster become row removals/insertions (so
the selection of the others survives), a new order a layout change, other
changes ``dataChanged``. Thumbnails are asked for lazily in ``data`` and each
one that arrives is announced with ``dataChanged`` for its row alone.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from engine.cluster import UNSORTED
from engine.session import Change, Session

from . import mime
from .markup import escape
from .session_model import PathRole, PhotoListModel
from .thumbnails import TIERS, ThumbnailLoader

ClusterRole = Qt.ItemDataRole.UserRole + 2
ConfidenceRole = Qt.ItemDataRole.UserRole + 3
PinnedRole = Qt.ItemDataRole.UserRole + 4
FailedRole = Qt.ItemDataRole.UserRole + 5

ALL = -2  # the "All photos" pseudo-cluster
_MAX_RANGES = 64  # beyond this many separate row ranges a reset is cheaper than granular signals


class ImageModel(PhotoListModel):
    def __init__(self, loader: ThumbnailLoader, parent=None):
        super().__init__(loader, parent)
        self.cluster = ALL
        self.tier = TIERS[-1]
        self.doubtful_first = False

    # ---- binding -----------------------------------------------------------------
    def set_session(self, session: Session | None) -> None:
        self.cluster = ALL
        super().set_session(session)

    def show_cluster(self, cluster: int) -> None:
        if cluster != self.cluster:
            self.cluster = cluster
            self.refresh()

    def refresh(self) -> None:
        """Start over (after the image list itself changed, or another cluster was chosen)."""
        self.beginResetModel()
        self._set_paths(self._wanted())
        self.endResetModel()

    def set_doubtful_first(self, on: bool) -> None:
        """Least confident first (photos placed by hand last), or image order; the selection stays."""
        if on != self.doubtful_first:
            self.doubtful_first = on
            self._reorder(self._wanted())

    def set_tier(self, tier: int) -> None:
        if tier != self.tier:
            self.tier = tier
            if self._paths:
                self.dataChanged.emit(self.index(0), self.index(len(self._paths) - 1), [Qt.ItemDataRole.DecorationRole])

    # ---- reading -----------------------------------------------------------------
    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._paths) or self.session is None:
            return None
        path = self._paths[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return path.rsplit("/", 1)[-1]
        if role == Qt.ItemDataRole.DecorationRole:
            return self.loader.get(path, self.tier)
        if role == PathRole:
            return path
        if role == ClusterRole:
            return self.session.labels.get(path, UNSORTED)
        if role == ConfidenceRole:
            return self.session.confidence.get(path, 0.0)
        if role == PinnedRole:
            return path in self.session.pinned
        if role == FailedRole:
            return self.loader.failed(path, self.tier)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(path)
        return None

    def _tooltip(self, path: str) -> str:
        session = self.session
        if session is None:
            return ""
        cid = session.labels.get(path, UNSORTED)
        lines = [f"<b>{escape(path)}</b>", f"In {escape(session.name(cid))}"]
        if path in session.pinned:
            lines.append("Moved here by hand: stays put when the photos are regrouped")
        elif cid != UNSORTED and path in session.confidence:
            lines.append(f"Fit: {session.confidence[path]:.0%} (how clearly it belongs here rather than elsewhere)")
        return "<br>".join(lines)

    def flags(self, index):
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    # ---- dragging out --------------------------------------------------------------
    def mimeTypes(self) -> list[str]:
        return [mime.IMAGE_IDS]

    def mimeData(self, indexes):
        rows = sorted({i.row() for i in indexes if i.isValid()})
        return mime.pack(mime.IMAGE_IDS, [self._paths[r] for r in rows])

    def supportedDragActions(self):
        return Qt.DropAction.MoveAction

    # ---- following the session ---------------------------------------------------
    def _wanted(self) -> list[str]:
        if self.session is None:
            return []
        wanted = list(self.session.images) if self.cluster == ALL else list(self.session.members(self.cluster))
        return self.session.by_doubt(wanted) if self.doubtful_first else wanted

    def _session_changed(self, change: Change) -> None:
        if self.cluster != ALL and change.labels:
            self._sync(self._wanted())
        elif self.doubtful_first and (change.labels or change.pinned):  # a regroup or a pin reorders them
            self._reorder(self._wanted())
        touched = len(change.labels) + len(change.pinned)
        if touched > len(self._paths) // 4:  # a regroup: one signal, not 100,000 lookups to find the runs
            if self._paths:
                self.dataChanged.emit(self.index(0), self.index(len(self._paths) - 1))
            return
        rows = sorted(self._row_of[p] for p in {*change.labels, *change.pinned} if p in self._row_of)
        runs = _ranges(rows)
        if len(runs) > _MAX_RANGES:  # one signal, not 64 first and then one anyway (first live groups: 29 ms)
            runs = [(0, len(self._paths) - 1)]
        for first, last in runs:
            self.dataChanged.emit(self.index(first), self.index(last))

    def _sync(self, wanted: list[str]) -> None:
        """Turn the rows into ``wanted`` with removals, a reordering if the rows that stay are in another
        order now (most doubtful first, after a regroup), and insertions."""
        keep = set(wanted)
        gone = [i for i, p in enumerate(self._paths) if p not in keep]
        if len(_ranges(gone)) > _MAX_RANGES:
            self.refresh()
            return
        staying = [p for p in wanted if p in self._row_of]  # the rows gone are not in wanted
        for first, last in reversed(_ranges(gone)):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._paths[first : last + 1]
            self.endRemoveRows()
        if staying != self._paths:  # the insertions below need the rows in the order they have in wanted
            self._reorder(staying)
        current = self._paths
        i, j, inserts = 0, 0, []
        while j < len(wanted):
            if i < len(current) and current[i] == wanted[j]:
                i, j = i + 1, j + 1
                continue
            start = j
            while j < len(wanted) and (i >= len(current) or wanted[j] != current[i]):
                j += 1
            inserts.append((i, wanted[start:j]))
        if len(inserts) > _MAX_RANGES:
            self.refresh()
            return
        offset = 0
        for at, run in inserts:
            self.beginInsertRows(QModelIndex(), at + offset, at + offset + len(run) - 1)
            current[at + offset : at + offset] = run
            self.endInsertRows()
            offset += len(run)
        self._set_paths(current)

    def _reorder(self, paths: list[str]) -> None:
        """The same rows in another order, as a layout change: selections and current items move along."""
        if paths == self._paths:
            return
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        moved = [self._paths[i.row()] for i in before]
        self._set_paths(paths)
        self.changePersistentIndexList(before, [self.index(self._row_of[p]) for p in moved])
        self.layoutChanged.emit()

    def _thumbnail_ready(self, path: str, tier: int) -> None:
        row = self._row_of.get(path)
        if row is not None and tier == self.tier:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


def _ranges(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as (first, last) runs."""
    out: list[tuple[int, int]] = []
    for r in rows:
        if out and r == out[-1][1] + 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out
