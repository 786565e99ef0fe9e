"""Errors are never dropped: uncaught exceptions and failed jobs are logged with their traceback and shown."""

from __future__ import annotations

import logging
import threading

from gui import diagnostics
from gui.workers import start_job


def test_log_file_and_uncaught_thread_exception(app, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(diagnostics, "log_file", lambda: tmp_path / "logs" / "photocluster.log")
    root = logging.getLogger()
    handlers = list(root.handlers)
    path = diagnostics.setup_logging()
    reporter = diagnostics.ErrorReporter(path)
    reporter.install()
    try:

        def boom():
            raise RuntimeError("a worker blew up")

        thread = threading.Thread(target=boom, name="doomed")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: bool(reporter.shown), timeout=3000)  # shown from the GUI thread
        assert reporter.shown == ["RuntimeError: a worker blew up"]
        for handler in root.handlers:
            handler.flush()
        text = path.read_text()
        assert "uncaught exception in doomed" in text and "in boom" in text  # the traceback, in the file
    finally:
        reporter.uninstall()
        for handler in set(root.handlers) - set(handlers):
            root.removeHandler(handler)
            handler.close()


def test_a_failed_job_logs_its_traceback(app, qtbot, caplog):
    def job(cancel):
        yield 1
        raise ValueError("bad photo")

    failures = []
    with caplog.at_level(logging.ERROR):
        worker = start_job(job, failed=failures.append)
        qtbot.waitUntil(lambda: bool(failures), timeout=3000)
    assert worker.wait()
    assert isinstance(failures[0], ValueError)
    assert "job failed" in caplog.text and 'raise ValueError("bad photo")' in caplog.text
