"""The open folder as a document: its Session, the folder lock, the autosave, skipped files and near-duplicates.

Everything the window knows about the folder lives here, not in widgets, so
there is one place that says what is open, whether it may be saved, and how
many edits have happened (``revision``: a background result computed from an
older revision is stale). The window only shows it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from engine.atomic import atomic_write_text
from engine.lock import FolderInUse, FolderLock
from engine.scan import Skipped, scan_folder
from engine.session import Change, Session, dumps, load_or_set_aside, session_path_for

from .markup import escape
from .workers import TaskPool, hand_over_gil

log = logging.getLogger(__name__)

AUTOSAVE_DELAY_MS = 1000


@dataclass
class Opened:
    """What opening a folder found: the photos, whether a saved sorting came back, and what to warn about."""

    root: Path
    restored: bool
    problem: str  # rich text; empty when all is well


class FolderDocument(QObject):
    bound = Signal(object)  # the Session now open, or None: models and views follow it (before ``changed``)
    changed = Signal(object)  # a Session ``Change`` (already applied, models already updated)
    saveFailed = Signal(str)  # rich text

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.session: Session | None = None
        self.lock: FolderLock | None = None  # held while a folder is open; None = read-only
        self.skipped: list[Skipped] = []
        self.duplicate_groups: list = []  # from Find Near-Duplicates; cleared when the photos change
        self.revision = 0  # Session changes seen
        self._save_pool = TaskPool(1, "autosave", self)  # one thread: saves land in the order they were made
        self._save_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save)

    @property
    def read_only(self) -> bool:
        """True when another PhotoCluster window holds this folder: nothing here is saved or changed."""
        return self.session is not None and self.lock is None

    # ---- opening and closing ------------------------------------------------------
    def open(self, root: Path) -> Opened:
        """Scan ``root``, take its lock if free and load its saved sorting; raises ``OSError`` if unreadable."""
        self.close()
        scan = scan_folder(root)
        self.lock, problem = FolderLock(scan.root), ""
        try:
            self.lock.acquire()
        except FolderInUse as exc:  # another window has it: look, but never overwrite its sorting
            self.lock, problem = None, escape(str(exc))
        session, restored, damaged = _load_or_new_session(scan.root, scan.images)
        self.skipped = list(scan.skipped)
        self.duplicate_groups = []
        self.revision = 0
        self.session = session
        self.bound.emit(session)
        session.subscribe(self._session_changed)  # after the models: they are up to date when ``changed`` comes
        return Opened(scan.root, restored, " ".join(filter(None, [problem, damaged])))

    def close(self) -> None:
        """Save and let go of the folder."""
        if self.session is None:
            return
        self.save(wait=True)
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        self.session.unsubscribe(self._session_changed)
        self.session = None
        self.skipped = []
        self.duplicate_groups = []
        self.bound.emit(None)

    def set_skipped(self, skipped: list[Skipped]) -> None:
        self.skipped = list(skipped)

    def _session_changed(self, change: Change) -> None:
        self.revision += 1
        self._save_timer.start()
        self.changed.emit(change)

    # ---- saving -------------------------------------------------------------------
    def schedule_save(self) -> None:
        self._save_timer.start()

    def save(self, wait: bool = False) -> None:
        """Write the session next to the user's data (never into the photo folder), off the GUI thread."""
        self._save_timer.stop()
        if self.session is None or self.read_only:
            return
        path, data = session_path_for(self.session.root), self.session.frozen_dict()
        if wait:
            self._save_pool.wait()
            _write_session(path, data)
        else:
            self._save_pool.submit(_write_session, path, data, failed=self._save_failed)

    def _save_failed(self, exc: BaseException) -> None:
        self.saveFailed.emit(f"Your sorting could not be saved: {escape(str(exc))}")


def _load_or_new_session(root: Path, images: list[str]) -> tuple[Session, bool, str]:
    """The saved session of ``root`` brought up to date with ``images``, else a fresh one.

    A damaged save is set aside (kept, never overwritten) and the returned text says so.
    """
    session, warning = load_or_set_aside(session_path_for(root))
    if session is None:
        return Session(root, images), False, escape(warning or "")
    session.root = root
    session.set_analysis(images, None)
    return session, True, ""


def _write_session(path: Path, data: Callable[..., dict]) -> None:
    """In the autosave thread: build and encode in slices, handing the GIL to the window between them."""
    atomic_write_text(path, dumps(data(hand_over_gil), hand_over_gil))
