"""kill -9 an export at many points (mid-file, between link and unlink, between files), run it again, and check
that no photo was lost, doubled or left half-written and that the manifest matches the disk.

The export runs in a subprocess slowed by PHOTOCLUSTER_EXPORT_SLOW (a sleep after each 64 KiB chunk, after
each claimed name and after each file done) so that a kill lands inside a file; kill points are chosen by watching the journal grow
and then waiting a random fraction of a file's time.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from engine import export
from engine.export import plan_export, run_export
from engine.pipeline import run

REPO = Path(__file__).resolve().parents[2]
SIZE = 200_000  # four 64 KiB chunks: room to die mid-file
SLOW = 0.003  # seconds per chunk and per claimed name, in the killed runs only
RELS = [f"{folder}/img{i:02d}.jpg" for folder in ("a", "b") for i in range(10)]  # same names in a/ and b/
CLUSTERS = ["Forest", "Beach", "forest"]  # "forest" becomes "forest (2)"

RUNNER = r"""
import errno, json, os, sys
from engine import export
from engine.pipeline import run
root, dest, mode, crossfs, assignments = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5]
if crossfs:  # the source is "on another disk": linking it into dest fails like across filesystems
    real_link = os.link
    def link(src, dst, **kwargs):
        if not str(src).startswith(dest):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_link(src, dst, **kwargs)
    os.link = link
run(export.run_export(export.plan_export(root, json.loads(assignments), dest, mode)))
"""


def assignments() -> list[tuple[str, str]]:
    return [(rel, CLUSTERS[i % len(CLUSTERS)]) for i, rel in enumerate(RELS)]


def make_photos(root: Path, seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    originals = {}
    for rel in RELS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        originals[rel] = rng.randbytes(SIZE)
        (root / rel).write_bytes(originals[rel])
    return originals


def visible_files(folder: Path) -> dict[str, bytes]:
    """Files under final names (no hidden temps, no marker or journal, no manifests)."""
    found = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not any(p.startswith(".") for p in rel.split("/")) and "/" in rel:
            found[rel] = path.read_bytes()
    return found


def journal_lines(dest: Path) -> int:
    try:
        return (dest / export.JOURNAL_NAME).read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def last_is_start(dest: Path) -> bool:
    try:
        return b'"state": "start"' in (dest / export.JOURNAL_NAME).read_bytes().splitlines()[-1]
    except (FileNotFoundError, IndexError):
        return False


def kill_point(root: Path, dest: Path, mode: str) -> str:
    """Where the kill landed, judged from the disk and the journal."""
    lines = (dest / export.JOURNAL_NAME).read_text().splitlines() if (dest / export.JOURNAL_NAME).exists() else []
    try:
        last = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:  # the kill tore the record being written (the journal reader skips such a line)
        return "mid-record (journal line being written)"
    claiming = last.get("state") == "start"
    if claiming and mode == "move" and os.path.exists(last["src"]) and os.path.exists(last["dst"]):
        return "move between link and unlink"
    if claiming and os.path.lexists(last["dst"]):
        return "final name claimed, not yet journalled done"
    if any(p.name.endswith(export.PARTIAL_SUFFIX) for p in dest.rglob(".*")):
        return "mid-file (temp being written)"
    return "about to claim a name" if claiming else "between files"


def check_nothing_lost(root: Path, dest: Path, originals: dict[str, bytes], mode: str) -> None:
    """Right after a kill: every photo exists complete at least once; nothing half-written has a final name."""
    at_source, in_dest = visible_files(root), visible_files(dest)
    for rel, data in at_source.items():
        assert data == originals[rel], f"{rel} changed at the source"
    if mode == "copy":
        assert at_source == originals
    wanted = Counter(originals.values())
    dest_copies = Counter(in_dest.values())
    assert all(data in wanted for data in dest_copies), "a half-written or foreign file under a final name"
    assert all(n == 1 for n in dest_copies.values()), "a photo exported twice"
    present = set(at_source.values()) | set(in_dest.values())
    assert all(data in present for data in originals.values()), "a photo was lost"


def check_finished(tmp: Path, root: Path, dest: Path, originals: dict[str, bytes], mode: str) -> None:
    at_source, in_dest = visible_files(root), visible_files(dest)
    assert at_source == ({} if mode == "move" else originals)
    assert sorted(in_dest.values()) == sorted(originals.values())  # each photo exactly once
    assert not [p for p in tmp.rglob("*") if p.name.endswith(export.PARTIAL_SUFFIX)]
    entries = json.loads((dest / "manifest.json").read_text())
    assert {Path(e["target"]).relative_to(dest).as_posix() for e in entries} == set(in_dest)
    assert all(Path(e["target"]).read_bytes() == originals[e["path"]] for e in entries)
    rows = (dest / "manifest.csv").read_text().splitlines()
    assert rows[0] == "path,cluster,cluster_name,confidence" and len(rows) == len(originals) + 1


def killed_runs(tmp: Path, mode: str, crossfs: bool, kills: int, seed: int) -> list[str]:
    """Kill the export ``kills`` times at random points, then finish it in-process and check everything."""
    root, dest = tmp / "photos", (tmp / "out").resolve()
    originals = make_photos(root, seed)
    rng = random.Random(seed)
    env = {**os.environ, "PHOTOCLUSTER_EXPORT_SLOW": str(SLOW), "PYTHONPATH": str(REPO)}
    args = [
        sys.executable,
        "-c",
        RUNNER,
        str(root),
        str(dest),
        mode,
        "1" if crossfs else "0",
        json.dumps(assignments()),
    ]
    points = []
    while len(points) < kills:
        target = journal_lines(dest) + rng.randint(1, 5)
        at_claim = rng.random() < 0.5  # just after a name is claimed (a move: between link and unlink)
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if journal_lines(dest) >= target and (not at_claim or last_is_start(dest)):
                break
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, SLOW) if at_claim else rng.uniform(0, 6 * SLOW))  # a fraction of a file's time
        if proc.poll() is not None:
            _, err = proc.communicate()
            assert proc.returncode == 0, err.decode()
            break  # it finished before the kill
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        points.append(kill_point(root, dest, mode))
        check_nothing_lost(root, dest, originals, mode)
    report = run(run_export(plan_export(root, assignments(), dest, mode)))
    assert not report.skipped and not report.warnings, (report.skipped, report.warnings)
    assert len(report.done) == len(RELS)
    check_finished(tmp, root, dest, originals, mode)
    return points


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode, crossfs, wanted",
    [("copy", False, 21), ("move", False, 14), ("move", True, 14)],
    ids=["copy", "move-same-disk", "move-across-disks"],
)
def test_kill_9_at_many_points_loses_nothing(tmp_path, mode, crossfs, wanted, record_property):
    """Chains of up to 7 kills each, until ``wanted`` kills have landed.

    A fast export (a same-disk move is only links) can finish before a chain's kills
    all land, so further chains run on new photos; every chain is checked on its own.
    """
    points, chain = [], 0
    while len(points) < wanted and chain < 8:
        points += killed_runs(tmp_path / f"chain{chain}", mode, crossfs, kills=min(7, wanted - len(points)), seed=chain)
        chain += 1
    record_property("kill_points", dict(Counter(points)))
    print(f"\n{mode}{' across disks' if crossfs else ''}: {len(points)} kills: {dict(Counter(points))}")
    assert len(points) >= wanted
    assert len(set(points)) >= 2  # not all at the same kind of place


def test_slow_hook_is_off_by_default():
    assert export._SLOW == 0.0
