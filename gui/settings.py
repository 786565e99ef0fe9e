"""What the window remembers between runs (QSettings): recent folders, thumbnail size, geometry, analyse on open."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

MAX_RECENT = 8


def settings() -> QSettings:
    return QSettings()


def recent_folders() -> list[str]:
    value = settings().value("recentFolders", [])
    if isinstance(value, str):  # QSettings returns a lone string for a one-item list
        value = [value]
    return [p for p in (value if isinstance(value, list) else []) if Path(p).is_dir()]


def add_recent_folder(folder: Path) -> None:
    path = str(Path(folder).resolve())
    folders = [path, *[p for p in recent_folders() if p != path]][:MAX_RECENT]
    settings().setValue("recentFolders", folders)


def clear_recent_folders() -> None:
    settings().setValue("recentFolders", [])


def analyse_on_open() -> bool:
    """Start the analysis by itself when a folder opens (View menu; on unless turned off)."""
    value = settings().value("analyseOnOpen", True)
    return value not in (False, "false", "0", 0)


def set_analyse_on_open(on: bool) -> None:
    settings().setValue("analyseOnOpen", bool(on))
