"""The side list: "All photos", then every cluster (name, count, representative), Unsorted last.

A thin adapter over the Session like the image model. It is also the drop
target of the sorting: photos dropped on a cluster move there, a cluster
dropped on another merges into it, and an inline rename goes through
``setData``; each of those goes to the ``Editor`` so it can be undone.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from engine.cluster import UNSORTED
from engine.session import Change

from . import mime
from .image_model import ALL
from .session_model import SessionListModel
from .thumbnails import TIERS, ThumbnailLoader
from .undo import Editor

ClusterIdRole = Qt.ItemDataRole.UserRole + 11
CountRole = Qt.ItemDataRole.UserRole + 12
PinnedCountRole = Qt.ItemDataRole.UserRole + 13
ShortcutRole = Qt.ItemDataRole.UserRole + 14

ALL_NAME = "All photos"
THUMB_TIER = TIERS[0]


class ClusterModel(SessionListModel):
    def __init__(self, loader: ThumbnailLoader, editor: Editor, parent=None):
        super().__init__(loader, parent)
        self.editor = editor
        self._ids: list[int] = []
        self._reps: dict[int, str | None] = {}  # representative photo per cluster, kept with the rows

    def refresh(self) -> None:
        self.beginResetModel()
        self._ids = self._wanted()
        self._update_representatives()
        self.endResetModel()

    # ---- reading -----------------------------------------------------------------
    def cluster_id(self, row: int) -> int:
        return self._ids[row]

    def row_of(self, cluster: int) -> int:
        try:
            return self._ids.index(cluster)
        except ValueError:
            return -1

    def sorting_targets(self) -> list[int]:
        """The clusters photos can be sent to, in list order."""
        return [c for c in self._ids if c != ALL]

    def key_of(self, cluster: int) -> str:
        """The number key that sends photos to ``cluster``: its id + 1 (1-9), 0 for Unsorted, else "".

        Tied to the cluster, not to its row: deleting a cluster leaves every other key as it was, and
        after a regroup (ids 0..N-1, names "Cluster 1".."Cluster N") key n is "Cluster n".
        """
        if cluster == UNSORTED:
            return "0"
        if self.session is not None and cluster in self.session.names and 0 <= cluster < 9:
            return str(cluster + 1)
        return ""

    def cluster_for_key(self, key: int) -> int | None:
        """The cluster number key ``key`` sends photos to, or None."""
        if key == 0:
            return UNSORTED
        cid = key - 1
        return cid if self.session is not None and cid in self.session.names else None

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._ids) or self.session is None:
            return None
        cid = self._ids[index.row()]
        session = self.session
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return ALL_NAME if cid == ALL else session.name(cid)
        if role == ClusterIdRole:
            return cid
        if role == CountRole:
            return len(session.images) if cid == ALL else len(session.members(cid))
        if role == PinnedCountRole:
            return len(session.pinned) if cid == ALL else session.pinned_count(cid)
        if role == ShortcutRole:
            return "" if cid == ALL else self.key_of(cid)
        if role == Qt.ItemDataRole.DecorationRole:
            rep = self._representative(cid)
            return self.loader.get(rep, THUMB_TIER, group="clusters") if rep else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(cid)
        return None

    def _representative(self, cid: int) -> str | None:
        return self._reps.get(cid)

    def _update_representatives(self) -> None:
        session = self.session
        self._reps = {}
        if session is None:
            return
        for cid in self._ids:
            if cid == ALL:
                self._reps[cid] = session.images[0] if session.images else None
            else:
                self._reps[cid] = session.representative(cid)

    def _tooltip(self, cid: int) -> str:
        count = self.data(self.index(self._ids.index(cid)), CountRole)
        text = f"{count} photo{'s' if count != 1 else ''}"
        shortcut = self.data(self.index(self._ids.index(cid)), ShortcutRole)
        if cid == UNSORTED:
            text += " not in any cluster"
        if shortcut:
            text += f"\nPress {shortcut} to send the selected photos here"
        if cid not in (ALL, UNSORTED):
            text += "\nDouble-click or F2 to rename; drag onto another cluster to merge"
        return text

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        cid = self._ids[index.row()]
        if cid != ALL:
            flags |= Qt.ItemFlag.ItemIsDropEnabled
        if cid not in (ALL, UNSORTED):
            flags |= Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled
        return flags

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or self.session is None:
            return False
        cid = self._ids[index.row()]
        if cid in (ALL, UNSORTED) or not str(value).strip():
            return False
        self.editor.rename(cid, str(value))
        return True

    # ---- drag and drop -------------------------------------------------------------
    def mimeTypes(self) -> list[str]:
        return [mime.IMAGE_IDS, mime.CLUSTER_IDS]

    def mimeData(self, indexes):
        ids = [self._ids[i.row()] for i in indexes if i.isValid() and self._ids[i.row()] not in (ALL, UNSORTED)]
        return mime.pack(mime.CLUSTER_IDS, ids)

    def supportedDragActions(self):
        return Qt.DropAction.MoveAction

    def supportedDropActions(self):
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        target = self._drop_target(row, parent)
        if target is None:
            return False
        if data.hasFormat(mime.IMAGE_IDS):
            return bool(mime.unpack(data, mime.IMAGE_IDS))
        if data.hasFormat(mime.CLUSTER_IDS):
            return target != UNSORTED and bool(self._merged(data, target))
        return False

    def dropMimeData(self, data, action, row, column, parent) -> bool:
        if action == Qt.DropAction.IgnoreAction or not self.canDropMimeData(data, action, row, column, parent):
            return False
        target = self._drop_target(row, parent)
        if target is None:
            return False
        if data.hasFormat(mime.IMAGE_IDS):
            paths = [p for p in mime.unpack(data, mime.IMAGE_IDS) if isinstance(p, str)]
            return bool(self.editor.move(paths, target))
        return bool(self.editor.merge(self._merged(data, target), target))

    def _merged(self, data, target: int) -> list[int]:
        """The dragged clusters that would merge into ``target``."""
        names = self.session.names if self.session is not None else {}
        return [c for c in mime.unpack(data, mime.CLUSTER_IDS) if c in names and c != target]

    def _drop_target(self, row: int, parent) -> int | None:
        """Drops land on an item (``parent``), never between items."""
        if self.session is None or not parent.isValid() or row != -1:
            return None
        cid = self._ids[parent.row()]
        return None if cid == ALL else cid

    # ---- following the session ---------------------------------------------------
    def _wanted(self) -> list[int]:
        return [ALL, *self.session.cluster_ids()] if self.session is not None else []

    def _session_changed(self, change: Change) -> None:
        wanted = self._wanted()
        if wanted != self._ids:
            self._sync(wanted)
        self._update_representatives()
        if self._ids:
            self.dataChanged.emit(self.index(0), self.index(len(self._ids) - 1))

    def _sync(self, wanted: list[int]) -> None:
        """Remove the clusters that went, insert the ones that came; ids keep their order."""
        keep = set(wanted)
        for row in reversed(range(len(self._ids))):
            if self._ids[row] not in keep:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._ids[row]
                self.endRemoveRows()
        for row, cid in enumerate(wanted):
            if row >= len(self._ids) or self._ids[row] != cid:
                if cid in self._ids:  # order changed in a way inserts cannot express
                    self.refresh()
                    return
                self.beginInsertRows(QModelIndex(), row, row)
                self._ids.insert(row, cid)
                self.endInsertRows()

    def _thumbnail_ready(self, path: str, tier: int) -> None:
        if tier != THUMB_TIER or self.session is None:
            return
        for row, cid in enumerate(self._ids):
            if self._reps.get(cid) == path:
                index = self.index(row)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
