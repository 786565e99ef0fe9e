"""``extract``: the feature cache filled on a (local) Ray instance or locally, then used with zero model calls."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def main_py(*args, **kw):
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        **kw,
    )


@pytest.fixture
def folder(tmp_path, photo_maker):
    root = tmp_path / "photos"
    for i in range(6):
        photo_maker(root / ("a" if i % 2 else "b") / f"p{i}.jpg", ("red", "sky", "stripes")[i % 3], i, size=(160, 120))
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return root


def cached_vectors(extractor_model_id: str, cache_dir: Path, folder: Path) -> dict[str, np.ndarray]:
    from engine.cache import FeatureCache
    from engine.scan import scan_folder

    scan = scan_folder(folder)
    with FeatureCache(extractor_model_id, cache_dir) as cache:
        keys, _ = cache.keys_for([str(scan.root / r) for r in scan.images])
        out = np.zeros((len(keys), 1024), np.float32)
        found = cache.fill([k.fingerprint for k in keys], out)
    return {Path(k.path).relative_to(scan.root).as_posix(): out[i] for i, k in enumerate(keys) if found[i]}


@pytest.mark.slow
def test_ray_extraction_matches_local_and_cluster_then_runs_no_model(folder, tmp_path, extractor, weights_path):
    import ray

    from engine import ray_extract
    from engine.pipeline import run

    cache = tmp_path / "ray-cache"
    ray_extract.connect(None, num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 * 1024)
    try:
        report = run(
            ray_extract.extract(
                folder, extractor.weights, precision=extractor.precision, batch_size=2, workers=2, cache_dir=cache
            )
        )
    finally:
        ray.shutdown()
    assert (report.extracted, report.cached, report.photos) == (6, 0, 6)
    assert [(s.path, "not an image" in s.reason or "damaged" in s.reason) for s in report.skipped] == [
        ("broken.jpg", True)
    ]
    assert report.model_id == extractor.model_id

    from_ray = cached_vectors(extractor.model_id, cache, folder)
    assert sorted(from_ray) == ["a/p1.jpg", "a/p3.jpg", "a/p5.jpg", "b/p0.jpg", "b/p2.jpg", "b/p4.jpg"]
    paths = [str(folder / rel) for rel in from_ray]
    local = np.concatenate([b.vectors for b in extractor.extract(paths)])
    ray_vectors = np.stack(list(from_ray.values()))
    cosine = (local * ray_vectors).sum(1) / np.linalg.norm(local, axis=1) / np.linalg.norm(ray_vectors, axis=1)
    assert cosine.min() >= 0.999, cosine

    # the cache is the one `cluster` reads: every photo comes from it, none reaches the model
    clustered = main_py(
        "cluster",
        folder,
        "--weights",
        weights_path,
        "--cache-dir",
        cache,
        "--clusters",
        "3",
        "--precision",
        extractor.precision,
        "--quiet",
    )
    assert clustered.returncode == 0, clustered.stderr
    assert "0 analysed, 6 from cache" in clustered.stderr


def test_local_extract_fills_the_cache_cluster_uses(folder, tmp_path, weights_path):
    cache = tmp_path / "cache"
    first = main_py("extract", folder, "--weights", weights_path, "--cache-dir", cache, "--quiet")
    assert first.returncode == 0, first.stderr
    assert "Features of 6 photos are in the cache (locally" in first.stderr
    assert "6 analysed" in first.stderr and "broken.jpg" in first.stderr
    clustered = main_py(
        "cluster", folder, "--weights", weights_path, "--cache-dir", cache, "--clusters", "2", "--quiet"
    )
    assert clustered.returncode == 0, clustered.stderr
    assert "0 analysed, 6 from cache" in clustered.stderr


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--workers", "0"], "--workers: must be at least 1"),
        (["--precision", "int4"], "--precision: invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(folder, args, expected):
    result = main_py("extract", folder, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("photocluster extract:") and expected in lines[0], result.stderr


def test_missing_folder(tmp_path):
    result = main_py("extract", tmp_path / "nope")
    assert result.returncode == 2
    assert result.stderr.strip() == f"photocluster extract: {tmp_path / 'nope'} does not exist"


def test_every_worker_gets_a_block_of_photos():
    """Ray gives a block to one actor: 60 photos in one block left the second worker idle."""
    from engine.ray_extract import _blocks

    assert _blocks(60, 32, 2) >= 2 and _blocks(60, 32, 4) >= 4
    assert _blocks(3, 32, 8) == 3 and _blocks(100_000, 32, 2) == 200
