"""On-disk feature cache: a photo goes through the CNN once, ever.

How a file is recognised (the cache key):

* ``fingerprint`` = BLAKE2b of the file's size, its first 64 KiB and its last
  64 KiB. It does not depend on the path or the modification time, so a
  renamed, moved or merely touched photo keeps its features, while an edited
  photo (new pixels change the compressed data and, almost always, the size)
  gets new ones.
* A stat index (path, size, mtime_ns) -> fingerprint lets an unchanged file be
  recognised without reading it at all; a touched file costs one 128 KiB read.

Vectors are stored as float16 (half the disk; far below the noise of bfloat16
inference). Features live in a SQLite database per model version (weights, pooling,
precision), in the user's cache folder. Every batch is one transaction, so a
run killed mid-way loses at most the batch in flight; SQLite's locking lets the
window and the command line share it. A database that fails its integrity check
or lacks a table or column we need is moved aside and rebuilt, with a warning;
a vector read back that is not finite or not of the expected length is not used
(the photo is analysed again and its row replaced), with a warning. A database
another process keeps locked is waited for (``BUSY_TIMEOUT``), then reported as
busy (``CacheError``): busy is not damaged, and it is never moved aside.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

log = logging.getLogger(__name__)

_EDGE = 64 * 1024
SCHEMA_VERSION = 1
BUSY_TIMEOUT = 30.0  # seconds to wait for another process's lock on the database
_NEEDED = {"features": {"fingerprint", "vector"}, "files": {"path", "size", "mtime_ns", "fingerprint"}}


class CacheError(Exception):
    """The feature cache cannot be used (busy, or its folder is unusable); the message says so for a person."""


STORAGE_DTYPE = np.float16


def as_stored(vectors: np.ndarray) -> np.ndarray:
    """Vectors exactly as a later run will read them back, so first and cached runs cluster alike."""
    return np.asarray(vectors, dtype=STORAGE_DTYPE).astype(np.float32)


def default_cache_dir() -> Path:
    override = os.environ.get("PHOTOCLUSTER_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("photocluster", appauthor=False))


def fingerprint(path: str | os.PathLike) -> str:
    """Content key of a file, independent of its name and timestamps."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        digest = hashlib.blake2b(digest_size=16)
        digest.update(st.st_size.to_bytes(8, "little"))
        digest.update(fh.read(_EDGE))
        if st.st_size > 2 * _EDGE:
            fh.seek(-_EDGE, os.SEEK_END)
        digest.update(fh.read(_EDGE))
    return digest.hexdigest()


@dataclass(frozen=True)
class FileKey:
    path: str  # absolute path
    fingerprint: str
    size: int
    mtime_ns: int

    def unchanged(self) -> bool:
        """Whether the file still looks as it did when it was fingerprinted."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_size, st.st_mtime_ns) == (self.size, self.mtime_ns)


class FeatureCache:
    """Feature vectors by content fingerprint, for one model version."""

    def __init__(self, model_id: str, cache_dir: str | os.PathLike | None = None):
        self.directory = Path(cache_dir) if cache_dir else default_cache_dir()
        self.check_folder(self.directory)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)
        self.path = self.directory / f"features-{safe}.sqlite"
        self.warnings: list[str] = []
        self._db = self._open()

    @staticmethod
    def check_folder(directory: Path) -> None:
        """Create the cache folder if need be; ``CacheError`` in words if it is a file or cannot be written."""
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not os.access(directory, os.W_OK | os.X_OK):
                raise PermissionError(13, "permission denied")
        except OSError as exc:
            what = (
                "is not a folder"
                if isinstance(exc, (FileExistsError, NotADirectoryError))
                else (f"cannot be used: {exc.strerror or exc}")
            )
            raise CacheError(
                f"the feature cache folder {directory} {what}; choose another with "
                "--cache-dir or PHOTOCLUSTER_CACHE_DIR"
            ) from None

    def _open(self) -> sqlite3.Connection:
        try:
            db = self._connect()
            ok = db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            version = db.execute("PRAGMA user_version").fetchone()[0]
            missing = _missing_columns(db)
            if ok and version in (0, SCHEMA_VERSION) and not missing:
                self._create(db)
                return db
            db.close()
            problem = (
                "failed its integrity check"
                if ok is False
                else f"has unknown schema version {version}"
                if version not in (0, SCHEMA_VERSION)
                else f"lacks {', '.join(missing)}"
            )
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                raise CacheError(
                    f"the feature cache {self.path} is busy: another PhotoCluster has held it for "
                    f"{BUSY_TIMEOUT:.0f} s; try again when it has finished"
                ) from None
            problem = f"is unreadable ({exc})"
        except sqlite3.DatabaseError as exc:
            problem = f"is unreadable ({exc})"
        aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        message = f"The feature cache {self.path} {problem}; it was moved to {aside.name} and is rebuilt."
        log.warning(message)
        self.warnings.append(message)
        db = self._connect()
        self._create(db)
        return db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        db.executescript(
            f"""
            CREATE TABLE IF NOT EXISTS features (fingerprint TEXT PRIMARY KEY, vector BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS files (
                path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                fingerprint TEXT NOT NULL);
            PRAGMA user_version = {SCHEMA_VERSION};
            """
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def keys_for(self, paths: list[str]) -> tuple[list[FileKey], list[tuple[str, str]]]:
        """Fingerprint each path, reading only files whose size or mtime changed.

        Returns the keys and a list of (path, reason) for files that could not be read.
        """
        known = {}
        for chunk in _chunks([_db_path(p) for p in paths], 900):
            rows = self._db.execute(
                f"SELECT path, size, mtime_ns, fingerprint FROM files WHERE path IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            known.update({row[0]: row[1:] for row in rows})
        keys, failed, fresh = [], [], []
        for path in paths:
            try:
                st = os.stat(path)
                hit = known.get(_db_path(path))
                if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
                    fp = hit[2]
                else:
                    fp = fingerprint(path)
                    fresh.append((_db_path(path), st.st_size, st.st_mtime_ns, fp))
            except OSError as exc:
                failed.append((path, _reason(exc)))
                continue
            keys.append(FileKey(path, fp, st.st_size, st.st_mtime_ns))
        if fresh:
            with self._transaction():
                self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", fresh)
        return keys, failed

    def fill(self, fingerprints: list[str], out: np.ndarray) -> np.ndarray:
        """Copy the cached vector of ``fingerprints[i]`` into ``out[i]``; returns which rows were found.

        Writing straight into the caller's array keeps memory at one vector per photo.
        """
        rows_of: dict[str, list[int]] = {}
        for i, fp in enumerate(fingerprints):
            rows_of.setdefault(fp, []).append(i)
        found = np.zeros(len(fingerprints), dtype=bool)
        width, bad = out.shape[1], 0
        for chunk in _chunks(list(rows_of), 900):
            rows = self._db.execute(
                f"SELECT fingerprint, vector FROM features WHERE fingerprint IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for fp, blob in rows:
                vector = np.frombuffer(blob, dtype=STORAGE_DTYPE) if isinstance(blob, bytes) else None
                if vector is None or vector.shape != (width,) or not np.isfinite(vector).all():
                    bad += 1  # not used: the photo is analysed again and put_many replaces the row
                    continue
                where = rows_of[fp]
                out[where] = vector
                found[where] = True
        if bad:
            message = f"{bad} cached feature vectors were unusable (damaged or of another size); those photos are analysed again"
            log.warning(message)
            self.warnings.append(message)
        return found

    def put_many(self, items: list[tuple[str, np.ndarray]]) -> None:
        """Store one batch of features in a single transaction."""
        rows = [(fp, np.asarray(vec, dtype=STORAGE_DTYPE).tobytes()) for fp, vec in items]
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO features VALUES (?, ?)", rows)

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM features").fetchone()[0]

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _db_path(path: str) -> str | bytes:
    """A path as SQLite can hold it: a name that is not valid UTF-8 (surrogate escapes) goes in as its bytes."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _missing_columns(db: sqlite3.Connection) -> list[str]:
    """Tables or columns we need that an existing database lacks (extra ones are fine: newer versions add some)."""
    missing = []
    for table, needed in _NEEDED.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if have:
            missing += [f"{table}.{c}" for c in sorted(needed - have)]
    return missing


def _busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file disappeared before it could be read"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot read: {exc.strerror or exc}"
