"""The thumbnail loader: decoded off the GUI thread, kept on disk, stale requests dropped, bad files marked."""

from __future__ import annotations

from gui.thumbnails import ThumbnailLoader, tier_for


def _load_all(loader, qtbot, paths, tier=128):
    for p in paths:
        loader.get(p, tier)
    qtbot.waitUntil(
        lambda: all(loader.get(p, tier) is not None or loader.failed(p, tier) for p in paths), timeout=10_000
    )


def test_disk_cache_serves_a_second_loader(app, qtbot, photos, tmp_path):
    paths = [f"red/red_{i}.jpg" for i in range(4)]
    first = ThumbnailLoader(disk_dir=tmp_path / "thumbs")
    first.set_root(photos)
    _load_all(first, qtbot, paths)
    stored = list((tmp_path / "thumbs").rglob("*.jpg"))
    assert len(stored) == 4
    second = ThumbnailLoader(disk_dir=tmp_path / "thumbs")
    second.set_root(photos)
    _load_all(second, qtbot, paths)
    assert all(second.get(p, 128).width() == 64 for p in paths)
    first.set_root(None), second.set_root(None)
    assert first.wait() and second.wait()


def test_unreadable_file_is_marked_failed(app, qtbot, photos, tmp_path):
    (photos / "bad.jpg").write_bytes(b"nope")
    loader = ThumbnailLoader(disk_dir=tmp_path / "thumbs")
    loader.set_root(photos)
    _load_all(loader, qtbot, ["bad.jpg"])
    assert loader.failed("bad.jpg", 128) and loader.get("bad.jpg", 128) is None


def test_prune_drops_queued_requests_of_rows_scrolled_away(app, photos, tmp_path):
    loader = ThumbnailLoader(disk_dir=tmp_path / "thumbs")
    loader._threads = 0  # no decoding thread starts, so the queue stays as asked
    loader.set_root(photos)
    for i in range(8):
        loader.get(f"sky/sky_{i}.jpg", 256)
    loader.get("red/red_0.jpg", 128, group="clusters")
    assert loader.pending_count() == 9
    loader.prune("grid", keep={"sky/sky_7.jpg"})
    assert sorted(key[0] for key in loader._pending) == ["red/red_0.jpg", "sky/sky_7.jpg"]


def test_tiers():
    assert tier_for(80) == 128 and tier_for(200) == 256 and tier_for(900) == 256


def test_decoding_threads_stay_for_the_next_burst_of_requests(app, qtbot, photos, tmp_path, monkeypatch):
    """Starting a thread per burst made the GUI thread wait for each to come up (a scroll stall)."""
    import threading

    from gui import thumbnails

    served_by = set()
    load = thumbnails.load_thumbnail

    def recording(*args):
        served_by.add(threading.current_thread())
        return load(*args)

    monkeypatch.setattr(thumbnails, "load_thumbnail", recording)
    loader = ThumbnailLoader(disk_dir=tmp_path / "thumbs", threads=2)
    loader.set_root(photos)
    for tier in (128, 256):
        _load_all(loader, qtbot, [f"sky/sky_{i}.jpg" for i in range(6)], tier)
        assert loader.wait()  # the queue ran dry between the bursts
    assert 1 <= len(served_by) <= 2 and all(t.is_alive() for t in served_by)
    loader.set_root(None)


def test_a_thumbnail_decoded_but_not_yet_delivered_is_not_asked_for_again(app, qtbot, photos, tmp_path, monkeypatch):
    """A repaint between decode and delivery asked again: decoded twice, counted twice in the memory budget.
    Over a long scroll the count drifted past the budget, the cache then held almost nothing, and every
    repaint of the grid decoded its thumbnails again (a core busy for good, 100,000 photos)."""
    import time

    from gui import thumbnails

    decoded = []
    load = thumbnails.load_thumbnail
    monkeypatch.setattr(thumbnails, "load_thumbnail", lambda *a: decoded.append(a[0]) or load(*a))
    loader = ThumbnailLoader(disk_dir=tmp_path / "thumbs", threads=1)
    loader.set_root(photos)
    assert loader.get("sky/sky_0.jpg", 128) is None
    deadline = time.monotonic() + 10
    while not loader._done and time.monotonic() < deadline:  # decoded; its delivery waits for the event loop
        time.sleep(0.005)
    assert loader._done
    assert loader.get("sky/sky_0.jpg", 128) is None  # a repaint before the delivery
    qtbot.waitUntil(lambda: loader.get("sky/sky_0.jpg", 128) is not None, timeout=10_000)
    assert loader.wait()
    qtbot.wait(50)  # any second delivery
    assert len(decoded) == 1
    assert loader._memory_bytes == sum(image.sizeInBytes() for image in loader._memory.values())
    loader.set_root(None)


def test_storing_a_thumbnail_again_replaces_its_bytes_in_the_budget(app, photos, tmp_path):
    from PySide6.QtGui import QImage

    loader = ThumbnailLoader(disk_dir=tmp_path / "thumbs", threads=0)
    loader.set_root(photos)
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    for _ in range(3):
        loader._store(loader._generation, "sky/sky_0.jpg", 128, image)
    assert loader._memory_bytes == image.sizeInBytes()


def test_wait_after_a_folder_switch_waits_for_the_image_being_decoded(app, photos, tmp_path, monkeypatch):
    """Closing the window switches the loader off and waits: a decoding thread still at work then touched
    Qt images while the application was going away."""
    import threading

    from gui import thumbnails

    started, release = threading.Event(), threading.Event()
    load = thumbnails.load_thumbnail

    def slow(*args):
        started.set()
        release.wait(10)
        return load(*args)

    monkeypatch.setattr(thumbnails, "load_thumbnail", slow)
    loader = ThumbnailLoader(disk_dir=tmp_path / "thumbs", threads=1)
    loader.set_root(photos)
    loader.get("sky/sky_0.jpg", 128)
    assert started.wait(10)
    loader.set_root(None)
    assert not loader.wait(msecs=100)  # still decoding
    release.set()
    assert loader.wait()
