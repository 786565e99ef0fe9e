"""Write the sorted result to disk, one folder per cluster, without ever losing,
overwriting or half-writing a photo.

How it stays safe:

* A final name is claimed atomically. The data goes to a hidden temporary file
  in the target folder (``.<name>.photocluster-partial``), is fsynced and
  verified (size + BLAKE2b of what was read from the source), and only then
  gets its final name with ``os.link(tmp, final)``, which fails rather than
  replace an existing file; the next free ``name (n).ext`` is tried then.
  Where hard links are not supported (FAT, some network shares) the fallback is
  "check that the name is free, then ``os.rename``": a file created by someone
  else at that very name between the check and the rename would be replaced.
  That is the one race left, and only on such filesystems.
* A move on one filesystem is ``os.link(source, final)`` then
  ``os.unlink(source)``: the photo has at least one name at every instant.
  Otherwise it is a verified copy as above, a folder fsync, and only then the
  unlink of the source.
* Every step goes to ``DEST/.photocluster-journal.jsonl`` (one fsynced JSON
  line) before the next one starts. Running the same export again after a
  crash finishes what was half done (a move caught between link and unlink just
  gets its unlink), does not redo what is done and deletes leftover
  temporaries; ``undo_export`` reads the same journal to put things back.
* Each source is checked again just before it is touched: one that vanished or
  changed since planning is skipped with a reason, as is any file that fails
  (permission denied, ...). A full disk stops the export, since every next file
  would fail too.

Test hook: ``PHOTOCLUSTER_EXPORT_SLOW=<seconds>`` sleeps that long after each
64 KiB chunk written and after each name claimed, so that the kill -9 test can
land mid-file. Nothing else should set it.
"""

from __future__ import annotations

import csv
import errno
import filecmp
import hashlib
import io
import json
import os
import re
import shutil
import stat
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Generator, Iterable

from .pipeline import Progress
from .scan import EXPORT_MARKER

EXPORT_MARKER_NAME = EXPORT_MARKER
MODES = ("copy", "move", "symlink")
JOURNAL_NAME = ".photocluster-journal.jsonl"
PARTIAL_SUFFIX = ".photocluster-partial"
MANIFEST_CSV = "manifest.csv"
MANIFEST_JSON = "manifest.json"
MANIFEST_HEADER = ("path", "cluster", "cluster_name", "confidence")
FOLDER_NAME_LIMIT = 100  # characters; the UTF-8 form is also kept under _NAME_BYTES
_NAME_BYTES = 200  # leaves room for " (n)" and the temp-name decoration under the usual 255-byte limit
_CHUNK = 64 * 1024
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')  # path separators, NUL, controls, Windows-reserved
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}
)
_NO_HARDLINKS = frozenset({errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS})
_STOPPING = frozenset({errno.ENOSPC, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC)})
_REASONS = {
    errno.ENOSPC: "the disk is full",
    getattr(errno, "EDQUOT", errno.ENOSPC): "the disk is full",
    errno.EROFS: "the export folder is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOENT: "file or folder not found",
    errno.ENAMETOOLONG: "the file name is too long",
}
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
_MARKER_TEXT = "PhotoCluster wrote this folder. It is not scanned for photos; see manifest.csv for what is in it.\n"
_VERBS = {"copy": "Copied", "move": "Moved", "symlink": "Linked", "undo": "Undid the export of"}


def _env_seconds(name: str) -> float:
    try:
        return max(0.0, float(os.environ.get(name, "") or 0))
    except ValueError:
        return 0.0


_SLOW = _env_seconds("PHOTOCLUSTER_EXPORT_SLOW")


@dataclass(frozen=True)
class PlannedFile:
    """One photo's way out. ``cluster`` is the name given; the folder it became is ``target.parent.name``."""

    source: Path
    target: Path
    cluster: str
    relpath: str  # relative to the source root, "/"-separated
    confidence: float | None = None
    seen: tuple[int, int] | None = field(default=None, compare=False)  # (size, mtime_ns) when planned; None: missing


@dataclass
class ExportPlan:
    root: Path
    dest: Path
    mode: str
    items: list[PlannedFile]
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (relpath, reason) left out when planning

    def folders(self) -> dict[str, int]:
        """Folder name -> number of files that go into it."""
        return dict(Counter(item.target.parent.name for item in self.items))

    def describe(self) -> str:
        """The dry-run listing: one line per file, renamed ones marked, then a one-line total."""
        lines, renamed = [], 0
        for item in self.items:
            clash = item.target.name != _safe_name(item.source.name)
            renamed += clash
            note = "  (renamed: the name was taken)" if clash else ""
            lines.append(f"{self.mode} {item.relpath} -> {item.target}{note}")
        lines += [f"skip {relpath}: {reason}" for relpath, reason in self.excluded]
        total = f"{_count(len(self.items), 'photo')} into {_count(len(self.folders()), 'folder')} in {self.dest}"
        lines.append(total + (f"; {renamed} renamed to avoid a clash" if renamed else ""))
        return "\n".join(lines)


@dataclass
class ExportReport:
    dest: Path
    mode: str  # one of MODES, or "undo"
    done: list[tuple[str, Path]] = field(default_factory=list)  # (relpath, final target / restored path)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relpath, reason)
    cancelled: bool = False
    manifest_csv: Path | None = None
    manifest_json: Path | None = None
    stopped: str = ""  # why the run ended early (full disk, unusable export folder); empty if it did not
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One sentence for a person, e.g. "Copied 598 photos into 6 folders in /x; skipped 2 (see list)"."""
        folders = len({path.parent for _, path in self.done})
        where = "in" if self.mode == "undo" else f"into {_count(folders, 'folder')} in"
        text = f"{_VERBS[self.mode]} {_count(len(self.done), 'photo')} {where} {self.dest}"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} (see list)"
        if self.cancelled:
            text += "; cancelled before the end"
        if self.stopped:
            text += f"; stopped early: {self.stopped}"
        return text


class _Skip(Exception):
    """This file is left alone, for the reason given (in words for a person)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- planning


def plan_export(
    root: str | os.PathLike,
    assignments: list[tuple[str, str]],
    dest: str | os.PathLike,
    mode: str = "copy",
    *,
    confidence: dict[str, float] | None = None,
) -> ExportPlan:
    """Decide every photo's final path. Only reads the disk, so a dry run can show the plan.

    ``assignments`` are (path relative to ``root``, cluster name); ``confidence``
    (keyed the same way) goes into the manifest. A previous run's journal in
    ``dest`` is honoured: files it already exported keep their names.
    Raises ``ValueError`` for an unknown mode or ``dest == root``.
    """
    if mode not in MODES:
        raise ValueError(f"unknown export mode {mode!r}; expected one of {', '.join(MODES)}")
    root, dest = Path(root).expanduser().resolve(), Path(dest).expanduser().resolve()
    if dest == root:
        raise ValueError("choose an export folder other than the photo folder itself")
    earlier = _earlier_targets(_Journal(dest), mode)
    folder_of = _folder_names(dict.fromkeys(str(cluster) for _, cluster in assignments), dest)
    plan = ExportPlan(root, dest, mode, [])
    taken: dict[Path, set[str]] = {}
    listed: set[str] = set()
    for rel, cluster in assignments:
        source, relpath, why = _locate(root, dest, rel)
        if why is None and relpath in listed:
            why = "listed twice; exported once"
        if why:
            plan.excluded.append((str(rel), why))
            continue
        listed.add(relpath)
        folder = dest / folder_of[str(cluster)]
        if folder not in taken:
            taken[folder] = _names_in(folder)
        target = earlier.get((str(source), folder)) or folder / _free_name(_safe_name(source.name), taken[folder])
        taken[folder].add(_key(target.name))
        conf = (confidence or {}).get(rel)
        plan.items.append(PlannedFile(source, target, str(cluster), relpath, conf, _stat_key(source)))
    return plan
