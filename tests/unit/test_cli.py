"""The command line as a person uses it: a real subprocess, the real weights, real photos."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

REPO = Path(__file__).resolve().parents[2]
SCENES6 = REPO.parent / "shared" / "data" / "scenes6"


def cli(*args, env=None, **kw):
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), "cluster", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        **kw,
    )


def error_lines(stderr: str) -> list[str]:
    """stderr without TensorFlow's own start-up chatter."""
    return [ln for ln in stderr.splitlines() if ln.startswith("photocluster")]


@pytest.mark.slow
def test_scenes6_clusters_like_the_folders(tmp_path, weights_path):
    manifest = tmp_path / "m.csv"
    result = cli(
        SCENES6,
        "--clusters",
        "6",
        "--weights",
        weights_path,
        "--manifest",
        manifest,
        "--quiet",
        "--cache-dir",
        tmp_path / "cache",
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(manifest.open()))
    assert list(rows[0]) == ["path", "cluster", "cluster_name", "confidence"]
    assert len(rows) == 600 and not any("\\" in r["path"] or r["path"].startswith("/") for r in rows)
    truth = [r["path"].split("/")[0] for r in rows]
    found = [r["cluster"] for r in rows]
    nmi = normalized_mutual_info_score(truth, found)
    print(f"scenes6 k=6: NMI {nmi:.3f}, ARI {adjusted_rand_score(truth, found):.3f}")
    assert nmi >= 0.75
    assert "Clustered 600 photos into 6 clusters" in result.stderr and "images/s" in result.stderr


def test_export_and_dry_run(photo_folder, tmp_path, weights_path):
    dest = tmp_path / "sorted"
    dry = cli(photo_folder, "--clusters", "3", "--weights", weights_path, "--export", dest, "--dry-run", "--quiet")
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and not dest.exists()
    real = cli(photo_folder, "--clusters", "3", "--weights", weights_path, "--export", dest, "--quiet")
    assert real.returncode == 0, real.stderr
    exported = sorted(p for p in dest.rglob("*.*") if p.parent != dest)
    assert len(exported) == 18 and len({p.parent for p in exported}) == 3
    assert (dest / "manifest.csv").is_file() and (dest / "manifest.json").is_file()
    assert len(list(photo_folder.rglob("*.*"))) == 18  # copy mode: sources untouched


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--clusters", "zero"], "--clusters must be a number (1 or more) or 'auto'"),
        (["--method", "magic"], "invalid choice"),
        (["--batch-size", "0"], "must be at least 1"),
        (["--engine", "fast"], "--engine: invalid choice"),
        (["--engine", "tensorflow", "--precision", "int8"], "precision int8 needs the OpenVINO engine"),
        (["--engine", "openvino", "--precision", "float16"], "float16 is for NVIDIA GPUs"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(photo_folder, args, expected):
    result = cli(photo_folder, *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr


def test_an_unknown_engine_in_the_environment_is_one_line(photo_folder):
    result = cli(photo_folder, env={"PHOTOCLUSTER_ENGINE": "cuda"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "photocluster cluster: unknown engine 'cuda' (from PHOTOCLUSTER_ENGINE); choose one of auto, openvino, "
        "tensorflow"
    )


def test_missing_folder(tmp_path):
    result = cli(tmp_path / "nowhere")
    assert result.returncode == 2
    assert result.stderr.strip() == f"photocluster cluster: {tmp_path / 'nowhere'} does not exist"


def test_no_weights_says_how_to_fix(photo_folder, tmp_path):
    result = cli(photo_folder, "--weights", tmp_path / "missing.h5")
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert "missing.h5" in line and "--weights" in line and "PHOTOCLUSTER_WEIGHTS" in line


@pytest.mark.slow
def test_killed_run_leaves_a_cache_the_next_run_uses(tmp_path, weights_path, photo_maker):
    folder = tmp_path / "many"
    for i in range(64):
        photo_maker(folder / f"p{i:02d}.jpg", ("red", "sky", "stripes")[i % 3], i, size=(300, 200))
    cache = tmp_path / "cache"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "main.py"),
            "cluster",
            str(folder),
            "--weights",
            str(weights_path),
            "--cache-dir",
            str(cache),
            "--batch-size",
            "4",
            "--quiet",
        ],
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    db = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:  # kill once some batches are committed
        db = next(cache.glob("features-*.sqlite"), None)
        if db and _stored(db) >= 8:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert db is not None, "the run made no feature cache within two minutes"
    stored = _stored(db)
    assert 8 <= stored < 64
    rerun = cli(folder, "--weights", weights_path, "--cache-dir", cache, "--quiet", "--clusters", "3")
    assert rerun.returncode == 0, rerun.stderr
    assert f"{64 - stored} analysed, {stored} from cache" in rerun.stderr


def _stored(db: Path) -> int:
    """Rows committed so far. The file exists a moment before its tables do (the cause of a flaky
    ``no such table: features`` under load): until the schema is committed, nothing is stored."""
    import sqlite3

    con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=30)  # read-only: never creates or locks it
    try:
        exists = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'features'").fetchone()
        return con.execute("SELECT COUNT(*) FROM features").fetchone()[0] if exists else 0
    finally:
        con.close()


def _place(tmp_path, kind):
    """A --manifest / --cache-dir value that cannot be used."""
    if kind == "dir":
        (tmp_path / "adir").mkdir()
        return tmp_path / "adir"
    if kind == "file":
        (tmp_path / "afile").write_text("x")
        return tmp_path / "afile"
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return ro / "sub" / "m.csv"


@pytest.mark.parametrize(
    "option, kind",
    [("--manifest", "dir"), ("--manifest", "readonly"), ("--cache-dir", "file"), ("--cache-dir", "readonly")],
)
def test_an_unusable_manifest_or_cache_place_is_one_line(photo_folder, tmp_path, weights_path, option, kind):
    """Issue 9 item 9: one line and exit 1, no traceback (checked before any photo is analysed)."""
    place = _place(tmp_path, kind)
    if kind == "readonly" and os.geteuid() == 0:  # root writes anywhere: emulate with a place under a file
        (tmp_path / "f").write_text("")
        place = tmp_path / "f" / "sub"
    result = cli(photo_folder, "--weights", weights_path, "--clusters", "3", option, place, "--quiet")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and str(place) in lines[0], result.stderr


def test_pinned_photos_steer_and_the_manifest_holds_every_photo(photo_folder, tmp_path, weights_path):
    pins = tmp_path / "pins.csv"
    pins.write_text("path,cluster\na/red_0.jpg,Reds\na/red_1.jpg,Reds\nb/sky_0.jpg,Sky\nb/sky_1.jpg,Sky\n")
    manifest = tmp_path / "m.csv"
    args = ["--clusters", "3", "--weights", weights_path, "--pinned", pins, "--manifest", manifest, "--quiet"]
    result = cli(photo_folder, *args, "--cache-dir", tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    rows = {r["path"]: r for r in csv.DictReader(manifest.open())}
    assert len(rows) == 18
    assert {rows[p]["cluster_name"] for p in ("a/red_0.jpg", "a/red_1.jpg")} == {"Reds"}
    assert {rows[p]["cluster_name"] for p in ("b/sky_0.jpg", "b/sky_1.jpg")} == {"Sky"}
    assert sum(r["cluster_name"] == "Sky" for r in rows.values()) == 6  # the other sky photos followed the pins
    pins.write_text("a/red_0.jpg,Reds\nc/nowhere.jpg,Sky\n")
    unknown = cli(photo_folder, *args, "--cache-dir", tmp_path / "cache")
    assert unknown.returncode == 2
    (line,) = error_lines(unknown.stderr)
    assert "c/nowhere.jpg" in line and "not photos analysed" in line


def test_a_bad_pinned_file_is_one_line_before_any_work(photo_folder, tmp_path):
    pins = tmp_path / "pins.csv"
    pins.write_text("a/red_0.jpg,Reds\na/red_1.jpg\n")
    result = cli(photo_folder, "--pinned", pins, "--weights", tmp_path / "missing.h5")  # fails before the weights
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert "row 2" in line and "expected 2 fields" in line
    method = cli(photo_folder, "--pinned", pins, "--method", "hdbscan")
    assert method.returncode == 2 and "--method kmeans" in method.stderr
