"""The status bar says which engine analyses and when the fast engine is being prepared."""

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QStatusBar

from engine.features import PREPARING
from engine.pipeline import Progress
from gui.status_area import StatusArea


def test_engine_and_preparation_are_shown(app):
    bar, cancel = QStatusBar(), QAction("Cancel")  # kept: the area's widgets belong to them
    area = StatusArea(bar, cancel)
    area.show_progress(Progress("model", 0, 0, message=PREPARING))
    assert area.text.text() == PREPARING
    area.show_progress(Progress("features", 5, 10, rate=2.0, eta=2.5, engine="OpenVINO INT8"))
    assert area.text.text() == "Analysing photos: 5 of 10"
    assert "2.0 photos/s" in area.rate.text() and "OpenVINO INT8" in area.rate.text()
