import os
import time

import numpy as np
import pytest

from engine.cache import FeatureCache, fingerprint


def test_fingerprint_ignores_name_and_timestamps_but_not_content(tmp_path):
    a = tmp_path / "a.jpg"
    a.write_bytes(os.urandom(300_000))
    before = fingerprint(a)
    b = tmp_path / "renamed.jpg"
    a.rename(b)
    os.utime(b, (time.time() + 100, time.time() + 100))
    assert fingerprint(b) == before
    data = bytearray(b.read_bytes())
    data[-10] ^= 0xFF
    b.write_bytes(bytes(data))
    assert fingerprint(b) != before


def test_vectors_round_trip_and_persist(tmp_path):
    vec = np.linspace(0, 1, 1024, dtype=np.float32)
    with FeatureCache("m1", tmp_path) as cache:
        cache.put_many([("fp1", vec)])
    out = np.zeros((3, 1024), np.float32)
    with FeatureCache("m1", tmp_path) as cache:
        found = cache.fill(["fp1", "missing", "fp1"], out)
    assert found.tolist() == [True, False, True]
    assert np.allclose(out[0], vec, atol=1e-3) and np.array_equal(out[0], out[2]) and not out[1].any()


def test_model_versions_are_kept_apart(tmp_path):
    with FeatureCache("m1", tmp_path) as cache:
        cache.put_many([("fp", np.ones(4))])
    with FeatureCache("m2", tmp_path) as cache:
        assert not cache.fill(["fp"], np.zeros((1, 4), np.float32)).any()


def test_unchanged_files_are_not_read_again(tmp_path, monkeypatch):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"x" * 1000)
    with FeatureCache("m", tmp_path / "c") as cache:
        keys, failed = cache.keys_for([str(photo)])
        assert not failed
        import engine.cache as module

        monkeypatch.setattr(module, "fingerprint", lambda p: (_ for _ in ()).throw(AssertionError("re-read")))
        again, _ = cache.keys_for([str(photo)])
    assert again == keys


def test_touched_file_is_rehashed_to_the_same_key(tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"y" * 5000)
    with FeatureCache("m", tmp_path / "c") as cache:
        (key,), _ = cache.keys_for([str(photo)])
        os.utime(photo, (1, 1))
        (touched,), _ = cache.keys_for([str(photo)])
    assert touched.fingerprint == key.fingerprint


def test_unreadable_file_is_reported_not_raised(tmp_path):
    with FeatureCache("m", tmp_path / "c") as cache:
        keys, failed = cache.keys_for([str(tmp_path / "gone.jpg")])
    assert keys == [] and failed == [(str(tmp_path / "gone.jpg"), "file disappeared before it could be read")]


def test_corrupt_database_is_set_aside_and_rebuilt(tmp_path):
    with FeatureCache("m", tmp_path) as cache:
        cache.put_many([("fp", np.ones(4))])
        path = cache.path
    path.write_bytes(b"this is not a database" * 100)
    with FeatureCache("m", tmp_path) as cache:
        assert cache.count() == 0
        assert cache.warnings and "moved to" in cache.warnings[0]
        cache.put_many([("fp", np.ones(4))])
        assert cache.count() == 1
    assert list(tmp_path.glob("*.damaged-*"))


def test_bad_vectors_are_recomputed_with_a_warning(tmp_path):
    """Issue 9 item 7: NaN/inf vectors and wrong-length blobs are not used."""
    with FeatureCache("m", tmp_path) as cache:
        cache.put_many(
            [("good", np.ones(4)), ("nan", np.array([1, np.nan, 0, 0])), ("inf", np.array([np.inf, 0, 0, 0]))]
        )
        cache._db.execute("INSERT INTO features VALUES ('short', ?)", (np.ones(3, np.float16).tobytes(),))
        out = np.zeros((4, 4), np.float32)
        found = cache.fill(["good", "nan", "inf", "short"], out)
        assert found.tolist() == [True, False, False, False]
        assert np.isfinite(out).all() and out[0].tolist() == [1, 1, 1, 1]
        assert any("3 cached feature vectors were unusable" in w for w in cache.warnings), cache.warnings


def test_a_features_table_missing_a_column_is_rebuilt_with_a_warning(tmp_path):
    import sqlite3

    with FeatureCache("m", tmp_path) as cache:
        path = cache.path
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE features; CREATE TABLE features (fingerprint TEXT PRIMARY KEY);")
    db.close()
    with FeatureCache("m", tmp_path) as cache:
        assert cache.warnings and "moved to" in cache.warnings[0]
        out = np.zeros((1, 4), np.float32)
        assert cache.fill(["x"], out).tolist() == [False]
        cache.put_many([("x", np.ones(4))])
        assert cache.count() == 1


def test_a_busy_cache_is_not_taken_for_a_damaged_one(tmp_path, monkeypatch):
    import sqlite3

    from engine import cache as cache_module

    with FeatureCache("m", tmp_path) as cache:
        cache.put_many([("fp", np.ones(4))])
        path = cache.path
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(cache_module, "BUSY_TIMEOUT", 0.2, raising=False)
    try:
        with pytest.raises(cache_module.CacheError, match="busy"):
            FeatureCache("m", tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not list(tmp_path.glob("*.damaged-*"))
    with FeatureCache("m", tmp_path) as cache:
        assert cache.count() == 1 and not cache.warnings
