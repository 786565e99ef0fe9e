"""The base of every list model over the engine's Session (napari's ``_base_item_model`` idea).

A subclass says which rows it shows (``refresh``), how a Session ``Change`` moves
them (``_session_changed``) and what a finished thumbnail repaints
(``_thumbnail_ready``); binding to a session and following it is done here once.
"""

from __future__ import annotations

from typing import cast

from PySide6.QtCore import QAbstractListModel, QModelIndex, QSortFilterProxyModel, Qt

from engine.session import Change, Session

from .thumbnails import ThumbnailLoader

PathRole = Qt.ItemDataRole.UserRole + 1  # a row's photo, as a relative path


class SessionListModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self.loader = loader
        self.session: Session | None = None
        self.live = True  # False while nobody can see it (a hidden dock): edits only mark it stale
        self._stale = False
        loader.ready.connect(self._thumbnail_ready)

    def set_live(self, live: bool) -> None:
        """Follow every edit (``True``), or catch up once when shown again: at 100,000 photos a
        hidden review dock re-ranked every photo on each edit (0.8 s of the GUI thread, bench/scale.py)."""
        self.live = live
        if live and self._stale:
            self._stale = False
            self.refresh()

    def set_session(self, session: Session | None) -> None:
        """Follow ``session`` (or none) from now on, and show its rows."""
        if self.session is not None:
            self.session.unsubscribe(self._follow)
        self.session = session
        if session is not None:
            session.subscribe(self._follow)
        self.refresh()

    def _follow(self, change: Change) -> None:
        if change.images:  # photos came, went or were renamed: rebuild (no row may name a photo gone)
            self.refresh()
        elif not self.live:
            self._stale = True
        else:
            self._session_changed(change)

    def refresh(self) -> None:
        raise NotImplementedError

    def _session_changed(self, change: Change) -> None:
        raise NotImplementedError

    def _thumbnail_ready(self, path: str, tier: int) -> None:
        raise NotImplementedError


class PhotoListModel(SessionListModel):
    """A session model whose rows are photos (relative paths), with the lookups the grid asks for."""

    def __init__(self, loader: ThumbnailLoader, parent=None):
        super().__init__(loader, parent)
        self._paths: list[str] = []
        self._row_of: dict[str, int] = {}

    def _set_paths(self, paths: list[str]) -> None:
        self._paths = paths
        self._row_of = dict(zip(paths, range(len(paths))))  # C-level: 100,000 rows in a few ms

    def path(self, row: int) -> str:
        return self._paths[row]

    def paths(self) -> list[str]:
        return list(self._paths)

    def row_of(self, path: str) -> int:
        return self._row_of.get(path, -1)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._paths)


class PhotoProxy(QSortFilterProxyModel):
    """A proxy over a ``PhotoListModel`` that answers the same lookups in its own row order."""

    def _photos(self) -> PhotoListModel:
        return cast(PhotoListModel, self.sourceModel())

    @property
    def loader(self) -> ThumbnailLoader:
        return self._photos().loader

    def path(self, row: int) -> str:
        return self.index(row, 0).data(PathRole)

    def paths(self) -> list[str]:
        return [self.path(r) for r in range(self.rowCount())]

    def row_of(self, path: str) -> int:
        photos = self._photos()
        source = photos.row_of(path)
        if source < 0:
            return -1
        return self.mapFromSource(photos.index(source, 0)).row()
