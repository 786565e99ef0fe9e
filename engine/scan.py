"""Find the photos in a folder tree.

The walk is deliberately conservative: hidden entries and PhotoCluster's own
export folders are skipped (so an export inside the source is never rescanned),
directory symlinks are followed only when they lead to a folder inside the
opened one, and then at most once per real directory (no loops); one that leads
outside is listed as skipped (a move export must never take photos from a place
the person did not open). File symlinks are photos like any other (a move
export copies them instead of moving; see ``engine.export``). The result is
sorted so every run sees the same order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".dib", ".tif", ".tiff", ".gif", ".heic", ".heif"}
)

# An export writes this file into its destination; a folder holding it is ours.
EXPORT_MARKER = ".photocluster-export"


@dataclass(frozen=True)
class Skipped:
    """A file (or folder) left out of the run, and why, in words for a person."""

    path: str
    reason: str


@dataclass
class ScanResult:
    root: Path
    images: list[str] = field(default_factory=list)  # paths relative to root, "/"-separated
    skipped: list[Skipped] = field(default_factory=list)


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def scan_folder(root: str | os.PathLike, exclude: tuple[str | os.PathLike, ...] = ()) -> ScanResult:
    """Walk ``root`` and list every image file in it, relative to ``root``.

    ``exclude`` names folders to leave out (an export destination, say).
    Raises ``NotADirectoryError``/``FileNotFoundError`` for a bad root; any
    problem below the root is reported in ``skipped`` instead.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"folder not found: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    root = root.resolve()
    excluded = {_real_id(Path(p)) for p in exclude if Path(p).exists()}
    result = ScanResult(root=root)
    seen_dirs: set[tuple[int, int]] = set()
    _walk(root, "", result, seen_dirs, excluded)
    result.images.sort(key=lambda p: (p.lower(), p))
    result.skipped.sort(key=lambda s: s.path)
    return result


def _real_id(path: Path) -> tuple[int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino)


def _inside(link: Path, root: Path) -> bool:
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return target == root or root in target.parents


def _walk(directory: Path, rel: str, result: ScanResult, seen: set, excluded: set) -> None:
    try:
        dir_id = _real_id(directory)
    except OSError as exc:
        result.skipped.append(Skipped(rel or ".", f"cannot open folder: {exc.strerror or exc}"))
        return
    if dir_id in seen:
        return  # a symlink back into a folder we already walked
    seen.add(dir_id)
    if dir_id in excluded:
        return
    try:
        if rel and os.lstat(directory / EXPORT_MARKER):
            return  # one of our export folders
    except FileNotFoundError:
        pass
    except OSError as exc:  # a folder we may list but not enter, or not even look into
        result.skipped.append(Skipped(rel, f"cannot open folder: {exc.strerror or exc}"))
        return
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        result.skipped.append(Skipped(rel or ".", f"cannot read folder: {exc.strerror or exc}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        child_rel = f"{rel}/{entry.name}" if rel else entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
            is_file = not is_dir and entry.is_file(follow_symlinks=True)
        except OSError as exc:
            if is_image_name(entry.name):
                result.skipped.append(Skipped(child_rel, f"cannot read: {exc.strerror or exc}"))
            continue
        if is_dir and entry.is_symlink() and not _inside(Path(entry.path), result.root):
            result.skipped.append(Skipped(child_rel, "a link to a folder outside the opened folder; not followed"))
        elif is_dir:
            _walk(Path(entry.path), child_rel, result, seen, excluded)
        elif is_file and is_image_name(entry.name):
            result.images.append(child_rel)
        elif not is_file and entry.is_symlink() and is_image_name(entry.name):
            result.skipped.append(Skipped(child_rel, "broken symbolic link"))
