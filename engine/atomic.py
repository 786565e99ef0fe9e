"""Files written so that a crash leaves the old one or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_text(path: Path, text: str, errors: str = "strict") -> None:
    """Write ``text`` as UTF-8 so that a crash leaves the old file or the new one; ``errors="surrogateescape"``
    writes file names that are not valid UTF-8 as their original bytes."""
    atomic_write_bytes(path, text.encode("utf-8", errors))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` so that a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
