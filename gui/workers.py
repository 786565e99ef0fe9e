"""Background work without touching widgets: generator workers on a QThread, small jobs in a pool.

``GeneratorWorker`` follows superqt's ``_qthreading`` pattern: the function is a
generator that receives a ``cancel`` event; every value it yields becomes a
``progress`` signal (coalesced, so a chatty generator cannot flood the GUI
thread), its return value becomes ``returned`` and an exception ``errored``.
Receivers must be methods of QObjects living on the GUI thread, so Qt queues
the calls there.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThread, QThreadPool, Signal, Slot


class GeneratorWorker(QObject):
    progress = Signal(object)
    returned = Signal(object)
    errored = Signal(object)  # the exception; ``traceback_text`` is attached to it
    finished = Signal()
    _alive: set["GeneratorWorker"] = set()  # running workers, kept until their thread has ended

    def __init__(self, func: Callable[..., Any], *args, min_interval: float = 0.1, **kwargs):
        super().__init__()
        self.cancel_event = threading.Event()
        self._call = (func, args, kwargs)
        self._min_interval = min_interval
        self._thread: QThread | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def start(self) -> None:
        # Parented to the application so that only ``deleteLater`` (after it has ended) destroys it,
        # never Python's garbage collector while it still runs.
        thread = QThread(QCoreApplication.instance())
        thread.setObjectName(f"worker-{self._call[0].__name__}")
        self.moveToThread(thread)
        thread.started.connect(self._run)
        self.finished.connect(thread.quit)
        thread.finished.connect(self._release)
        thread.finished.connect(thread.deleteLater)
        self._thread = thread
        GeneratorWorker._alive.add(self)  # receivers of ``finished`` get it even if the owner lets go at once
        thread.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the thread has ended (for shutdown and tests)."""
        thread = self._thread
        try:
            return thread.wait(msecs) if thread is not None else True
        except RuntimeError:  # the QThread was already deleted: it has ended
            return True

    @Slot()
    def _release(self) -> None:
        GeneratorWorker._alive.discard(self)

    @Slot()
    def _run(self) -> None:
        func, args, kwargs = self._call
        try:
            result = self._drive(func(*args, cancel=self.cancel_event, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the GUI
            exc.traceback_text = traceback.format_exc()
            outcome = (self.errored, exc)
        else:
            outcome = (self.returned, result)
        self.moveToThread(QCoreApplication.instance().thread())
        signal, value = outcome
        signal.emit(value)
        self.finished.emit()

    def _drive(self, generator):
        last_emit, held = 0.0, None
        while True:
            try:
                value = next(generator)
            except StopIteration as stop:
                if held is not None:
                    self.progress.emit(held)
                return stop.value
            now = time.monotonic()
            if now - last_emit >= self._min_interval:
                self.progress.emit(value)
                last_emit, held = now, None
            else:
                held = value


class _TaskSignals(QObject):
    done = Signal(object)
    failed = Signal(object)


class PoolTask(QRunnable):
    """A plain function run once in a thread pool; ``signals.done``/``failed`` carry the outcome."""

    def __init__(self, func: Callable[..., Any], *args):
        super().__init__()
        self.signals = _TaskSignals()
        self._func, self._args = func, args

    def run(self) -> None:
        try:
            result = self._func(*self._args)
        except Exception as exc:  # noqa: BLE001 - reported to the GUI
            exc.traceback_text = traceback.format_exc()
            self.signals.failed.emit(exc)
        else:
            self.signals.done.emit(result)


def run_in_pool(pool: QThreadPool, func: Callable[..., Any], *args, done=None, failed=None) -> PoolTask:
    task = PoolTask(func, *args)
    if done is not None:
        task.signals.done.connect(done)
    if failed is not None:
        task.signals.failed.connect(failed)
    pool.start(task)
    return task
