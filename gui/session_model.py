"""The base of every list model over the engine's Session (napari's ``_base_item_model`` idea).

A subclass says which rows it shows (``refresh``), how a Session ``Change`` moves
them (``_session_changed``) and what a finished thumbnail repaints
(``_thumbnail_ready``); binding to a session and following it is done here once.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel

from engine.session import Change, Session

from .thumbnails import ThumbnailLoader


class SessionListModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self.loader = loader
        self.session: Session | None = None
        loader.ready.connect(self._thumbnail_ready)

    def set_session(self, session: Session | None) -> None:
        """Follow ``session`` (or none) from now on, and show its rows."""
        if self.session is not None:
            self.session.unsubscribe(self._session_changed)
        self.session = session
        if session is not None:
            session.subscribe(self._session_changed)
        self.refresh()

    def refresh(self) -> None:
        raise NotImplementedError

    def _session_changed(self, change: Change) -> None:
        raise NotImplementedError

    def _thumbnail_ready(self, path: str, tier: int) -> None:
        raise NotImplementedError
