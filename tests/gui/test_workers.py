"""The plumbing under every background job: workers, the task pool, the mailbox, the emit shim."""

from __future__ import annotations

import sys
import threading

from PySide6.QtCore import QObject, Signal

from gui.workers import GeneratorWorker, Mailbox, TaskPool


def test_emitting_and_model_reading_keep_true_and_none_alive(app):
    """PySide6 6.12.0 dropped a reference to True per emit and to None per empty data() and crashed the
    interpreter after a few thousand (pyproject excludes it). On Python 3.11 (no immortal objects) the
    reference counts show such a leak directly: they must not fall."""
    from PySide6.QtCore import QAbstractListModel, QModelIndex

    class Emitter(QObject):
        fired = Signal(str, int)

    class Empty(QAbstractListModel):
        def rowCount(self, parent=QModelIndex()):
            return 1

        def data(self, index, role=0):
            return None

    emitter, model = Emitter(), Empty()
    received = []
    emitter.fired.connect(lambda *args: received.append(args))
    index = model.index(0)
    before = sys.getrefcount(True), sys.getrefcount(None)
    answers = set()
    for _ in range(2_000):
        emitter.fired.emit("x", 1)
        answers.add(index.data())
    after = sys.getrefcount(True), sys.getrefcount(None)
    assert len(received) == 2_000 and answers == {None}
    assert after[0] >= before[0] - 50 and after[1] >= before[1] - 50, (before, after)


def test_generator_worker_reports_progress_result_and_runs_off_the_gui_thread(app, qtbot):
    seen_threads = []

    def job(n, cancel):
        seen_threads.append(threading.current_thread())
        yield from range(n)
        return "done"

    worker = GeneratorWorker(job, 5, min_interval=0)
    progress, results = [], []
    worker.progress.connect(progress.append)
    worker.returned.connect(results.append)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    assert progress == [0, 1, 2, 3, 4] and results == ["done"]
    assert seen_threads[0] is not threading.main_thread()


def test_generator_worker_cancel_and_errors(app, qtbot):
    def job(cancel):
        while not cancel.is_set():
            yield "tick"
        raise RuntimeError("stopped on request")

    worker = GeneratorWorker(job)
    errors = []
    worker.errored.connect(errors.append)
    worker.start()
    worker.cancel()
    with qtbot.waitSignal(worker.finished, timeout=5000):
        pass
    assert [str(e) for e in errors] == ["stopped on request"] and hasattr(errors[0], "traceback_text")
    assert worker.wait(1000)


def test_task_pool_and_mailbox_deliver_on_the_gui_thread(app, qtbot):
    pool = TaskPool(2)
    where = []
    pool.submit(lambda: threading.current_thread() is threading.main_thread(), done=where.append)
    pool.submit(lambda: 1 / 0, failed=lambda exc: where.append(type(exc).__name__))
    qtbot.waitUntil(lambda: len(where) == 2, timeout=5000)
    assert sorted(map(str, where)) == ["False", "ZeroDivisionError"]
    mailbox, calls = Mailbox(), []
    threads = [threading.Thread(target=lambda: [mailbox.post(calls.append, i) for i in range(100)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    qtbot.waitUntil(lambda: len(calls) == 400, timeout=5000)
    pool.shutdown()


def test_released_objects_are_freed_in_the_background_thread(app, qtbot):
    import weakref

    from gui.workers import release_in_background

    class Held:
        pass

    freed_in = []
    held = Held()
    weakref.finalize(held, lambda: freed_in.append(threading.current_thread().name))
    items = [held, None]
    del held
    release_in_background(items)
    assert items == []  # the caller keeps no reference
    qtbot.waitUntil(lambda: freed_in == ["release"], timeout=5000)
