"""Thumbnails decoded off the GUI thread, cached in memory (LRU) and on disk.

Views ask with ``get(path, tier)``: a hit returns the ``QImage`` at once, a miss
queues a request and returns ``None`` (the view paints a placeholder) and
``ready(path, tier)`` follows when the image is there. Requests are served
newest first and only the most recent ones are kept, so while a person scrolls
fast the rows that flew past are never decoded; ``prune`` drops the requests
of rows no longer visible. On disk a thumbnail is keyed by the file's path,
size and modification time, so an edited photo gets a new one.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from engine.cache import default_cache_dir
from engine.decode import DecodeError, open_rgb

from .workers import Mailbox

TIERS = (128, 256)  # decoded sizes (longer side, px); views scale down from the nearest
MAX_PENDING = 300
IDLE_SECONDS = 10.0  # a decoding thread with nothing to do this long ends
DISK_QUALITY = 85


def tier_for(pixels: float) -> int:
    """The smallest decoded size that covers ``pixels`` device pixels."""
    return next((t for t in TIERS if t >= pixels), TIERS[-1])


def thumbnail_cache_dir() -> Path:
    return default_cache_dir() / "thumbnails"


class ThumbnailLoader(QObject):
    ready = Signal(str, int)  # relative path, tier

    def __init__(
        self,
        parent: QObject | None = None,
        memory_bytes: int = 320 << 20,
        threads: int | None = None,
        disk_dir: Path | None = None,
    ):
        super().__init__(parent)
        self.root: Path | None = None
        self.disk_dir = disk_dir or thumbnail_cache_dir()
        self._memory: OrderedDict[tuple[str, int], QImage] = OrderedDict()
        self._memory_bytes, self._memory_limit = 0, memory_bytes
        self._failed: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._pending: OrderedDict[tuple[str, int], str] = OrderedDict()  # key -> group, newest last
        self._in_flight: set[tuple[str, int]] = set()
        self._done: list[tuple[int, str, int, QImage | None]] = []  # finished in the pool, not yet stored
        self._generation = 0
        self._wake = threading.Condition(self._lock)
        self._servers = 0  # decoding threads alive: started on demand, kept while there is work (see _request)
        self._decoding = 0  # of those, the ones decoding now (a folder switch does not stop them mid-image)
        self._threads = threads or max(2, min(4, os.cpu_count() or 2))
        self._mailbox = Mailbox(self)  # pool threads never emit signals themselves (see gui/workers.py)

    # ---- GUI thread ------------------------------------------------------------
    def set_root(self, root: Path | None) -> None:
        """Switch folders: forget everything about the previous one."""
        with self._lock:
            self._generation += 1
            self._pending.clear()
            self._in_flight.clear()
        self.root = Path(root) if root else None
        self._memory.clear()
        self._memory_bytes = 0
        self._failed.clear()

    def get(self, path: str, tier: int, group: str = "grid") -> QImage | None:
        key = (path, tier)
        image = self._memory.get(key)
        if image is not None:
            self._memory.move_to_end(key)
            return image
        if key not in self._failed and self.root is not None:
            self._request(key, group)
        return None

    def failed(self, path: str, tier: int) -> bool:
        return (path, tier) in self._failed

    def prune(self, group: str, keep: set[str]) -> None:
        """Cancel the queued requests of ``group`` whose path is not in ``keep``."""
        with self._lock:
            for key in [k for k, g in self._pending.items() if g == group and k[0] not in keep]:
                del self._pending[key]

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending) + len(self._in_flight)

    def wait(self, msecs: int = 10_000) -> bool:
        """Wait for the decoding threads to run dry (after ``set_root(None)``, at shutdown)."""
        deadline = time.monotonic() + msecs / 1000
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending and not self._decoding:
                    return True
            time.sleep(0.005)
        return False

    def _request(self, key: tuple[str, int], group: str) -> None:
        with self._lock:
            if key in self._in_flight:
                return
            self._pending[key] = group
            self._pending.move_to_end(key)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)  # the oldest request: scrolled past long ago
            # a thread started per burst of requests made the GUI thread wait for it to come up, with
            # other threads holding the GIL (a 100 ms stall scrolling 100,000 photos): they stay a while
            start = self._servers < self._threads
            if start:
                self._servers += 1
            else:
                self._wake.notify()
        if start:
            threading.Thread(target=self._serve, name="thumbnails", daemon=True).start()

    def _take_results(self) -> None:
        with self._lock:
            done, self._done = self._done, []
            for generation, path, tier, _ in done:  # in flight until stored, so a repaint meanwhile asks no more
                if generation == self._generation:
                    self._in_flight.discard((path, tier))
        for result in done:
            self._store(*result)

    def _store(self, generation: int, path: str, tier: int, image: QImage | None) -> None:
        if generation != self._generation:
            return
        key = (path, tier)
        if image is None:
            self._failed.add(key)
        else:
            old = self._memory.pop(key, None)
            if old is not None:
                self._memory_bytes -= old.sizeInBytes()
            self._memory[key] = image
            self._memory_bytes += image.sizeInBytes()
            while self._memory_bytes > self._memory_limit and len(self._memory) > 1:
                _, old = self._memory.popitem(last=False)
                self._memory_bytes -= old.sizeInBytes()
        self.ready.emit(path, tier)

    # ---- decoding threads --------------------------------------------------------
    def _serve(self) -> None:
        """Serve requests; end after ``IDLE_SECONDS`` with none. At most ``threads`` of these run at once."""
        while True:
            job = self._next()
            if job is None:
                return
            (path, tier), generation, root = job
            image = load_thumbnail(root / path, tier, self.disk_dir)
            self._finish((path, tier), generation, image)

    def _next(self):
        with self._lock:
            if not self._pending:
                self._wake.wait(IDLE_SECONDS)
            if not self._pending:
                self._servers -= 1
                return None
            key, _ = self._pending.popitem(last=True)  # newest first: what is on screen now
            self._in_flight.add(key)
            self._decoding += 1
            return key, self._generation, self.root

    def _finish(self, key, generation, image) -> None:
        with self._lock:
            self._decoding -= 1
            self._done.append((generation, key[0], key[1], image))
            notify = len(self._done) == 1  # one delivery collects everything finished meanwhile
        if notify:
            self._mailbox.post(self._take_results)


def load_thumbnail(path: Path, tier: int, disk_dir: Path | None) -> QImage | None:
    """The thumbnail of ``path`` whose longer side is at most ``tier``: from disk, else decoded (and stored)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    cached = None
    if disk_dir is not None:
        key = hashlib.blake2b(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{tier}".encode(), digest_size=16).hexdigest()
        cached = disk_dir / key[:2] / f"{key}.jpg"
        image = QImage(str(cached)) if cached.exists() else QImage()
        if not image.isNull():
            return image
    try:
        im = open_rgb(path, tier)
    except DecodeError:
        return None
    if max(im.size) > tier:
        im.thumbnail((tier, tier), Image.Resampling.BICUBIC, reducing_gap=2.0)
    if cached is not None:
        _save_quietly(im, cached)
    data = im.tobytes()
    return QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888).copy()


def _save_quietly(im: Image.Image, target: Path) -> None:
    """Write atomically; a read-only or full cache folder only costs the next decode."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{threading.get_ident()}.tmp")
        im.save(tmp, "JPEG", quality=DISK_QUALITY)
        os.replace(tmp, target)
    except OSError:
        pass
