"""Two move exports into one DEST at once (issue 9, item 1): same file names, DEST "on another disk".

Before the fix both runs used the temp name ``.NAME.photocluster-partial``; one deleted and re-created it between
the other's verify and its ``os.link``, which then journalled "done" and removed a source whose bytes were not in
DEST. Now temp names are unique per run and an export holds a lock on DEST.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from engine import export

REPO = Path(__file__).resolve().parents[2]
NAMES = [f"img{i:02d}.jpg" for i in range(8)]
RUNNER = r"""
import errno, json, os, sys
from engine import export
from engine.pipeline import run
root, dest = sys.argv[1], sys.argv[2]
real_link = os.link
def link(src, dst, **kwargs):  # the source is "on another disk"
    if not str(src).startswith(dest):
        raise OSError(errno.EXDEV, "Invalid cross-device link")
    return real_link(src, dst, **kwargs)
os.link = link
names = json.loads(sys.argv[3])
report = run(export.run_export(export.plan_export(root, [(n, "Same") for n in names], dest, "move")))
print(report.summary(), report.stopped, file=sys.stderr)
"""


def test_two_concurrent_move_exports_into_one_dest_lose_nothing(tmp_path):
    env = {**os.environ, "PHOTOCLUSTER_EXPORT_SLOW": "0.002", "PYTHONPATH": str(REPO)}
    for trial in range(6):
        base = tmp_path / f"t{trial}"
        dest = (base / "out").resolve()
        rng = random.Random(trial)
        originals = []
        roots = [base / "a", base / "b"]
        for root in roots:
            root.mkdir(parents=True)
            for name in NAMES:
                data = rng.randbytes(150_000)
                (root / name).write_bytes(data)
                originals.append(data)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", RUNNER, str(root), str(dest), json.dumps(NAMES)],
                cwd=REPO,
                env=env,
                stderr=subprocess.PIPE,
            )
            for root in roots
        ]
        errs = [p.communicate(timeout=120)[1].decode() for p in procs]
        assert all(p.returncode == 0 for p in procs), errs
        present = [p.read_bytes() for root in roots for p in root.iterdir()]
        present += [
            p.read_bytes() for p in dest.rglob("*") if p.is_file() and not p.name.startswith(".") and p.parent != dest
        ]
        lost = [i for i, data in enumerate(originals) if data not in present]
        assert not lost, f"trial {trial}: {len(lost)} photos lost; {errs}"
        assert not [p for p in base.rglob("*") if p.name.endswith(export.PARTIAL_SUFFIX)]


def test_an_export_into_a_dest_in_use_is_refused_with_a_message(tmp_path):
    from engine.lock import DestLock
    from engine.pipeline import run

    root, dest = tmp_path / "photos", tmp_path / "out"
    root.mkdir()
    (root / "a.jpg").write_bytes(b"a" * 100)
    dest.mkdir()
    with DestLock(dest):
        report = run(export.run_export(export.plan_export(root, [("a.jpg", "X")], dest, "move"), wait=0.1))
        assert report.stopped.startswith("another PhotoCluster export or undo is writing into")
        assert not report.done and (root / "a.jpg").exists()
    report = run(export.run_export(export.plan_export(root, [("a.jpg", "X")], dest, "move"), wait=0.1))
    assert len(report.done) == 1
    with DestLock(dest):
        assert run(export.undo_export(dest, wait=0.1)).stopped.startswith("another PhotoCluster export")
    assert len(run(export.undo_export(dest)).done) == 1 and (root / "a.jpg").exists()
    assert list(dest.iterdir()) == []
