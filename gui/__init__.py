"""PySide6 desktop front end of PhotoCluster (see gui/app.py for the entry point)."""
