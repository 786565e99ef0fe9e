"""Logging and the last line of defence: every error is written to a log file and to stderr, and shown.

The log file lives in the user's log folder (``platformdirs``), so a person can
send it when something went wrong. An exception nobody caught, on the GUI
thread or any other, is logged with its traceback and the person is told in a
message box (on the GUI thread) instead of the window vanishing or the error
being lost.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import traceback
from pathlib import Path

import platformdirs
from PySide6.QtWidgets import QApplication, QMessageBox

from .markup import escape
from .workers import Mailbox

log = logging.getLogger("photocluster")

_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def log_file() -> Path:
    return Path(platformdirs.user_log_dir("photocluster", appauthor=False)) / "photocluster.log"


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Log to stderr and to a rotating file in the user's log folder; returns the file (None if unwritable)."""
    root = logging.getLogger()
    root.setLevel(level)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(stderr)
    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write the log file %s: %s", path, exc)
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    return path


class ErrorReporter:
    """Installed as ``sys.excepthook`` and ``threading.excepthook``: log, then tell the person."""

    def __init__(self, log_path: Path | None = None):
        self.log_path = log_path
        self._mailbox = Mailbox()  # made on the GUI thread: a worker thread's error is shown from there
        self.shown: list[str] = []  # what was reported (the tests read it)
        self._previous = (sys.excepthook, threading.excepthook)

    def install(self) -> None:
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous

    def _sys_hook(self, kind, value, tb) -> None:
        self.report(kind, value, tb, "main")

    def _thread_hook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a background thread"
        self.report(args.exc_type, args.exc_value, args.exc_traceback, name)

    def report(self, kind, value, tb, where: str) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        log.error("uncaught exception in %s:\n%s", where, text)
        self._mailbox.post(self._show, f"{kind.__name__}: {value}")

    def _show(self, summary: str) -> None:
        self.shown.append(summary)
        if QApplication.instance() is None or QApplication.platformName() == "offscreen":
            return  # no one to show it to (tests, headless): the log has it
        where = f" The details are in {escape(str(self.log_path))}." if self.log_path else ""
        QMessageBox.critical(
            None,
            "PhotoCluster: something went wrong",
            f"<p>An unexpected error happened: <b>{escape(summary)}</b></p>"
            f"<p>Your sorting is saved as you go.{where}</p>",
        )
