"""One writer per photo folder, and one export at a time per export folder.

A second window (or app instance) on the same folder is told, not trusted; a
second export into a DEST another export is writing waits a little and is then
refused. Both are OS file locks (``filelock``), so the OS releases them even
when the app crashes or is killed. The folder lock lives beside the folder's
autosaved session; the export lock is ``DEST/.photocluster-lock``.
"""

from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock, Timeout


class FolderInUse(Exception):
    """Another PhotoCluster holds this folder; the message says so in words for a person."""


class FolderLock:
    def __init__(self, root: str | os.PathLike, data_dir: str | os.PathLike | None = None):
        from .session import session_path_for  # late: the session module pulls in the clustering libraries

        self.root = Path(root)
        self.path = session_path_for(root, data_dir).with_suffix(".lock")
        self._lock: FileLock | None = None

    def acquire(self) -> None:
        """Take the folder, or raise ``FolderInUse`` at once if another instance has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # not per thread: the window takes it in the thread that opens the folder and lets go on the GUI thread
        lock = FileLock(self.path, timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise FolderInUse(
                f"{self.root} is already open in another PhotoCluster window. This window shows it read-only: "
                "your sorting there is kept, and nothing here will overwrite it. Close the other window and "
                "reopen the folder to edit it here."
            ) from None
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @property
    def held(self) -> bool:
        return self._lock is not None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


DEST_LOCK_NAME = ".photocluster-lock"


class DestInUse(Exception):
    """Another export (or undo) is writing into this export folder; the message says so for a person."""


class DestLock:
    """Held for a whole export or undo: two runs into one DEST would race for the same names and temporaries."""

    def __init__(self, dest: str | os.PathLike, wait: float = 5.0):
        self.dest = Path(dest)
        self.path = self.dest / DEST_LOCK_NAME
        self.wait = wait
        self._lock: FileLock | None = None

    def acquire(self) -> None:
        """Take DEST (it must exist), waiting up to ``wait`` seconds, else raise ``DestInUse``."""
        lock = FileLock(self.path, timeout=self.wait)
        try:
            lock.acquire()
        except Timeout:
            raise DestInUse(
                f"another PhotoCluster export or undo is writing into {self.dest}; "
                "nothing was done: run this again when it has finished"
            ) from None
        self._lock = lock

    def release(self, remove: bool = False) -> None:
        """Let go; ``remove`` also deletes the lock file (an undo that emptied DEST), a waiting run copes."""
        if self._lock is not None:
            if remove:
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
            self._lock.release()
            self._lock = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
