"""Write the sorted result to disk, one folder per cluster, without ever losing,
overwriting or half-writing a photo.

How it stays safe:

* One run at a time per DEST: an export or undo holds an OS lock on
  ``DEST/.photocluster-lock``; a second one waits a few seconds and is then
  refused with a message (two runs would race for the same names).
* A final name is claimed atomically. The data goes to a hidden temporary file
  in the target folder (``.<random>.photocluster-partial``: unique per file and
  run, and short whatever the photo's name), is fsynced and
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
* A move never removes what lies outside the opened folder or is a symbolic
  link: such a source (a file link, or a photo reached through a folder link
  that leads outside) is copied instead, with a warning, and left where it is.
  (A moved link would dangle, a relative one at once.)
* ``plan_export`` only reads (a dry run is the caller printing the plan). The
  run ends with ``manifest.csv`` and ``manifest.json``, written atomically and
  describing every file the journal put in DEST that is still there; a
  manifest that PhotoCluster did not write is never replaced (ours becomes
  ``manifest (2).csv`` then).

Test hook: ``PHOTOCLUSTER_EXPORT_SLOW=<seconds>`` sleeps that long after each
64 KiB chunk written, after each name claimed and after each file done, so that
the kill -9 test can land mid-file and between files (a same-disk move is
otherwise all claim). Nothing else should set it.
"""

from __future__ import annotations

import csv
import errno
import filecmp
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import stat
import threading
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath

from .lock import DestInUse, DestLock
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
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_A_BYTE = re.compile("[\ud800-\udc7f\udd00-\udfff]")  # surrogates that are no surrogate escape
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}
)
_NO_HARDLINKS = frozenset({errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS})
_STOPPING = frozenset({errno.ENOSPC, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC)})
_REASONS = {
    errno.ENOSPC: "the disk is full",
    getattr(errno, "EDQUOT", errno.ENOSPC): "the disk is full",
    errno.EROFS: "the disk is read-only",
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
    seen: tuple[int, int] | None = field(default=None, compare=False)  # (size, mtime_ns) when planned, if known


@dataclass
class ExportPlan:
    """What an export will do; made by ``plan_export`` without writing anything."""

    root: Path
    dest: Path
    mode: str
    items: list[PlannedFile]
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (relpath, reason) left out when planning
    resumed: bool = False  # the unfinished plan of an interrupted move, read back from DEST's journal

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
    """What an export (or an undo) did, file by file, for the person and for the caller."""

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
    ``dest`` is honoured: files it already exported keep their names, and an interrupted *move* of this
    folder is finished as it was planned (``resumed`` is set and ``assignments`` are not used): the photos
    it has not moved yet would otherwise be clustered on their own and land elsewhere.
    Raises ``ValueError`` for an unknown mode or ``dest == root``.
    """
    if mode not in MODES:
        raise ValueError(f"unknown export mode {mode!r}; expected one of {', '.join(MODES)}")
    root, dest = Path(root).expanduser().resolve(), Path(dest).expanduser().resolve()
    if dest == root:
        raise ValueError("choose an export folder other than the photo folder itself")
    if dest in root.parents:  # a cluster folder could be the photo folder itself, or hold it
        raise ValueError(f"the photo folder {root} is inside the export folder {dest}; choose one outside it")
    journal = _Journal(dest)
    if mode == "move" and journal.plan and journal.plan.get("root") == str(root):
        return _plan_from_journal(journal.plan, root, dest)
    earlier = _earlier_targets(journal, mode)
    folder_of = _folder_names(dict.fromkeys(str(cluster) for _, cluster in assignments), dest)
    plan = ExportPlan(root, dest, mode, [])
    taken: dict[Path, set[str]] = {}
    listed: set[str] = set()
    for rel, cluster in assignments:
        source, relpath, why = _locate(root, dest, rel)
        if why is None and relpath in listed:
            why = "listed twice; exported once"
        if why or source is None:
            plan.excluded.append((str(rel), why or "not found"))
            continue
        listed.add(relpath)
        folder = dest / folder_of[str(cluster)]
        if folder not in taken:
            taken[folder] = _names_in(folder)
        target = earlier.get((str(source), folder)) or folder / _free_name(_safe_name(source.name), taken[folder])
        taken[folder].add(_key(target.name))
        conf = (confidence or {}).get(rel)
        conf = None if conf is None else float(conf)  # a numpy scalar would not go into the JSON journal
        plan.items.append(PlannedFile(source, target, str(cluster), relpath, conf, _stat_key(source)))
    return plan


def _plan_from_journal(rec: dict, root: Path, dest: Path) -> ExportPlan:
    items = [
        PlannedFile(
            Path(i["src"]),
            dest / i["folder"] / i["name"],
            i["cluster"],
            i["rel"],
            i["confidence"],
            tuple(i["seen"]) if i["seen"] else None,
        )
        for i in rec["items"]
    ]
    return ExportPlan(root, dest, "move", items, [tuple(x) for x in rec.get("excluded", [])], resumed=True)


def _plan_record(plan: ExportPlan) -> dict:
    items = [
        {
            "src": str(i.source),
            "folder": i.target.parent.name,
            "name": i.target.name,
            "cluster": i.cluster,
            "rel": i.relpath,
            "confidence": i.confidence,
            "seen": list(i.seen) if i.seen else None,
        }
        for i in plan.items
    ]
    return {"op": "plan", "root": str(plan.root), "items": items, "excluded": [list(x) for x in plan.excluded]}


def _locate(root: Path, dest: Path, rel: str) -> tuple[Path | None, str, str | None]:
    """(source path, normalised relpath, why it is left out or None)."""
    path = PurePosixPath(str(rel))
    if not path.parts or path.is_absolute() or ".." in path.parts or "\x00" in str(rel):
        return None, str(rel), "not a path inside the photo folder"
    source = root.joinpath(*path.parts)
    if root in dest.parents and dest in source.parents:
        return source, path.as_posix(), "already inside the export folder"
    return source, path.as_posix(), None


def _earlier_targets(journal: _Journal, mode: str) -> dict[tuple[str, Path], Path]:
    """(source, folder) -> the name an earlier run of this export gave it, where that file is still there."""
    found = {}
    for rec in [*journal.pending.values(), *journal.done.values()]:  # done wins over a mere start
        target = Path(rec["dst"])
        if _same_op(rec["op"], mode) and os.path.lexists(target):
            found[(rec["src"], target.parent)] = target
    return found


def _folder_names(clusters: Iterable[str], dest: Path) -> dict[str, str]:
    """Cluster name -> safe, distinct folder name (case-insensitively), avoiding files already in ``dest``."""
    taken = {_key(MANIFEST_CSV), _key(MANIFEST_JSON)} | _file_names_in(dest)
    return {cluster: _free_name(_safe_name(cluster, FOLDER_NAME_LIMIT), taken, keep_ext=False) for cluster in clusters}


def _safe_name(name: str, limit: int | None = None) -> str:
    """A name that every common filesystem accepts and that is not hidden. A folder name (``limit``) is
    made valid text; a file name keeps the bytes it had on disk (surrogate escapes, see ``text``)."""
    name = _FORBIDDEN.sub("_", unicodedata.normalize("NFC", str(name))).lstrip(". ").rstrip(". ")
    if limit:
        name = _LONE_SURROGATE.sub("_", name)
        name = name[:limit]
        while len(name.encode("utf-8", "surrogatepass")) > _NAME_BYTES:
            name = name[:-1]
        name = name.rstrip(". ")
    if name.split(".")[0].lower() in _WINDOWS_DEVICES:
        name = "_" + name
    return name or "Unnamed"


def text(value: str) -> str:
    """``value`` ready to be written with ``errors="surrogateescape"``: escapes of a file name's bytes are kept,
    other lone surrogates (a cluster name typed as ``\ud800``) become U+FFFD."""
    return _NOT_A_BYTE.sub("\ufffd", value)


def _key(name: str) -> str:
    """Clash key: macOS and Windows treat names differing only in case (or normal form) as one."""
    return unicodedata.normalize("NFC", name).casefold()


def _numbered(name: str, n: int, keep_ext: bool = True) -> str:
    if n == 1:
        return name
    stem, ext = os.path.splitext(name) if keep_ext else (name, "")
    tail = f" ({n}){ext}"
    while stem and len((stem + tail).encode("utf-8", "surrogatepass")) > 255:  # the usual name limit
        stem = stem[:-1]
    return stem + tail


def _free_name(name: str, taken: set[str], keep_ext: bool = True) -> str:
    n = 1
    while _key(_numbered(name, n, keep_ext)) in taken:
        n += 1
    taken.add(_key(_numbered(name, n, keep_ext)))
    return _numbered(name, n, keep_ext)


def _names_in(folder: Path) -> set[str]:
    try:
        return {_key(name) for name in os.listdir(folder)}
    except OSError:
        return set()


def _file_names_in(folder: Path) -> set[str]:
    """Entries that are not folders: a cluster folder cannot take their name."""
    try:
        with os.scandir(folder) as entries:
            return {_key(e.name) for e in entries if not e.is_dir(follow_symlinks=False)}  # a link is no folder
    except OSError:
        return set()


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


# --------------------------------------------------------------------------- running


def run_export(
    plan: ExportPlan, cancel: threading.Event | None = None, *, wait: float = 5.0
) -> Generator[Progress, None, ExportReport]:
    """Carry out ``plan``: yields ``Progress`` after each file, checks ``cancel`` between files, returns the report.

    Running the export again after a crash (re-planned or not) resumes it; see the module notes. Another
    export into the same DEST is waited for up to ``wait`` seconds, then this one stops without doing anything.
    """
    report = ExportReport(plan.dest, plan.mode, skipped=list(plan.excluded))
    total = len(plan.items)
    yield Progress("export", 0, total, message=f"Exporting {_count(total, 'photo')} to {plan.dest}")
    try:
        lock, journal = _open_dest(plan.dest, wait)
    except (OSError, DestInUse) as exc:
        report.stopped = (
            str(exc) if isinstance(exc, DestInUse) else f"cannot write to the export folder: {_reason(exc)}"
        )
        report.skipped += [(item.relpath, report.stopped) for item in plan.items]
        return report
    try:
        _recover(journal, report)
        _remove_partials({item.target.parent for item in plan.items} | journal.folders())
        if plan.mode == "move" and not plan.resumed:
            try:
                journal.write(_plan_record(plan))  # what a resumed run finishes (see plan_export)
            except OSError as exc:
                report.stopped = _reason(exc)
        started = time.perf_counter()
        for n, item in enumerate(plan.items):
            if report.stopped:
                report.skipped += [(later.relpath, f"not exported: {report.stopped}") for later in plan.items[n:]]
                break
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            message = _attempt(report, item.relpath, partial(_export_one, item, plan, journal, report))
            yield Progress.timed("export", n + 1, total, started, message)
        else:
            if journal.plan:
                journal.write({"op": "end"})
        _finish_manifests(journal, report)
    finally:
        journal.close()
        lock.release()
    return report


def _open_dest(dest: Path, wait: float) -> tuple[DestLock, _Journal]:
    """Create DEST, lock it, mark it as ours (so a scan of the source skips it) and open its journal."""
    dest.mkdir(parents=True, exist_ok=True)
    lock = DestLock(dest, wait)
    lock.acquire()
    try:
        try:
            with open(dest / EXPORT_MARKER_NAME, "x", encoding="utf-8") as marker:
                marker.write(_MARKER_TEXT)
        except FileExistsError:
            pass
        return lock, _Journal(dest).open()
    except BaseException:
        lock.release()
        raise


def _attempt(report: ExportReport, relpath: str, action: Callable[[], Path]) -> str:
    """One file's step: a failure becomes a skip with a reason; a full or read-only disk also stops the run."""
    try:
        path = action()
    except _Skip as skip:
        reason = skip.reason
    except OSError as exc:
        reason = _reason(exc)
        if exc.errno in _STOPPING:
            report.stopped = reason
    else:
        report.done.append((relpath, path))
        return f"{relpath} -> {path.parent.name}/{path.name}"
    report.skipped.append((relpath, reason))
    return f"Skipped {relpath}: {reason}"


def _export_one(item: PlannedFile, plan: ExportPlan, journal: _Journal, report: ExportReport) -> Path:
    mode = plan.mode
    if _already_exported(item, mode, journal):
        return item.target
    before = _check_source(item, journal)
    _real_folder(item.target.parent, plan.dest)
    if mode == "move" and not _movable(item.source, plan.root):
        mode = "copy"
        report.warnings.append(
            f"{item.relpath} was copied, not moved: it is a symbolic link or lies outside "
            f"{plan.root}, and a move never removes anything there"
        )
    base: dict[str, object] = {"op": mode, "src": str(item.source), "rel": item.relpath}
    base.update(cluster_name=item.cluster, confidence=item.confidence)

    def starting(final: Path, **facts) -> None:
        journal.write({**base, "hash": None, **facts, "dst": str(final), "state": "start"})

    final = _PLACE[mode](item, before, starting)
    journal.write({**journal.pending[str(item.source)], "state": "done"})
    _pause()
    return final


def _already_exported(item: PlannedFile, mode: str, journal: _Journal) -> bool:
    rec = journal.done.get(str(item.target))
    return (
        rec is not None
        and rec["src"] == str(item.source)
        and _same_op(rec["op"], mode)
        and os.path.lexists(item.target)
    )


def _real_folder(folder: Path, dest: Path) -> None:
    """Make the cluster folder; one that is a link (to anywhere) is never written through."""
    try:
        folder.mkdir()
    except FileExistsError:
        pass
    if folder.parent != dest or os.path.islink(folder) or not folder.is_dir():
        raise _Skip(f"{folder.name} in the export folder is not a folder PhotoCluster may write into")


def _same_op(recorded: str, mode: str) -> bool:
    """A move records a copy for the sources it may not remove (``_movable``)."""
    return recorded == mode or (mode == "move" and recorded == "copy")


def _movable(source: Path, root: Path) -> bool:
    """May a move remove ``source``? Only a real file whose real place is inside the opened folder."""
    if os.path.islink(source):
        return False
    real = Path(os.path.realpath(source))
    return Path(os.path.realpath(root)) in real.parents


def _check_source(item: PlannedFile, journal: _Journal) -> os.stat_result:
    """The source as it is now; skipped if it vanished or changed since the plan was made."""
    try:
        st = os.stat(item.source)
    except FileNotFoundError:
        earlier = [dst for dst, rec in journal.done.items() if rec["src"] == str(item.source) and os.path.lexists(dst)]
        raise _Skip(f"already exported to {earlier[-1]}" if earlier else "the photo is no longer there") from None
    if not stat.S_ISREG(st.st_mode):
        raise _Skip("not a regular file")
    if item.seen is not None and (st.st_size, st.st_mtime_ns) != item.seen:
        raise _Skip("the photo changed after the export was planned")
    return st


def _place_copy(item: PlannedFile, before: os.stat_result, starting: Callable) -> Path:
    folder, name = item.target.parent, item.target.name
    tmp, digest = _copy_to_temp(item.source, before, folder, name)
    return _claim_temp(tmp, folder, name, True, partial(starting, hash=digest, size=before.st_size))


def _place_move(item: PlannedFile, before: os.stat_result, starting: Callable) -> Path:
    return _move_file(item.source, before, item.target.parent, item.target.name, True, starting)


def _place_symlink(item: PlannedFile, before: os.stat_result, starting: Callable) -> Path:
    return _claim(item.target.parent, item.target.name, True, lambda final: os.symlink(item.source, final), starting)


_PLACE = {"copy": _place_copy, "move": _place_move, "symlink": _place_symlink}


def _recover(journal: _Journal, report: ExportReport) -> None:
    """Finish what a killed run left half done: a placed file is recorded, a moved photo's old name removed."""
    for rec in list(journal.pending.values()):
        if not _is_ours(rec):
            continue  # nothing was placed; the file is simply exported again
        try:
            if rec["op"] == "move":
                _drop_moved_source(rec, report)
            journal.write({**rec, "state": "done"})
        except OSError as exc:
            what = rec.get("rel", rec["src"])
            report.warnings.append(f"could not finish {what} from the interrupted run: {_reason(exc)}")


def _drop_moved_source(rec: dict, report: ExportReport) -> None:
    src = rec["src"]
    if not os.path.lexists(src):
        return
    if _same_photo(src, rec["dst"]):
        try:
            os.unlink(src)
        except OSError:
            os.unlink(rec["dst"])  # as in _move_file: the original cannot go, so it stays the only copy
            raise
    else:
        report.warnings.append(f"{src} changed after it was copied to {rec['dst']}; both were kept")


# --------------------------------------------------------------------------- safe file operations


def _move_file(
    source: Path, before: os.stat_result, folder: Path, name: str, renumber: bool, starting: Callable
) -> Path:
    """Move ``source`` into ``folder``; the photo has at least one complete name at every instant."""
    try:
        final = _claim(
            folder,
            name,
            renumber,
            lambda f: os.link(source, f),
            partial(starting, ino=before.st_ino, size=before.st_size),
        )
    except OSError as exc:
        if exc.errno not in _NO_HARDLINKS:
            raise
        tmp, digest = _copy_to_temp(source, before, folder, name)
        final = _claim_temp(tmp, folder, name, renumber, partial(starting, hash=digest, size=before.st_size))
    _fsync_dir(folder)
    try:
        os.unlink(source)
    except OSError:
        os.unlink(final)  # the original could not go (read-only?), so it stays the only copy: nothing moved
        raise
    return final


def _copy_to_temp(source: Path, before: os.stat_result, folder: Path, name: str) -> tuple[Path, str]:
    """Copy into a hidden temporary in ``folder``, fsynced and verified; returns it and the data's BLAKE2b.

    A chunked copy rather than ``shutil.copyfile`` so that the source is hashed
    in the same read and the temporary is created exclusively.
    """
    tmp = folder / _temp_name()
    _remove_quietly(tmp)  # left by a run that was killed
    try:
        fd = os.open(tmp, _NEW_FILE, 0o600)
        try:
            with open(source, "rb") as src:
                digest = _copy_data(src, fd)
            _copy_metadata(source, tmp)
            os.fsync(fd)
        finally:
            os.close(fd)
        if not _unchanged(source, before):
            raise _Skip("the photo changed while it was being copied")
        if not _same_content(tmp, before.st_size, digest):
            raise _Skip("the copy did not match the original, so it was discarded")
    except BaseException:
        _remove_quietly(tmp)
        raise
    return tmp, digest


def _copy_data(src, fd: int) -> str:
    digest = hashlib.blake2b(digest_size=32)
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
        _write_all(fd, chunk)
        _pause()
    return digest.hexdigest()


def _copy_metadata(source: Path, tmp: Path) -> None:
    """Dates and permissions, best effort: FAT and some shares refuse them, and the photo matters more."""
    try:
        shutil.copystat(source, tmp)
    except OSError:
        pass


def _claim(folder: Path, name: str, renumber: bool, place: Callable[[Path], None], starting: Callable) -> Path:
    """Give the file the first free name (``name``, then ``name (2)``...); ``place`` must fail if it exists."""
    candidates = itertools.chain([name], (_numbered(name, n) for n in range(2, 10_000) if renumber))
    for candidate in candidates:
        final = folder / candidate
        starting(final)  # journalled before the name can exist, so a killed run can tell what is ours
        try:
            place(final)
        except FileExistsError:
            continue
        _pause()
        return final
    raise _Skip(f"no free name for {name} in {folder}")


def _claim_temp(tmp: Path, folder: Path, name: str, renumber: bool, starting: Callable) -> Path:
    try:
        return _claim(folder, name, renumber, lambda final: _link_or_rename(tmp, final), starting)
    finally:
        _remove_quietly(tmp)  # after a link it is a second name of the final file; after a rename it is gone


def _link_or_rename(tmp: Path, final: Path) -> None:
    try:
        os.link(tmp, final)
    except OSError as exc:
        if exc.errno not in _NO_HARDLINKS:
            raise
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, "File exists", str(final)) from exc
        os.rename(tmp, final)  # the documented race: a file created at `final` this instant would be replaced


def _is_ours(rec: dict) -> bool:
    """Does the record's target hold exactly what PhotoCluster put there?"""
    dst = rec["dst"]
    try:
        if rec["op"] == "symlink":
            return os.readlink(dst) == rec["src"]
        st = os.lstat(dst)
        if rec.get("ino") is not None:
            return st.st_ino == rec["ino"] and st.st_size == rec["size"]
        return stat.S_ISREG(st.st_mode) and _same_content(dst, rec["size"], rec["hash"])
    except (OSError, KeyError):
        return False


def _same_photo(a: str | Path, b: str | Path) -> bool:
    """One file under two names (a hard link) or two byte-identical files."""
    return os.path.samefile(a, b) or filecmp.cmp(a, b, shallow=False)


def _unchanged(path: Path, before: os.stat_result) -> bool:
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)


def _same_content(path: str | Path, size: int, digest: str) -> bool:
    return os.path.getsize(path) == size and _file_hash(path) == digest


def _file_hash(path: str | Path) -> str:
    digest = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(folder: Path) -> None:
    """Make a new name durable before the old one goes."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open a folder; NTFS journals its names itself
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):  # filesystems without folder fsync
            raise
    finally:
        os.close(fd)


def _temp_name() -> str:
    """Unique per file and run (two runs never share a temporary) and short (a long photo name still fits)."""
    return f".{uuid.uuid4().hex[:16]}{PARTIAL_SUFFIX}"


_OUR_TEMP = re.compile(r"\.[0-9a-f]{16}" + re.escape(PARTIAL_SUFFIX))


def _remove_partials(folders: Iterable[Path], strict: bool = False) -> None:
    """Delete temporaries a killed run left; none of them is the only copy of anything. ``strict`` (a photo
    folder) only takes names exactly of our making."""
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                leftovers = [
                    e.path
                    for e in entries
                    if _OUR_TEMP.fullmatch(e.name)
                    or (not strict and e.name.startswith(".") and e.name.endswith(PARTIAL_SUFFIX))
                ]
        except OSError:
            continue
        for path in leftovers:
            _remove_quietly(path)


def _remove_quietly(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _pause() -> None:
    """The kill-test hook (module notes); a no-op unless PHOTOCLUSTER_EXPORT_SLOW is set."""
    if _SLOW:
        time.sleep(_SLOW)


# --------------------------------------------------------------------------- journal and manifests


class _Journal:
    """The export's memory across crashes: a replay of DEST's journal plus an fsynced append handle."""

    def __init__(self, dest: Path):
        self.dest = dest
        self.path = dest / JOURNAL_NAME
        self.done: dict[str, dict] = {}  # final target -> record, for every file this journal put in DEST
        self.pending: dict[str, dict] = {}  # source -> last started record that has no "done" yet
        self.manifests: dict[str, str] = {}  # "csv" / "json" -> the manifest file this journal wrote
        self.plan: dict | None = None  # the plan of a move that has not run to its end
        self._fd: int | None = None
        for line in self._lines():
            try:
                self._apply(self._here(json.loads(line)))
            except (ValueError, KeyError, TypeError, AttributeError, IndexError):
                continue  # a line torn by a crash or power cut

    def _here(self, rec: dict) -> dict:
        """The record with its target in *this* DEST: a copied (``cp -a``) or moved export folder is undone
        where it is now, never at the place it was written to. Targets are ``DEST/<folder>/<name>`` (a
        manifest: ``DEST/<name>``), so the last parts of the recorded path say which file it is."""
        if "dst" not in rec:
            return rec
        parts = Path(rec["dst"]).parts
        tail = parts[-1:] if rec["op"] == "manifest" else parts[-2:]
        return {**rec, "dst": str(self.dest.joinpath(*tail))}

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []

    def _apply(self, rec: dict) -> None:
        if rec["op"] in ("plan", "end"):
            self.plan = rec if rec["op"] == "plan" else None
        elif rec["op"] == "manifest":
            self.manifests[rec["kind"]] = rec["dst"]
        elif rec["op"] == "undo":
            self.done.pop(rec["dst"], None)
        elif rec["state"] == "start":
            self.pending[rec["src"]] = rec
        else:
            self.done.pop(rec["dst"], None)  # re-inserted last: the dict keeps journal order
            self.done[rec["dst"]] = rec
            self.pending.pop(rec["src"], None)

    def open(self) -> _Journal:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        if not self._ends_cleanly():
            self._append(b"\n")  # so that a line torn by a crash does not swallow the next one
        return self

    def _ends_cleanly(self) -> bool:
        with open(self.path, "rb") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return True
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def delete(self) -> None:
        self.close()
        os.unlink(self.path)

    def write(self, rec: dict) -> None:
        """Record one step; it is on disk when this returns."""
        self._apply(rec)
        self._append((json.dumps(rec) + "\n").encode("ascii"))

    def _append(self, data: bytes) -> None:
        assert self._fd is not None, "the journal is open while an export writes to it"
        _write_all(self._fd, data)
        os.fsync(self._fd)

    def exported(self) -> list[dict]:
        """Records of the files this journal put in DEST that are still there."""
        return [rec for dst, rec in sorted(self.done.items()) if os.path.lexists(dst)]

    def folders(self) -> set[Path]:
        return {self.dest} | {Path(rec["dst"]).parent for rec in [*self.done.values(), *self.pending.values()]}


def _finish_manifests(journal: _Journal, report: ExportReport) -> None:
    try:
        report.manifest_csv, report.manifest_json = _write_manifests(journal)
    except OSError as exc:
        report.warnings.append(f"could not write the manifest: {_reason(exc)}")


def _write_manifests(journal: _Journal) -> tuple[Path, Path]:
    """manifest.csv and manifest.json: everything this journal exported into DEST, as it is on disk now."""
    records = journal.exported()
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(MANIFEST_HEADER)
    entries = []
    for rec in records:
        folder, name, conf = Path(rec["dst"]).parent.name, text(rec.get("cluster_name", "")), rec.get("confidence")
        writer.writerow([rec.get("rel", ""), folder, name, "" if conf is None else f"{conf:.4f}"])
        entries.append(
            {"source": rec["src"], "target": rec["dst"], "path": rec.get("rel", ""), "cluster": folder}
            | {"cluster_name": name, "confidence": conf, "mode": rec["op"]}
        )
    csv_data = table.getvalue().encode("utf-8", "surrogateescape")
    json_data = (json.dumps(entries, indent=1) + "\n").encode("ascii")
    return _write_own(journal, "csv", MANIFEST_CSV, csv_data), _write_own(journal, "json", MANIFEST_JSON, json_data)


def _write_own(journal: _Journal, kind: str, name: str, data: bytes) -> Path:
    """Write a manifest atomically: replace the one this journal wrote before, or claim a free name for it
    (a manifest.csv that is not ours is never replaced)."""
    tmp = journal.dest / _temp_name()
    _remove_quietly(tmp)
    try:
        fd = os.open(tmp, _NEW_FILE, 0o644)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        known = journal.manifests.get(kind)
        if known:
            os.replace(tmp, known)
            return Path(known)
    except BaseException:
        _remove_quietly(tmp)
        raise
    final = _claim_temp(tmp, journal.dest, name, True, _unrecorded)
    journal.write({"op": "manifest", "kind": kind, "dst": str(final)})
    return final


def _unrecorded(final: Path, **facts) -> None:
    """Undo and manifests journal no start: a half-done undo shows on disk (one photo under both names), and a
    manifest is recorded once it has its name."""


# --------------------------------------------------------------------------- undo


def undo_export(
    dest: str | os.PathLike, cancel: threading.Event | None = None, *, wait: float = 5.0
) -> Generator[Progress, None, ExportReport]:
    """Put an export back using its journal: moved photos return to where they came from (when that place is
    free), copies and links PhotoCluster made are deleted if unchanged, then empty cluster folders, the
    manifests, the marker and the journal go. Whatever could not be undone stays, and stays in the journal."""
    dest = Path(dest).expanduser().resolve()
    report = ExportReport(dest, "undo")
    if not (dest / JOURNAL_NAME).is_file():
        report.stopped = f"there is no PhotoCluster export to undo in {dest}"
        return report
    lock = DestLock(dest, wait)
    try:
        lock.acquire()
        journal = _Journal(dest).open()
    except DestInUse as exc:
        report.stopped = str(exc)
        return report
    except OSError as exc:
        lock.release()
        report.stopped = f"cannot write to the export folder: {_reason(exc)}"
        return report
    emptied = False
    try:
        _recover(journal, report)
        records = list(journal.done.values())[::-1]
        # a killed undo across filesystems can leave a restored photo's temporary (a second name) beside it
        _remove_partials({Path(rec["src"]).parent for rec in records if rec["op"] == "move"}, strict=True)
        yield Progress("undo", 0, len(records), message=f"Undoing the export of {_count(len(records), 'photo')}")
        started = time.perf_counter()
        for n, rec in enumerate(records):
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            message = _attempt(report, rec.get("rel", rec["src"]), partial(_undo_one, rec, journal))
            yield Progress.timed("undo", n + 1, len(records), started, message)
            if report.stopped:
                break
        emptied = _tidy_after_undo(journal, records, report)
    finally:
        journal.close()
        lock.release(remove=emptied)
    return report


def _undo_one(rec: dict, journal: _Journal) -> Path:
    dst = Path(rec["dst"])
    if os.path.islink(dst.parent):
        raise _Skip("its folder in the export is now a link, which undo never follows")
    if not os.path.lexists(dst):
        raise _Skip("it is no longer in the export folder")  # stays in the journal: it may come back
    if rec["op"] == "move":
        restored = _move_back(rec)
    elif _is_ours(rec):
        os.unlink(dst)
        restored = dst
    else:
        raise _Skip("it was changed after the export, so it was kept")
    _forget(journal, rec)
    return restored


def _move_back(rec: dict) -> Path:
    src, dst = Path(rec["src"]), Path(rec["dst"])
    if os.path.lexists(src):
        if _same_photo(src, dst):  # an earlier undo stopped between its two steps
            os.unlink(dst)
            return src
        raise _Skip(f"{src} is taken by another file, so the photo stayed in the export")
    src.parent.mkdir(parents=True, exist_ok=True)
    return _move_file(dst, os.stat(dst), src.parent, src.name, False, _unrecorded)


def _forget(journal: _Journal, rec: dict) -> None:
    journal.write({"op": "undo", "dst": rec["dst"], "state": "done"})


def _tidy_after_undo(journal: _Journal, records: list[dict], report: ExportReport) -> bool:
    """Remove what the export added around the photos, once none of its photos is left; says if it did."""
    folders = {Path(rec["dst"]).parent for rec in records}
    _remove_partials(folders | {journal.dest})
    for folder in folders:
        try:
            folder.rmdir()  # only succeeds when empty
        except OSError:
            pass
    if journal.done:
        _finish_manifests(journal, report)
        return False
    for path in [*map(Path, journal.manifests.values()), journal.dest / EXPORT_MARKER_NAME]:
        _remove_quietly(path)
    journal.delete()
    return True


# --------------------------------------------------------------------------- words


def _reason(exc: OSError) -> str:
    reason = _REASONS.get(exc.errno) or exc.strerror or str(exc)
    return f"{reason} ({exc.filename})" if exc.filename else reason


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


__all__ = [
    "EXPORT_MARKER_NAME",
    "MODES",
    "ExportPlan",
    "ExportReport",
    "PlannedFile",
    "plan_export",
    "run_export",
    "undo_export",
]
