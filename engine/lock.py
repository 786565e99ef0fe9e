"""One writer per photo folder: a second window (or app instance) on the same folder is told, not trusted.

The lock is an OS file lock (``filelock``) beside the folder's autosaved session,
so it is released by the OS even when the app crashes or is killed.
"""

from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock, Timeout

from .session import session_path_for


class FolderInUse(Exception):
    """Another PhotoCluster holds this folder; the message says so in words for a person."""


class FolderLock:
    def __init__(self, root: str | os.PathLike, data_dir: str | os.PathLike | None = None):
        self.root = Path(root)
        self.path = session_path_for(root, data_dir).with_suffix(".lock")
        self._lock: FileLock | None = None

    def acquire(self) -> None:
        """Take the folder, or raise ``FolderInUse`` at once if another instance has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.path, timeout=0)
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
