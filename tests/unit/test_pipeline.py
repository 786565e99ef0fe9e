import shutil
import threading

import numpy as np
import pytest

from engine.features import Cancelled
from engine.pipeline import analyse, run


def analyse_all(folder, extractor, cache, cancel=None):
    return run(analyse(folder, extractor, cache, cancel or threading.Event()))


def test_second_run_sends_nothing_through_the_model(photo_folder, extractor, tmp_path, photo_maker):
    cache = tmp_path / "cache"
    first = analyse_all(photo_folder, extractor, cache)
    assert (first.extracted, first.cached, len(first.images)) == (18, 0, 18)
    second = analyse_all(photo_folder, extractor, cache)
    assert (second.extracted, second.cached) == (0, 18)
    assert (second.features == first.features).all()
    for i in range(3):
        photo_maker(photo_folder / "new" / f"n{i}.jpg", "red", 100 + i)
    third = analyse_all(photo_folder, extractor, cache)
    assert (third.extracted, third.cached, len(third.images)) == (3, 18, 21)


def test_renamed_and_moved_photos_are_not_reanalysed(photo_folder, extractor, tmp_path):
    cache = tmp_path / "cache"
    analyse_all(photo_folder, extractor, cache)
    shutil.move(photo_folder / "a", photo_folder / "renamed_folder")
    again = analyse_all(photo_folder, extractor, cache)
    assert again.extracted == 0 and "renamed_folder/red_0.jpg" in again.images


def test_broken_files_are_skipped_with_reasons(photo_folder, extractor, tmp_path):
    (photo_folder / "zero.jpg").write_bytes(b"")
    (photo_folder / "text.png").write_text("hello")
    result = analyse_all(photo_folder, extractor, tmp_path / "cache")
    assert len(result.images) == 18
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons["zero.jpg"] == "empty file (0 bytes)"
    assert "text.png" in reasons


def test_progress_reports_every_stage(photo_folder, extractor, tmp_path):
    events = []
    run(analyse(photo_folder, extractor, tmp_path / "cache"), events.append)
    assert [e.stage for e in events][:2] == ["scan", "scan"]
    last = [e for e in events if e.stage == "features"][-1]
    assert last.done == last.total == 18


def test_cancelled_run_keeps_finished_batches(photo_folder, extractor, tmp_path):
    cache, cancel = tmp_path / "cache", threading.Event()
    gen = analyse(photo_folder, extractor, cache, cancel)
    with pytest.raises(Cancelled):
        for progress in gen:
            if progress.stage == "features" and progress.done:
                cancel.set()
    resumed = analyse_all(photo_folder, extractor, cache)
    assert resumed.cached == 8 and resumed.extracted == 10  # batch size 8: the first batch was kept


def test_cached_features_come_back_without_a_model_only_when_all_are_there(photo_folder, tmp_path):
    from engine import descriptor
    from engine.cache import FeatureCache
    from engine.pipeline import cached_features
    from engine.scan import scan_folder

    images = scan_folder(photo_folder).images
    cache_dir = tmp_path / "cache"
    assert cached_features(photo_folder, images, "test-model", cache_dir) is None  # nothing cached yet
    rng = np.random.default_rng(0)
    vectors = rng.random((len(images), descriptor.SIZE)).astype(np.float32)
    with FeatureCache("test-model", cache_dir) as cache:
        keys, _ = cache.keys_for([str(photo_folder / p) for p in images[:-1]])
        cache.put_many([(k.fingerprint, v) for k, v in zip(keys, vectors)])
    assert cached_features(photo_folder, images, "test-model", cache_dir) is None  # one missing
    with FeatureCache("test-model", cache_dir) as cache:
        keys, _ = cache.keys_for([str(photo_folder / images[-1])])
        cache.put_many([(keys[0].fingerprint, vectors[-1])])
    got = cached_features(photo_folder, images, "test-model", cache_dir)
    assert got is not None and got.shape == vectors.shape
    assert np.allclose(got, vectors, atol=1e-2)  # stored at reduced precision
    assert cached_features(photo_folder, images, "another-model", cache_dir) is None


def test_identical_photos_go_through_the_model_once(photo_folder, extractor, tmp_path, monkeypatch):
    for i in range(3):  # three more paths with the bytes of red_0.jpg: one more fingerprint, none new
        shutil.copyfile(photo_folder / "a" / "red_0.jpg", photo_folder / f"copy_{i}.jpg")
    shutil.copyfile(photo_folder / "b" / "sky_1.jpg", photo_folder / "b" / "sky_1 (2).jpg")
    seen = []
    real = extractor.run_batch
    monkeypatch.setattr(extractor, "run_batch", lambda pixels: seen.append(len(pixels)) or real(pixels))
    result = analyse_all(photo_folder, extractor, tmp_path / "cache")
    assert sum(seen) == 18 and len(result.images) == 22
    assert (result.extracted, result.copies, result.cached) == (18, 4, 0)
    row = {rel: i for i, rel in enumerate(result.images)}
    for name in ("copy_0.jpg", "copy_1.jpg", "copy_2.jpg"):
        assert (result.features[row[name]] == result.features[row["a/red_0.jpg"]]).all()
    assert (result.features[row["b/sky_1 (2).jpg"]] == result.features[row["b/sky_1.jpg"]]).all()


def test_an_unreadable_photo_is_skipped_at_every_path_it_has(photo_folder, extractor, tmp_path):
    for name in ("bad.jpg", "bad copy.jpg"):
        (photo_folder / name).write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg at all")
    result = analyse_all(photo_folder, extractor, tmp_path / "cache")
    assert {s.path for s in result.skipped} == {"bad.jpg", "bad copy.jpg"}
    assert len(result.images) == 18
