"""The open folder as a document: its Session, the folder lock, the autosave, skipped files and near-duplicates.

Everything the window knows about the folder lives here, not in widgets, so
there is one place that says what is open, whether it may be saved, and how
many edits have happened (``revision``: a background result computed from an
older revision is stale). The window only shows it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from engine.atomic import atomic_write_text
from engine.cancel import Cancelled
from engine.cluster import UNSORTED
from engine.lock import FolderInUse, FolderLock
from engine.scan import ScanResult, Skipped, scan_folder
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


@dataclass
class Prepared:
    """A folder scanned, its lock taken (None: another window holds it) and its sorting loaded: all of
    opening it but showing it. ``discard`` lets go of one that will not be shown."""

    scan: ScanResult
    lock: FolderLock | None
    session: Session
    restored: bool
    problem: str  # rich text; empty when all is well

    def discard(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def prepare_folder(root: Path, cancel: threading.Event):
    """A job (``workers.start_job``) that yields what it is doing and returns a ``Prepared``: the scan and the
    session load take 0.4-0.8 s at 100,000 photos, which the window then does not wait for. Raises ``OSError``
    for a folder that cannot be read; cancelled, it holds no lock."""
    yield f"Looking for photos in {root.name}…"
    scan = scan_folder(root)
    lock: FolderLock | None = None
    problem = ""
    try:
        lock = FolderLock(scan.root)
        lock.acquire()
    except FolderInUse as exc:  # another window has it: look, but never overwrite its sorting
        lock, problem = None, escape(str(exc))
    try:
        yield f"Found {len(scan.images):,} photos…"
        if cancel.is_set():
            raise Cancelled()
        session, restored, damaged = _load_or_new_session(scan.root, scan.images)
        session.members(UNSORTED)  # groups every cluster here, not on the GUI thread when the list shows them
        prepared = Prepared(scan, lock, session, restored, " ".join(filter(None, [problem, damaged])))
        if cancel.is_set():
            raise Cancelled()
        return prepared
    except BaseException:
        if lock is not None:
            lock.release()
        raise


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
        """``prepare_folder`` and ``bind`` in one go, on this thread; raises ``OSError`` if unreadable."""
        steps = prepare_folder(root, threading.Event())
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                return self.bind(stop.value)

    def bind(self, prepared: Prepared) -> Opened:
        """Show the folder ``prepare_folder`` made ready (closing the one open, if any)."""
        self.close()
        self.lock, self.session = prepared.lock, prepared.session
        self.skipped = list(prepared.scan.skipped)
        self.duplicate_groups = []
        self.revision = 0
        self.bound.emit(prepared.session)
        prepared.session.subscribe(self._session_changed)  # after the models: up to date when ``changed`` comes
        return Opened(prepared.scan.root, prepared.restored, prepared.problem)

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
            atomic_write_text(path, dumps(data()))  # here and now: no GIL hand-overs (they took 0.2 s more)
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
