"""Background work without touching widgets: generator workers and small jobs in plain threads.

Every signal is emitted on the GUI thread. Worker threads never emit: they
post to a ``Mailbox``, which wakes the GUI thread with one queued
``QMetaObject.invokeMethod`` and makes the calls there. That keeps emission,
slot calls and object lifetimes on one thread, clear of PySide's history of
cross-thread emission bugs (PYSIDE-3124), and since no Qt object lives in a
worker, plain ``threading`` threads are all it takes.

``GeneratorWorker`` follows superqt's ``_qthreading`` pattern: the function is a
generator that receives a ``cancel`` event; every value it yields becomes a
``progress`` signal (coalesced, so a chatty generator cannot flood the GUI
thread), its return value becomes ``returned`` and an exception ``errored``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from PySide6.QtCore import QMetaObject, QObject, Qt, Signal, Slot

from engine.cancel import Cancelled

log = logging.getLogger(__name__)


class Mailbox(QObject):
    """Calls ``callback(*args)`` on the GUI thread for any thread that ``post``s it, in order."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._letters: deque = deque()

    def post(self, callback: Callable[..., Any], *args) -> None:
        with self._lock:
            self._letters.append((callback, args))
            wake = len(self._letters) == 1  # one wake-up delivers everything posted meanwhile
        if wake:
            QMetaObject.invokeMethod(self, "_deliver", Qt.ConnectionType.QueuedConnection)

    @Slot()
    def _deliver(self) -> None:
        with self._lock:
            letters, self._letters = self._letters, deque()
        for callback, args in letters:
            callback(*args)


class GuiCall:
    """Lets a worker thread run a short function on the GUI thread and wait for what it returns: to read
    state the GUI thread owns between two of its events, never half-way through an edit."""

    def __init__(self, parent: QObject | None = None):
        self._mailbox = Mailbox(parent)

    def __call__(self, func: Callable[[], Any], cancel: threading.Event) -> Any:
        """``func()``'s result; raises ``Cancelled`` if ``cancel`` is set first (the GUI thread may
        be waiting for this very worker, at shutdown), and what ``func`` raised."""
        ready, box = threading.Event(), {}

        def run() -> None:
            try:
                box["value"] = func()
            except BaseException as exc:
                box["error"] = exc
            ready.set()

        self._mailbox.post(run)
        while not ready.wait(0.05):
            if cancel.is_set():
                raise Cancelled()
        if "error" in box:
            raise box["error"]
        return box["value"]


def hand_over_gil() -> None:
    """For a worker thread between slices of Python work beside the window: a real sleep hands the GIL
    to a thread waiting for it now, rather than after Python's 5 ms switch interval. The GUI thread takes
    the GIL for each call into Python, so without this each of them can wait that long (bench/scale.py)."""
    time.sleep(0.0002)


_released: queue.SimpleQueue = queue.SimpleQueue()
_releaser: list[threading.Thread] = []


def release_in_background(items: list) -> None:
    """Empty ``items`` and let what it held go in a background thread. The features an analysis replaces
    map a file that is gone: the last reference frees its pages, 34 ms of the GUI thread for 400 MB."""
    if not _releaser:
        _releaser.append(threading.Thread(target=_release_forever, name="release", daemon=True))
        _releaser[0].start()
    _released.put(items[:])
    items.clear()


def _release_forever() -> None:
    while True:
        _released.get()  # dropped here, in this thread


class GeneratorWorker(QObject):
    progress = Signal(object)
    returned = Signal(object)
    errored = Signal(object)  # the exception; ``traceback_text`` is attached to it
    finished = Signal()
    _alive: ClassVar[set[GeneratorWorker]] = set()  # running workers, kept until ``finished`` has been delivered

    def __init__(self, func: Callable[..., Any], *args, min_interval: float = 0.1, **kwargs):
        super().__init__()
        self.cancel_event = threading.Event()
        self._call = (func, args, kwargs)
        self._min_interval = min_interval
        self._thread: threading.Thread | None = None
        self._mailbox = Mailbox(self)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"worker-{self._call[0].__name__}", daemon=True)
        GeneratorWorker._alive.add(self)  # receivers of ``finished`` get it even if the owner lets go at once
        self._thread.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the thread has ended (for shutdown and tests)."""
        if self._thread is not None:
            self._thread.join(msecs / 1000)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        func, args, kwargs = self._call
        try:
            result = self._drive(func(*args, cancel=self.cancel_event, **kwargs))
        except BaseException as exc:
            exc.traceback_text = traceback.format_exc()  # type: ignore[attr-defined]
            self._mailbox.post(self.errored.emit, exc)
        else:
            self._mailbox.post(self.returned.emit, result)
        self._mailbox.post(self._finish)

    def _finish(self) -> None:
        self.finished.emit()
        GeneratorWorker._alive.discard(self)

    def _drive(self, generator):
        last_emit, held = 0.0, None
        while True:
            try:
                value = next(generator)
            except StopIteration as stop:
                if held is not None:
                    self._mailbox.post(self.progress.emit, held)
                return stop.value
            now = time.monotonic()
            if now - last_emit >= self._min_interval:
                self._mailbox.post(self.progress.emit, value)
                last_emit, held = now, None
            else:
                held = value


def start_job(
    func: Callable[..., Any],
    *args,
    done: Callable[[Any], Any] | None = None,
    failed: Callable[[BaseException], Any] | None = None,
    finished: Callable[[], Any] | None = None,
    progress: Callable[[Any], Any] | None = None,
    **kwargs,
) -> GeneratorWorker:
    """Run the generator ``func(*args, cancel=..., **kwargs)`` in a ``GeneratorWorker`` wired to these callbacks.

    Every job of the window starts here, so each one reports the same way; a
    failure that is not a cancellation is logged with its traceback even when
    ``failed`` handles it too.
    """
    worker = GeneratorWorker(func, *args, **kwargs)
    if progress is not None:
        worker.progress.connect(progress)
    if done is not None:
        worker.returned.connect(done)
    worker.errored.connect(lambda exc: _log_failure(func, exc))
    if failed is not None:
        worker.errored.connect(failed)
    if finished is not None:
        worker.finished.connect(finished)
    worker.start()
    return worker


def _log_failure(func: Callable[..., Any], exc: BaseException) -> None:
    if not isinstance(exc, Cancelled):
        log.error("%s failed:\n%s", getattr(func, "__name__", func), getattr(exc, "traceback_text", exc))


class TaskPool(QObject):
    """Plain functions run in a few background threads; ``done``/``failed`` callbacks run on the GUI thread."""

    def __init__(self, threads: int = 1, name: str = "task", parent: QObject | None = None):
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._mailbox = Mailbox(self)

    def submit(self, func: Callable[..., Any], *args, done=None, failed=None):
        return self._executor.submit(self._call, func, args, done, failed)

    def _call(self, func, args, done, failed) -> None:
        try:
            result = func(*args)
        except Exception as exc:
            exc.traceback_text = traceback.format_exc()  # type: ignore[attr-defined]
            log.error("%s failed:\n%s", getattr(func, "__name__", func), traceback.format_exc())
            if failed is not None:
                self._mailbox.post(failed, exc)
        else:
            if done is not None:
                self._mailbox.post(done, result)

    def wait(self) -> None:
        """Finish what was submitted (its callbacks run later, from the event loop)."""
        self._executor.submit(lambda: None).result()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
