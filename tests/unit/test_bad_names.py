"""File and cluster names that are not valid text (issue 9, items 2 and 9).

A POSIX file name is bytes; Python hands one with invalid UTF-8 over as a str with "surrogate escapes"
(``bad\\udcff.jpg`` for the bytes ``bad\\xff.jpg``). Such a photo is analysed like any other, and every place the
name is written (cache, session, manifests, export) keeps the original bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading

import numpy as np
import pytest

from engine.cache import FeatureCache
from engine.export import plan_export, run_export
from engine.pipeline import analyse, run
from engine.session import Session

BAD = os.fsdecode(b"bad\xff.jpg")  # 'bad\udcff.jpg'


@pytest.fixture
def bad_folder(tmp_path, photo_maker):
    root = tmp_path / "photos"
    root.mkdir()
    photo_maker(root / "good.jpg", "red")
    photo_maker(root / BAD, "stripes")
    assert os.fsencode(BAD) in os.listdir(os.fsencode(root))
    return root


def test_cache_keeps_a_name_that_is_not_utf8(tmp_path, bad_folder):
    paths = [str(bad_folder / BAD), str(bad_folder / "good.jpg")]
    with FeatureCache("m", tmp_path / "c") as cache:
        keys, failed = cache.keys_for(paths)
        assert not failed and [k.path for k in keys] == paths
        cache.put_many([(k.fingerprint, np.ones(4)) for k in keys])
    with FeatureCache("m", tmp_path / "c") as cache:  # the stat index finds it again
        again, _ = cache.keys_for(paths)
        assert [k.fingerprint for k in again] == [k.fingerprint for k in keys]


def test_a_photo_with_a_non_utf8_name_is_analysed_saved_and_exported(tmp_path, bad_folder, extractor):
    result = run(analyse(bad_folder, extractor, tmp_path / "cache", threading.Event()))
    assert sorted(result.images) == sorted([BAD, "good.jpg"]) and not result.skipped

    session = Session(result.root, result.images)
    session.names = {0: "Red"}
    session.labels = {p: 0 for p in result.images}
    session.save(tmp_path / "s.json")
    assert Session.load(tmp_path / "s.json").images == session.images  # lossless round trip

    from engine.cli import write_manifest

    write_manifest(tmp_path / "m.csv", session)
    assert b"bad\xff.jpg,0,Red," in (tmp_path / "m.csv").read_bytes()  # the original bytes

    dest = tmp_path / "out"
    report = run(run_export(plan_export(bad_folder, session.assignments(), dest, "copy")))
    assert not report.skipped and len(report.done) == 2
    assert b"bad\xff.jpg" in os.listdir(os.fsencode(dest / "Red"))
    rows = list(csv.reader(io.StringIO((dest / "manifest.csv").read_bytes().decode("utf-8", "surrogateescape"))))
    assert [BAD, "Red", "Red"] in [r[:3] for r in rows]
    entries = json.loads((dest / "manifest.json").read_text(encoding="ascii"))
    assert BAD in [e["path"] for e in entries]


def test_a_folder_whose_own_name_is_not_utf8_has_a_session_path(tmp_path):
    from engine.session import session_path_for

    assert session_path_for(tmp_path / BAD, tmp_path / "data").suffix == ".json"


def test_a_cluster_name_with_a_lone_surrogate_is_exported_and_listed(tmp_path):
    """Issue 9 item 9: '\\ud800' is no text a file system or a UTF-8 file can hold."""
    root = tmp_path / "photos"
    root.mkdir()
    (root / "a.jpg").write_bytes(b"a" * 50)
    report = run(run_export(plan_export(root, [("a.jpg", "x\ud800y")], tmp_path / "out", "copy")))
    assert len(report.done) == 1 and not report.warnings, report.warnings
    assert os.listdir(tmp_path / "out" / "x_y") == ["a.jpg"]
    assert "x\ufffdy" in (tmp_path / "out" / "manifest.csv").read_text(encoding="utf-8")
    json.loads((tmp_path / "out" / "manifest.json").read_text())

    from engine.cli import write_manifest

    session = Session(root, ["a.jpg"])
    session.names, session.labels = {0: "x\ud800y"}, {"a.jpg": 0}
    write_manifest(tmp_path / "m.csv", session)
    assert "a.jpg,0,x\ufffdy," in (tmp_path / "m.csv").read_text(encoding="utf-8")
