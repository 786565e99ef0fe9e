"""Folders the user may not read (issue 9, item 3), tried as a real unprivileged user.

Tests here usually run as root, for whom chmod 000 means nothing; so the scan runs in a forked child that
drops to uid/gid 65534 (nobody) first, on a tree outside root's private temp folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from engine.scan import scan_folder

NOBODY = 65534


def scan_as_unprivileged(root: Path) -> dict:
    """scan_folder(root) as a user without root's powers; the result (or the exception) as a dict."""

    def scan() -> dict:
        try:
            result = scan_folder(root)
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        return {"images": result.images, "skipped": [[s.path, s.reason] for s in result.skipped]}

    if os.geteuid() != 0:
        return scan()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, scan, report through the pipe
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write, json.dumps(scan()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture
def public_tmp():
    folder = Path(tempfile.mkdtemp(prefix="pc-unpriv-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder)


def test_unreadable_subfolders_are_skipped_with_a_reason(public_tmp, photo_maker):
    root = public_tmp / "photos"
    for rel in ["a.jpg", "locked/b.jpg", "listonly/c.jpg", "noexec/d.jpg", "ok/e.jpg"]:
        photo_maker(root / rel, "red")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (root / "locked").chmod(0o000)  # neither listed nor entered
    (root / "listonly").chmod(0o311)  # entered but not listed
    (root / "noexec").chmod(0o644)  # listed but not entered
    result = scan_as_unprivileged(root)
    assert "error" not in result, result["error"]
    assert result["images"] == ["a.jpg", "ok/e.jpg"]
    skipped = dict(result["skipped"])
    assert set(skipped) == {"locked", "listonly", "noexec"}, skipped
    assert all(reason.startswith("cannot ") and "ermission" in reason for reason in skipped.values()), skipped
