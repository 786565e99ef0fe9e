"""engine.export: writing the sorted result without losing, overwriting or half-writing a photo."""

from __future__ import annotations

import csv
import errno
import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from engine import export
from engine.export import (
    EXPORT_MARKER_NAME,
    MODES,
    ExportPlan,
    ExportReport,
    PlannedFile,
    plan_export,
    run_export,
    undo_export,
)
from engine.pipeline import Progress, run
from engine.scan import EXPORT_MARKER, scan_folder

REPO = Path(__file__).resolve().parents[2]


def make_tree(root: Path, rels: list[str], size: int = 3000, seed: int = 0) -> dict[str, bytes]:
    """Photos of random bytes (every one different) at the given relative paths."""
    rng = random.Random(seed)
    contents = {}
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        contents[rel] = rng.randbytes(size)
        path.write_bytes(contents[rel])
    return contents


def files_under(folder: Path) -> dict[str, bytes]:
    """Every visible file below ``folder`` (relative "/" path -> bytes), manifests left out."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        hidden = any(part.startswith(".") for part in rel.split("/"))
        if path.is_file() and not hidden and rel not in ("manifest.csv", "manifest.json"):
            found[rel] = path.read_bytes()
    return found


def partials_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(export.PARTIAL_SUFFIX)]


def export_all(root, assignments, dest, mode="copy", **kwargs) -> ExportReport:
    return run(run_export(plan_export(root, assignments, dest, mode, **kwargs)))


def read_manifest_csv(dest: Path) -> list[dict]:
    with open(dest / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def assert_manifest_matches_disk(dest: Path, root: Path, originals: dict[str, bytes]) -> None:
    """manifest.json lists exactly the exported files on disk, each holding its source's bytes; the CSV agrees."""
    entries = json.loads((dest / "manifest.json").read_text())
    on_disk = set(files_under(dest))
    assert {Path(e["target"]).relative_to(dest).as_posix() for e in entries} == on_disk
    for entry in entries:
        assert Path(entry["target"]).read_bytes() == originals[entry["path"]]
        assert Path(entry["source"]) == root / entry["path"]
    rows = read_manifest_csv(dest)
    assert sorted((r["path"], r["cluster"]) for r in rows) == sorted((e["path"], e["cluster"]) for e in entries)


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    originals = make_tree(root, ["trip/a.jpg", "trip/b.jpg", "home/c.jpg", "home/d.jpg"])
    assignments = [("trip/a.jpg", "Forest"), ("trip/b.jpg", "Beach"), ("home/c.jpg", "Forest"), ("home/d.jpg", "Beach")]
    return root, originals, assignments, tmp_path / "out"


# --------------------------------------------------------------------------- happy paths


def test_api_names():
    assert MODES == ("copy", "move", "symlink")
    assert EXPORT_MARKER_NAME == EXPORT_MARKER == ".photocluster-export"
    assert {"source", "target", "cluster", "relpath"} <= set(PlannedFile.__dataclass_fields__)
    assert {"root", "dest", "mode", "items"} <= set(ExportPlan.__dataclass_fields__)


def test_copy_puts_each_photo_in_its_cluster_folder_and_leaves_sources(photos):
    root, originals, assignments, dest = photos
    stats = {rel: os.stat(root / rel) for rel in originals}
    progress: list[Progress] = []
    report = run(run_export(plan_export(root, assignments, dest)), progress.append)

    assert files_under(dest) == {
        "Forest/a.jpg": originals["trip/a.jpg"],
        "Forest/c.jpg": originals["home/c.jpg"],
        "Beach/b.jpg": originals["trip/b.jpg"],
        "Beach/d.jpg": originals["home/d.jpg"],
    }
    assert files_under(root) == originals
    for rel, st in stats.items():
        assert os.stat(root / rel).st_mtime_ns == st.st_mtime_ns
        assert os.stat(dest / report.done[0][1]).st_size > 0
    assert os.stat(dest / "Forest/a.jpg").st_mtime_ns == stats["trip/a.jpg"].st_mtime_ns  # copystat
    assert (dest / EXPORT_MARKER_NAME).is_file()
    assert not partials_under(dest)
    assert [p.done for p in progress] == [0, 1, 2, 3, 4]
    assert all(p.stage == "export" and p.total == 4 for p in progress)
    assert report.summary() == f"Copied 4 photos into 2 folders in {dest.resolve()}"
    assert (report.cancelled, report.skipped, report.stopped) == (False, [], "")
    assert report.manifest_csv == dest.resolve() / "manifest.csv"
    assert_manifest_matches_disk(dest.resolve(), root.resolve(), originals)


def test_move_takes_photos_out_of_the_source(photos):
    root, originals, assignments, dest = photos
    report = export_all(root, assignments, dest, "move")
    assert files_under(root) == {}
    assert sorted(files_under(dest).values()) == sorted(originals.values())
    assert report.summary().startswith("Moved 4 photos into 2 folders")
    journal = [json.loads(line) for line in (dest / export.JOURNAL_NAME).read_text().splitlines()]
    assert [rec["state"] for rec in journal if rec["op"] == "move"] == ["start", "done"] * 4


def test_symlink_points_at_the_sources(photos):
    root, originals, assignments, dest = photos
    report = export_all(root, assignments, dest, "symlink")
    link = dest / "Forest" / "a.jpg"
    assert link.is_symlink() and os.readlink(link) == str(root.resolve() / "trip/a.jpg")
    assert link.read_bytes() == originals["trip/a.jpg"]
    assert files_under(root) == originals
    assert report.summary().startswith("Linked 4 photos")


def test_running_the_same_export_twice_adds_nothing(photos):
    root, originals, assignments, dest = photos
    export_all(root, assignments, dest)
    again = export_all(root, assignments, dest)
    assert len(again.done) == 4 and not again.skipped
    assert len(files_under(dest)) == 4
    assert_manifest_matches_disk(dest.resolve(), root.resolve(), originals)


# --------------------------------------------------------------------------- names


def test_same_name_from_two_subfolders_gets_numbered(tmp_path):
    root = tmp_path / "photos"
    make_tree(root, ["a/IMG_1.jpg", "b/IMG_1.jpg", "c/IMG_1.jpg"])
    plan = plan_export(root, [("a/IMG_1.jpg", "X"), ("b/IMG_1.jpg", "X"), ("c/IMG_1.jpg", "X")], tmp_path / "out")
    assert [item.target.name for item in plan.items] == ["IMG_1.jpg", "IMG_1 (2).jpg", "IMG_1 (3).jpg"]
    assert plan.folders() == {"X": 3}
    assert "renamed" in plan.describe()


def test_file_already_in_dest_is_never_overwritten(tmp_path):
    root, dest = tmp_path / "photos", tmp_path / "out"
    originals = make_tree(root, ["a/pic.jpg", "a/Pic2.JPG"])
    (dest / "X").mkdir(parents=True)
    (dest / "X" / "pic.jpg").write_bytes(b"someone else's photo")
    (dest / "X" / "pic2.jpg").write_bytes(b"differs only in case")
    report = export_all(root, [("a/pic.jpg", "X"), ("a/Pic2.JPG", "X")], dest)
    assert (dest / "X" / "pic.jpg").read_bytes() == b"someone else's photo"
    assert (dest / "X" / "pic2.jpg").read_bytes() == b"differs only in case"
    assert (dest / "X" / "pic (2).jpg").read_bytes() == originals["a/pic.jpg"]
    assert (dest / "X" / "Pic2 (2).JPG").read_bytes() == originals["a/Pic2.JPG"]
    assert len(report.done) == 2


def test_names_differing_only_in_case_are_a_clash(tmp_path):
    root = tmp_path / "photos"
    make_tree(root, ["a/Beach.jpg", "b/beach.jpg"])
    plan = plan_export(root, [("a/Beach.jpg", "Sea"), ("b/beach.jpg", "sea")], tmp_path / "out")
    assert [item.target.relative_to(plan.dest).as_posix() for item in plan.items] == [
        "Sea/Beach.jpg",
        "sea (2)/beach.jpg",
    ]
    plan = plan_export(root, [("a/Beach.jpg", "Sea"), ("b/beach.jpg", "Sea")], tmp_path / "out")
    assert [item.target.name for item in plan.items] == ["Beach.jpg", "beach (2).jpg"]


def test_a_name_taken_after_planning_still_gets_the_next_free_name(photos):
    root, originals, assignments, dest = photos
    plan = plan_export(root, assignments, dest)
    (dest / "Forest").mkdir(parents=True)
    (dest / "Forest" / "a.jpg").write_bytes(b"arrived meanwhile")
    report = run(run_export(plan))
    assert (dest / "Forest" / "a.jpg").read_bytes() == b"arrived meanwhile"
    assert (dest / "Forest" / "a (2).jpg").read_bytes() == originals["trip/a.jpg"]
    assert ("trip/a.jpg", dest.resolve() / "Forest" / "a (2).jpg") in report.done


@pytest.mark.parametrize(
    "name, folder",
    [
        ("Forest", "Forest"),
        ("a/b\\c", "a_b_c"),
        ("nul\x00byte", "nul_byte"),
        ("..", "Unnamed"),
        (".", "Unnamed"),
        ("", "Unnamed"),
        ("   ", "Unnamed"),
        ("...hidden", "hidden"),
        (" spaced. ", "spaced"),
        ('what? <"yes">: *|', "what_ __yes___ __"),
        ("CON", "_CON"),
        ("lpt1.txt", "_lpt1.txt"),
        ("x" * 300, "x" * 100),
        ("é" * 150, "é" * 100),
        ("😀" * 80, "😀" * 50),
    ],
)
def test_cluster_names_become_safe_folder_names(name, folder):
    assert export._safe_name(name, export.FOLDER_NAME_LIMIT) == folder


def test_colliding_cluster_names_get_numbered_and_avoid_files_in_dest(tmp_path):
    root, dest = tmp_path / "photos", tmp_path / "out"
    make_tree(root, ["1.jpg", "2.jpg", "3.jpg", "4.jpg", "5.jpg"])
    dest.mkdir()
    (dest / "Cats").write_text("a file, not a folder")
    assignments = [("1.jpg", "a/b"), ("2.jpg", "a_b"), ("3.jpg", "A_B"), ("4.jpg", "Cats"), ("5.jpg", "manifest.csv")]
    plan = plan_export(root, assignments, dest)
    assert [item.target.parent.name for item in plan.items] == [
        "a_b",
        "a_b (2)",
        "A_B (3)",
        "Cats (2)",
        "manifest.csv (2)",
    ]
    assert [item.cluster for item in plan.items] == ["a/b", "a_b", "A_B", "Cats", "manifest.csv"]


def test_dry_run_touches_nothing(photos):
    root, _originals, assignments, dest = photos
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    plan = plan_export(root, assignments, dest, "move")
    text = plan.describe()
    assert not dest.exists()
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before
    assert f"move trip/a.jpg -> {dest.resolve() / 'Forest' / 'a.jpg'}" in text.splitlines()
    assert text.splitlines()[-1] == f"4 photos into 2 folders in {dest.resolve()}"
    assert plan.folders() == {"Forest": 2, "Beach": 2}


def test_bad_paths_and_duplicates_are_left_out_of_the_plan(photos):
    root, _originals, assignments, dest = photos
    plan = plan_export(
        root,
        [*assignments, ("../escape.jpg", "X"), ("/etc/passwd", "X"), ("trip/a.jpg", "Y"), ("a\x00.jpg", "X")],
        dest,
    )
    assert len(plan.items) == 4
    assert [rel for rel, _ in plan.excluded] == ["../escape.jpg", "/etc/passwd", "trip/a.jpg", "a\x00.jpg"]
    report = run(run_export(plan))
    assert len(report.skipped) == 4 and "skipped 4" in report.summary()


def test_bad_mode_or_dest_is_refused(photos):
    root, _originals, assignments, dest = photos
    with pytest.raises(ValueError, match="mode"):
        plan_export(root, assignments, dest, "hardlink")
    with pytest.raises(ValueError, match="folder"):
        plan_export(root, assignments, root)


# --------------------------------------------------------------------------- failures


def test_move_keeps_the_source_when_the_copy_does_not_verify(photos, monkeypatch):
    root, originals, assignments, dest = photos
    monkeypatch.setattr(export.os, "link", _no_hardlinks)
    monkeypatch.setattr(export, "_file_hash", lambda path: "0" * 64)
    report = export_all(root, assignments, dest, "move")
    assert files_under(root) == originals
    assert files_under(dest) == {}
    assert not partials_under(dest)
    assert len(report.skipped) == 4 and all("did not match" in why for _, why in report.skipped)
    assert json.loads((dest / "manifest.json").read_text()) == []


def test_move_across_filesystems_copies_verifies_then_removes(photos, monkeypatch):
    root, originals, assignments, dest = photos
    monkeypatch.setattr(export.os, "link", _no_hardlinks)
    report = export_all(root, assignments, dest, "move")
    assert files_under(root) == {}
    assert sorted(files_under(dest).values()) == sorted(originals.values())
    assert not partials_under(dest) and len(report.done) == 4
    done = [json.loads(line) for line in (dest / export.JOURNAL_NAME).read_text().splitlines()]
    assert all(len(rec["hash"]) == 64 for rec in done if rec["op"] == "move" and rec["state"] == "done")
    assert_manifest_matches_disk(dest.resolve(), root.resolve(), originals)


def _no_hardlinks(src, dst, **kwargs):
    raise OSError(errno.EXDEV, "Invalid cross-device link", str(src), None, str(dst))


@pytest.mark.parametrize("mode, crossfs, room", [("copy", False, 4500), ("move", True, 4500), ("move", False, 1000)])
def test_full_disk_stops_cleanly(photos, monkeypatch, mode, crossfs, room):
    root, originals, assignments, dest = photos
    if crossfs:
        monkeypatch.setattr(export.os, "link", _no_hardlinks)
    real_write, written = os.write, [0]

    def filling_write(fd, data):  # the disk fills up at the second photo (a same-disk move only writes the journal)
        written[0] += len(data)
        if written[0] > room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(export.os, "write", filling_write)
    report = export_all(root, assignments, dest, mode)
    monkeypatch.undo()

    assert report.stopped == "the disk is full"
    assert "stopped early: the disk is full" in report.summary()
    assert not partials_under(dest)
    everything = list(files_under(root).values()) + list(files_under(dest).values())
    assert sorted(everything) == sorted(originals.values()) if mode == "move" else files_under(root) == originals
    for rel, final in report.done:
        assert final.read_bytes() == originals[rel]
    assert len(report.done) + len(report.skipped) == 4
    assert any("not exported: the disk is full" in why for _, why in report.skipped)
    assert any("could not write the manifest" in w for w in report.warnings)
    # with space again, the same export finishes and nothing is doubled
    report = export_all(root, assignments, dest, mode)
    assert len(report.done) == 4 and not report.skipped
    assert sorted(files_under(dest).values()) == sorted(originals.values())
    assert_manifest_matches_disk(dest.resolve(), root.resolve(), originals)


def test_unwritable_dest_folder_skips_each_file_with_a_reason(photos, monkeypatch):
    root, originals, assignments, dest = photos
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):  # like a folder the user may not write to (tests run as root)
        if str(path).endswith(export.PARTIAL_SUFFIX) or os.path.basename(path) == export.JOURNAL_NAME:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(export.os, "open", refusing_open)
    report = export_all(root, assignments, dest, "copy")
    assert report.stopped.startswith("cannot write to the export folder: permission denied")
    assert len(report.skipped) == 4 and files_under(root) == originals


def test_permission_denied_on_one_file_skips_it_and_carries_on(photos, monkeypatch):
    root, originals, assignments, dest = photos

    def refusing_open(path, *args, **kwargs):  # the one photo the user may not read (tests run as root)
        if str(path).endswith("b.jpg"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(export, "open", refusing_open, raising=False)
    monkeypatch.setattr(export.os, "link", _no_hardlinks)  # a move between filesystems, so through a temp
    report = export_all(root, assignments, dest, "move")
    assert [rel for rel, _ in report.skipped] == ["trip/b.jpg"]
    assert report.skipped[0][1].startswith("permission denied")
    assert not report.stopped and len(report.done) == 3
    assert files_under(root) == {"trip/b.jpg": originals["trip/b.jpg"]}


def test_read_only_dest_is_reported_not_raised(photos, monkeypatch):
    root, _originals, assignments, dest = photos

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    report = export_all(root, assignments, dest)
    assert report.stopped.startswith("cannot write to the export folder: the disk is read-only")
    assert len(report.skipped) == 4 and not report.done
    assert "stopped early" in report.summary()


@pytest.mark.parametrize("crossfs", [False, True])
def test_a_source_that_cannot_be_removed_is_not_moved_at_all(photos, monkeypatch, crossfs):
    root, originals, assignments, dest = photos
    real_unlink = os.unlink
    if crossfs:
        monkeypatch.setattr(export.os, "link", _no_hardlinks)

    def read_only_source(path, *args, **kwargs):
        if Path(path).is_relative_to(root):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(export.os, "unlink", read_only_source)
    report = export_all(root, assignments, dest, "move")
    monkeypatch.undo()
    assert files_under(root) == originals and files_under(dest) == {}
    assert report.stopped.startswith("the disk is read-only") and not report.done
    assert json.loads((dest / "manifest.json").read_text()) == []


def test_source_vanished_or_changed_after_planning_is_skipped(photos):
    root, _originals, assignments, dest = photos
    plan = plan_export(root, assignments, dest, "move")
    (root / "trip/a.jpg").unlink()
    (root / "trip/b.jpg").write_bytes(b"edited meanwhile")
    report = run(run_export(plan))
    assert dict(report.skipped) == {
        "trip/a.jpg": "the photo is no longer there",
        "trip/b.jpg": "the photo changed after the export was planned",
    }
    assert (root / "trip/b.jpg").read_bytes() == b"edited meanwhile"
    assert len(report.done) == 2


def test_changed_copy_in_dest_is_kept_by_undo_and_a_taken_source_place_is_reported(photos):
    root, originals, assignments, dest = photos
    export_all(root, assignments[:2], dest, "copy")
    export_all(root, assignments[2:], dest, "move")
    (dest / "Forest" / "a.jpg").write_bytes(b"retouched in the export")
    (root / "home/d.jpg").write_bytes(b"a new photo where the moved one was")
    report = run(undo_export(dest))
    assert dict(report.skipped) == {
        "trip/a.jpg": "it was changed after the export, so it was kept",
        "home/d.jpg": f"{root.resolve() / 'home/d.jpg'} is taken by another file, so the photo stayed in the export",
    }
    assert (root / "home/c.jpg").read_bytes() == originals["home/c.jpg"]
    assert files_under(dest) == {"Forest/a.jpg": b"retouched in the export", "Beach/d.jpg": originals["home/d.jpg"]}
    assert (dest / export.JOURNAL_NAME).exists()  # what is left can still be undone later
    assert [r["path"] for r in read_manifest_csv(dest)] == ["home/d.jpg", "trip/a.jpg"]


# --------------------------------------------------------------------------- dest inside the source, manifest


def test_dest_inside_the_source_root(tmp_path):
    root = tmp_path / "photos"
    originals = make_tree(root, ["a.jpg", "b/c.jpg"])
    dest = root / "sorted"
    export_all(root, [("a.jpg", "One"), ("b/c.jpg", "Two")], dest, "copy")
    scan = scan_folder(root)
    assert scan.images == ["a.jpg", "b/c.jpg"]  # the export is not rescanned: it carries the marker
    plan = plan_export(root, [(rel, "One") for rel in [*scan.images, "sorted/One/a.jpg"]], dest, "copy")
    assert plan.excluded == [("sorted/One/a.jpg", "already inside the export folder")]
    report = run(run_export(plan))
    expected = {"One/a.jpg": originals["a.jpg"], "Two/c.jpg": originals["b/c.jpg"], "One/c.jpg": originals["b/c.jpg"]}
    assert files_under(dest) == expected
    assert len(report.done) == 2


def test_manifest_lists_clusters_and_confidence(photos):
    root, originals, assignments, dest = photos
    conf = {"trip/a.jpg": 0.91234, "home/d.jpg": np.float32(0.5)}  # the session may hold numpy scalars
    export_all(root, [*assignments[:3], ("home/d.jpg", "Bad/name")], dest, confidence=conf)
    assert (dest / "manifest.csv").read_text().splitlines()[0] == "path,cluster,cluster_name,confidence"
    rows = {r["path"]: r for r in read_manifest_csv(dest)}
    assert rows["trip/a.jpg"] == {
        "path": "trip/a.jpg",
        "cluster": "Forest",
        "cluster_name": "Forest",
        "confidence": "0.9123",
    }
    assert rows["home/d.jpg"] == {
        "path": "home/d.jpg",
        "cluster": "Bad_name",
        "cluster_name": "Bad/name",
        "confidence": "0.5000",
    }
    assert rows["home/c.jpg"]["confidence"] == ""
    entries = json.loads((dest / "manifest.json").read_text())
    assert {e["mode"] for e in entries} == {"copy"}
    assert {"source", "target", "cluster", "mode"} <= set(entries[0])
    assert_manifest_matches_disk(dest.resolve(), root.resolve(), originals)
    assert not partials_under(dest)


def test_a_manifest_that_is_not_ours_is_never_replaced(photos):
    root, _originals, assignments, dest = photos
    dest.mkdir()
    (dest / "manifest.csv").write_text("the camera's own list\n")
    first = export_all(root, assignments[:2], dest)
    second = export_all(root, assignments, dest)
    assert (dest / "manifest.csv").read_text() == "the camera's own list\n"
    assert first.manifest_csv == second.manifest_csv == dest.resolve() / "manifest (2).csv"
    assert len(second.manifest_csv.read_text().splitlines()) == 1 + 4


# --------------------------------------------------------------------------- undo, cancel, resume


def test_undo_restores_a_move_and_removes_copies_and_links(photos):
    root, originals, assignments, dest = photos
    export_all(root, assignments[:2], dest, "move")
    export_all(root, assignments[2:3], dest, "copy")
    export_all(root, assignments[3:], dest, "symlink")
    assert files_under(root) == {"home/c.jpg": originals["home/c.jpg"], "home/d.jpg": originals["home/d.jpg"]}
    progress: list[Progress] = []
    report = run(undo_export(dest), progress.append)
    assert files_under(root) == originals
    assert sorted(p.name for p in dest.iterdir()) == []
    assert not report.skipped and len(report.done) == 4
    assert progress[-1].stage == "undo" and progress[-1].done == 4
    assert report.summary() == f"Undid the export of 4 photos in {dest.resolve()}"


def test_undo_across_filesystems_and_without_a_journal(photos, monkeypatch):
    root, originals, assignments, dest = photos
    export_all(root, assignments, dest, "move")
    monkeypatch.setattr(export.os, "link", _no_hardlinks)
    report = run(undo_export(dest))
    assert files_under(root) == originals and len(report.done) == 4
    assert not partials_under(root)
    nothing = run(undo_export(dest))
    assert nothing.stopped.startswith("there is no PhotoCluster export to undo")


def test_cancel_stops_between_files_and_the_rerun_finishes(photos):
    root, originals, assignments, dest = photos
    cancel = threading.Event()
    gen = run_export(plan_export(root, assignments, dest, "move"), cancel)
    report = run(gen, lambda p: cancel.set() if p.done == 2 else None)
    assert report.cancelled and len(report.done) == 2
    assert "cancelled" in report.summary()
    assert len(files_under(root)) == 2 and len(files_under(dest)) == 2
    assert len(read_manifest_csv(dest)) == 2
    report = export_all(root, assignments, dest, "move")
    assert not report.skipped and files_under(root) == {}
    assert_manifest_matches_disk(dest.resolve(), root.resolve(), originals)


class Killed(BaseException):
    """Stands in for kill -9: nothing after the raising point runs, no cleanup."""


def test_a_move_killed_between_link_and_unlink_is_finished_on_rerun(photos, monkeypatch):
    root, originals, assignments, dest = photos
    real_unlink = os.unlink

    def dying_unlink(path, *args, **kwargs):
        if str(path).endswith("b.jpg") and "photos" in str(path):
            raise Killed
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(export.os, "unlink", dying_unlink)
    with pytest.raises(Killed):
        export_all(root, assignments, dest, "move")
    monkeypatch.undo()
    assert (root / "trip/b.jpg").samefile(dest / "Beach/b.jpg")  # both names exist: nothing lost
    report = export_all(root, assignments, dest, "move")
    assert files_under(root) == {} and len(files_under(dest)) == 4
    assert len(report.done) == 4 and not report.warnings
    assert_manifest_matches_disk(dest.resolve(), root.resolve(), originals)


def test_leftover_partials_are_deleted_and_a_claimed_copy_is_adopted(photos, monkeypatch):
    root, originals, assignments, dest = photos
    real_link = os.link
    calls = []

    def dying_link(src, dst, **kwargs):  # killed after the second photo got its final name
        real_link(src, dst, **kwargs)
        calls.append(dst)
        if len(calls) == 2:
            raise Killed

    monkeypatch.setattr(export.os, "link", dying_link)
    monkeypatch.setattr(export, "_remove_quietly", lambda path: None)  # kill -9 runs no cleanup
    with pytest.raises(Killed):
        export_all(root, assignments, dest, "copy")
    monkeypatch.undo()
    assert len(partials_under(dest)) == 2  # the temps, one of them a second name of a claimed file
    assert len(files_under(dest)) == 2  # claimed, but only the first is journalled as done
    report = export_all(root, assignments, dest, "copy")
    assert not partials_under(dest) and len(report.done) == 4
    assert sorted(files_under(dest).values()) == sorted(originals.values())  # adopted, not copied twice
    assert_manifest_matches_disk(dest.resolve(), root.resolve(), originals)


def test_engine_export_does_not_import_qt():
    code = "import sys, engine.export; sys.exit(any(m.startswith(('PySide6', 'gui')) for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False).returncode == 0


@pytest.mark.parametrize("crossfs", [False, True])
def test_a_move_never_removes_links_or_photos_outside_the_folder(tmp_path, monkeypatch, crossfs):
    """Issue 9 item 4: symlinks are copied, never moved, and nothing outside the opened folder is removed."""
    if crossfs:
        monkeypatch.setattr(export.os, "link", _no_hardlinks)
    root, outside, dest = tmp_path / "photos", tmp_path / "elsewhere", tmp_path / "out"
    originals = make_tree(root, ["a.jpg"]) | make_tree(outside, ["o.jpg", "sub/p.jpg"], seed=1)
    os.symlink("../elsewhere/o.jpg", root / "link.jpg")  # a relative file link
    os.symlink(outside / "sub", root / "dirlink")  # a folder link leading outside
    assignments = [("a.jpg", "A"), ("link.jpg", "A"), ("dirlink/p.jpg", "A")]
    report = export_all(root, assignments, dest, "move")
    assert len(report.done) == 3 and not report.skipped
    assert (outside / "o.jpg").read_bytes() == originals["o.jpg"]
    assert (outside / "sub" / "p.jpg").read_bytes() == originals["sub/p.jpg"]
    assert os.readlink(root / "link.jpg") == "../elsewhere/o.jpg" and (root / "link.jpg").exists()
    assert not (root / "a.jpg").exists()
    assert sorted(files_under(dest).values()) == sorted(originals.values())
    assert len(report.warnings) == 2 and all("copied, not moved" in w for w in report.warnings)
    assert not run(run_export(plan_export(root, assignments, dest, "move"))).warnings  # a rerun adds nothing
    assert len(files_under(dest)) == 3
    undone = run(undo_export(dest))
    assert len(undone.done) == 3 and (root / "a.jpg").read_bytes() == originals["a.jpg"]
    assert (outside / "o.jpg").exists() and (outside / "sub" / "p.jpg").exists() and files_under(dest) == {}


def test_undo_acts_on_the_folder_given_after_cp_a_or_mv(photos, tmp_path):
    """Issue 9 item 6: the journal's paths are read relative to the folder it is in."""
    root, originals, assignments, d1 = photos
    export_all(root, assignments[:2], d1, "copy")
    export_all(root, assignments[2:], d1, "move")
    in_d1 = files_under(d1)
    d2 = tmp_path / "d2"
    subprocess.run(["cp", "-a", str(d1), str(d2)], check=True)
    report = run(undo_export(d2))
    assert len(report.done) == 4 and not report.skipped, report.skipped
    assert files_under(d1) == in_d1  # the original export is untouched
    assert files_under(d2) == {} and files_under(root) == originals
    # put it back as it was, then move the export folder and undo it there
    for rel in ["home/c.jpg", "home/d.jpg"]:
        (root / rel).unlink()
    d3 = tmp_path / "d3"
    os.rename(d1, d3)
    report = run(undo_export(d3))
    assert len(report.done) == 4 and not report.skipped, report.skipped
    assert files_under(d3) == {} and files_under(root) == originals and not (d3 / export.JOURNAL_NAME).exists()


def test_undo_with_nothing_to_undo_keeps_the_journal(photos):
    root, _originals, assignments, dest = photos
    export_all(root, assignments, dest, "copy")
    for path in files_under(dest):
        (dest / path).unlink()
    report = run(undo_export(dest))
    assert not report.done and len(report.skipped) == 4
    assert (dest / export.JOURNAL_NAME).exists()


def test_an_interrupted_move_is_finished_as_it_was_planned(tmp_path):
    """Issue 9 item 5: the rerun (re-clustered on what is left, so other names) finishes the original plan."""
    root, dest = tmp_path / "photos", tmp_path / "out"
    rels = [f"p{i}.jpg" for i in range(6)]
    originals = make_tree(root, rels)
    first = [(rel, "Sea" if i % 2 else "Hills") for i, rel in enumerate(rels)]
    gen = run_export(plan_export(root, first, dest, "move"))
    for progress in gen:
        if progress.done == 3:
            break
    gen.close()  # the run ends between files, like a kill there
    left = [rel for rel in rels if (root / rel).exists()]
    assert len(left) == 3
    again = [(rel, "Cluster 1") for rel in left]  # what re-clustering only the remaining photos gives
    plan = plan_export(root, again, dest, "move")
    assert plan.resumed and [i.relpath for i in plan.items] == rels
    report = run(run_export(plan))
    assert len(report.done) == 6 and not report.skipped
    assert {rel: data for rel, data in files_under(dest).items()} == {
        f"{cluster}/{rel}": originals[rel] for rel, cluster in first
    }
    fresh = plan_export(root, [], dest, "move")  # finished: a new export plans afresh
    assert not fresh.resumed and fresh.items == []


def test_a_long_name_is_moved_across_filesystems(tmp_path, monkeypatch):
    """Issue 9 item 10: a 240-byte name; the temporary must stay under the 255-byte limit."""
    monkeypatch.setattr(export.os, "link", _no_hardlinks)
    name = "é" * 116 + ".jpg"  # 236 bytes
    originals = make_tree(tmp_path / "photos", [name])
    report = export_all(tmp_path / "photos", [(name, "A")], tmp_path / "out", "move")
    assert not report.skipped and files_under(tmp_path / "out") == {f"A/{name}": originals[name]}


class _Killed(BaseException):
    pass


def test_a_killed_undo_across_filesystems_leaves_no_hidden_link_behind(photos, monkeypatch):
    """Issue 9 item 10: killed after the photo got its name back but before its temporary went."""
    root, originals, assignments, dest = photos
    export_all(root, assignments, dest, "move")
    real_link = os.link
    monkeypatch.setattr(
        export.os,
        "link",
        lambda src, dst, **kw: (
            real_link(src, dst) if str(src).endswith(export.PARTIAL_SUFFIX) else _no_hardlinks(src, dst)
        ),
    )
    real_remove = export._remove_quietly

    def killed_before_the_temp_goes(path):
        if str(path).endswith(export.PARTIAL_SUFFIX) and str(root) in str(path) and os.path.lexists(path):
            raise _Killed()
        real_remove(path)

    monkeypatch.setattr(export, "_remove_quietly", killed_before_the_temp_goes)
    with pytest.raises(_Killed):
        run(undo_export(dest))
    assert partials_under(root)  # the hidden second name of a restored photo
    monkeypatch.setattr(export, "_remove_quietly", real_remove)
    report = run(undo_export(dest))
    assert files_under(root) == originals and not partials_under(root) and not partials_under(dest)
    assert len(report.done) == 4


def test_an_export_folder_holding_the_photo_folder_is_refused(tmp_path):
    """Issue 9 item 10: copies would be written into the photo folder (a cluster named like it)."""
    dest = tmp_path / "out"
    root = dest / "Beach"
    make_tree(root, ["a.jpg"])
    with pytest.raises(ValueError, match="inside the export folder"):
        plan_export(root, [("a.jpg", "Beach")], dest, "copy")
    assert os.listdir(root) == ["a.jpg"]


def test_a_link_in_dest_named_like_a_cluster_is_never_followed(photos, tmp_path):
    """Issue 9 item 10: DEST/Forest -> elsewhere must not send photos outside DEST."""
    root, _originals, assignments, dest = photos
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dest.mkdir()
    os.symlink(elsewhere, dest / "Forest")
    report = export_all(root, assignments, dest, "copy")
    assert len(report.done) == 4 and os.listdir(elsewhere) == []
    assert all(dest.resolve() in final.resolve().parents for _, final in report.done)
    assert os.readlink(dest / "Forest") == str(elsewhere)
