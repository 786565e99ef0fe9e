"""``python main.py [FOLDER] [--weights PATH]``: the desktop app's entry point."""

from __future__ import annotations

import argparse
import os
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from engine.features import ENGINE_ENV_VAR, ENGINES

from . import theme
from .diagnostics import ErrorReporter, setup_logging
from .icons import app_icon
from .main_window import MainWindow


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="photocluster", description="Sort photos by what is in them.")
    parser.add_argument("folder", nargs="?", help="a folder of photos to open")
    parser.add_argument(
        "--weights",
        metavar="PATH",
        help="VGG16 'no top' weights file (default: $PHOTOCLUSTER_WEIGHTS, else Keras' download)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        help=f"what runs VGG16 (default: ${ENGINE_ENV_VAR}, else auto = OpenVINO on a CPU, TensorFlow on a GPU)",
    )
    return parser.parse_args(argv)


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication, named so QSettings and the platform know it, and styled."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0], *(argv or [])])
    app.setOrganizationName("PhotoCluster")
    app.setApplicationName("PhotoCluster")
    app.setApplicationDisplayName("PhotoCluster")
    app.setDesktopFileName("photocluster")
    app.setWindowIcon(app_icon())
    theme.apply(app)
    return app


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.engine:  # the analysis runs in a child process, which reads it from the environment
        os.environ[ENGINE_ENV_VAR] = args.engine
    log_path = setup_logging()
    app = create_application()
    ErrorReporter(log_path).install()
    window = MainWindow(weights=args.weights)
    window.show()
    if args.folder:
        QTimer.singleShot(0, lambda: window.open_folder(args.folder))
    return app.exec()
