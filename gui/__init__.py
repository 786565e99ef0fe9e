"""PySide6 desktop front end of PhotoCluster (see gui/app.py for the entry point)."""

from . import qt_compat  # noqa: F401  - binding work-arounds, before any signal is emitted
