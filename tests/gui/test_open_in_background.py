"""Opening a folder scans it and loads its sorting in a worker thread: the window goes on meanwhile.

At 100,000 photos the scan and the session load take 0.4-0.8 s (bench/scale.py), which used to freeze the
window. A folder asked for while another is still being opened wins; the first lets go of its lock.
"""

from __future__ import annotations

import threading

from engine.lock import FolderLock
from engine.session import session_path_for
from gui import folder_document


def _held_scan(monkeypatch):
    """scan_folder that waits for ``release`` (per folder name) and records the thread it ran in."""
    release, threads, real = {}, [], folder_document.scan_folder

    def scan(root, *args, **kwargs):
        threads.append(threading.current_thread())
        release.setdefault(root.name, threading.Event()).wait(10)
        return real(root, *args, **kwargs)

    monkeypatch.setattr(folder_document, "scan_folder", scan)
    return release, threads


def test_open_returns_at_once_and_the_folder_follows(window, photos, qtbot, monkeypatch):
    release, threads = _held_scan(monkeypatch)
    release["photos"] = threading.Event()
    assert window.open_folder(photos)
    assert window.session is None and window.progress.isVisible()  # the window is not waiting for the scan
    qtbot.waitUntil(lambda: "Looking for photos in photos" in window.status_text.text(), timeout=5000)
    with qtbot.waitSignal(window.folderOpened, timeout=10_000) as opened:
        release["photos"].set()
    assert opened.args == [True] and threads[0] is not threading.main_thread()
    assert window.images.rowCount() == 24 and window.pages.currentIndex() == 1
    assert "Found 24 photos" in window.status_text.text()
    assert window.analyse_action.isEnabled() and not window.progress.isVisible()


def test_a_folder_asked_for_while_another_opens_wins(window, photos, tmp_path, qtbot, monkeypatch):
    other = tmp_path / "other"
    (other / "a").mkdir(parents=True)
    (photos / "red" / "red_0.jpg").rename(other / "a" / "one.jpg")
    release, threads = _held_scan(monkeypatch)
    release["photos"], release["other"] = threading.Event(), threading.Event()
    window.open_folder(photos)
    qtbot.waitUntil(lambda: len(threads) == 1, timeout=5000)
    window.open_folder(other)  # the first is still scanning
    release["other"].set()
    with qtbot.waitSignal(window.folderOpened, timeout=10_000):
        pass
    assert window.session.root == other.resolve() and window.images.rowCount() == 1
    release["photos"].set()  # the first comes back late: dropped, and its folder's lock let go
    qtbot.waitUntil(lambda: _free(photos), timeout=10_000)
    qtbot.wait(200)
    assert window.session.root == other.resolve()


def _free(root) -> bool:
    from engine.lock import FolderInUse

    lock = FolderLock(root.resolve())
    try:
        lock.acquire()
    except FolderInUse:
        return False
    lock.release()
    return True


def test_a_folder_that_cannot_be_read_is_said_in_the_banner(window, photos, qtbot, monkeypatch):
    def unreadable(root, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(folder_document, "scan_folder", unreadable)
    with qtbot.waitSignal(window.folderOpened, timeout=10_000) as opened:
        window.open_folder(photos)
    assert opened.args == [False] and window.session is None
    assert window.banner.isVisible() and "Permission denied" in window.banner.text.text()
    assert not window.progress.isVisible()


def test_closing_the_window_while_a_folder_opens_lets_go_of_it(window, photos, qtbot, monkeypatch):
    release, threads = _held_scan(monkeypatch)
    release["photos"] = threading.Event()
    window.open_folder(photos)
    qtbot.waitUntil(lambda: bool(threads), timeout=5000)
    threading.Timer(0.2, release["photos"].set).start()
    window.close()  # cancels and waits for the opening
    qtbot.wait(100)
    assert _free(photos) and not session_path_for(photos.resolve()).exists()
