"""Every edit of the sorting goes through here: it runs on the Session and lands on a QUndoStack.

A Session edit applies itself and returns the ``Change`` it made, so the
command's first ``redo`` (which ``QUndoStack.push`` calls) has nothing to do;
later redos commit the change again and undos apply it backwards.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.cluster import Clustering
from engine.session import Change, Session


class SessionCommand(QUndoCommand):
    def __init__(self, session: Session, change: Change):
        super().__init__(change.text)
        self.session, self.change = session, change
        self._applied = True

    def redo(self) -> None:
        if not self._applied:
            self.session.commit(self.change)
        self._applied = False

    def undo(self) -> None:
        self.session.undo(self.change)


class Editor(QObject):
    """The window's one way to change a Session (models call it too, from drops and inline edits)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.stack = QUndoStack(self)
        self.session: Session | None = None

    def set_session(self, session: Session | None) -> None:
        self.stack.clear()
        self.session = session

    def _record(self, change: Change) -> Change:
        if change:
            self.stack.push(SessionCommand(self.session, change))
        return change

    def move(self, paths: Iterable[str], cluster: int) -> Change:
        return self._record(self.session.move(paths, cluster))

    def new_cluster(self, paths: Iterable[str], name: str | None = None) -> int:
        cid, change = self.session.new_cluster(paths, name)
        self._record(change)
        return cid

    def rename(self, cluster: int, name: str) -> Change:
        return self._record(self.session.rename(cluster, name))

    def merge(self, sources: Iterable[int], target: int) -> Change:
        return self._record(self.session.merge(sources, target))

    def delete_cluster(self, cluster: int) -> Change:
        return self._record(self.session.delete_cluster(cluster))

    def apply(self, change: Change) -> Change:
        """Commit a Change computed elsewhere (a split made in the analysis process) and record it."""
        return self._record(self.session.commit(change))

    def reset_pins(self, paths: Iterable[str] | None = None) -> Change:
        return self._record(self.session.reset_pins(paths))

    def apply_clustering(self, clustering: Clustering, settings: dict) -> Change:
        return self._record(self.session.apply_clustering(clustering, settings))
