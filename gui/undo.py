"""Every edit of the sorting goes through here: it runs on the Session and lands on a QUndoStack.

A Session edit applies itself and returns the ``Change`` it made, so the
command's first ``redo`` (which ``QUndoStack.push`` calls) has nothing to do;
later redos commit the change again and undos apply it backwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.cluster import Clustering
from engine.session import Change, Regroup, Session


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


READ_ONLY_TEXT = (
    "This folder is open in another PhotoCluster window, so this one only shows it: "
    "nothing can be changed here. Make the changes in the other window."
)


class Editor(QObject):
    """The window's one way to change a Session (models call it too, from drops and inline edits).

    A read-only window's editor refuses every edit and says so (``refused``), so
    no edit is ever made that could not be saved.
    """

    refused = Signal(str)  # why an edit was not made

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.stack = QUndoStack(self)
        self.session: Session | None = None
        self.read_only = False

    def set_session(self, session: Session | None, read_only: bool = False) -> None:
        self.stack.clear()
        self.session = session
        self.read_only = read_only

    def can_edit(self) -> bool:
        """True if edits are allowed; otherwise ``refused`` says why."""
        return self._editable() is not None

    def _editable(self) -> Session | None:
        """The session when edits are allowed; otherwise None, and ``refused`` says why."""
        if self.session is None:
            return None
        if self.read_only:
            self.refused.emit(READ_ONLY_TEXT)
            return None
        return self.session

    def _record(self, session: Session, change: Change) -> Change:
        if change:
            self.stack.push(SessionCommand(session, change))
        return change

    def move(self, paths: Iterable[str], cluster: int) -> Change:
        if (session := self._editable()) is None:
            return Change("Move")
        return self._record(session, session.move(paths, cluster))

    def new_cluster(self, paths: Iterable[str], name: str | None = None) -> int | None:
        if (session := self._editable()) is None:
            return None
        cid, change = session.new_cluster(paths, name)
        self._record(session, change)
        return cid

    def relocate(self, paths: dict[str, str]) -> Change:
        """Photos were moved on disk: the Session follows, and so does every edit on the undo stack."""
        if self.session is None:
            return Change("Move photos on disk")
        change = self.session.relocate(paths)
        for i in range(self.stack.count()):
            command = cast(SessionCommand, self.stack.command(i))
            command.change = command.change.renamed(change.paths)
        return change

    def rename(self, cluster: int, name: str) -> Change:
        if (session := self._editable()) is None:
            return Change("rename")
        return self._record(session, session.rename(cluster, name))

    def merge(self, sources: Iterable[int], target: int) -> Change:
        if (session := self._editable()) is None:
            return Change("merge")
        return self._record(session, session.merge(sources, target))

    def delete_cluster(self, cluster: int) -> Change:
        if (session := self._editable()) is None:
            return Change("delete_cluster")
        return self._record(session, session.delete_cluster(cluster))

    def apply(self, change: Change) -> Change:
        """Commit a Change computed elsewhere (a split made in the analysis process) and record it."""
        if (session := self._editable()) is None:
            return Change("apply")
        return self._record(session, session.commit(change))

    def reset_pins(self, paths: Iterable[str] | None = None) -> Change:
        if (session := self._editable()) is None:
            return Change("reset_pins")
        return self._record(session, session.reset_pins(paths))

    def apply_clustering(self, clustering: Clustering, settings: dict, regroup: Regroup | None = None) -> Change:
        """``regroup``: the same clustering already worked out in a worker thread; used if still current."""
        if (session := self._editable()) is None:
            return Change("apply_clustering")
        if regroup is not None and session.can_apply(regroup):
            return self._record(session, session.apply_regroup(regroup))
        return self._record(session, session.apply_clustering(clustering, settings))
