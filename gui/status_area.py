"""The status bar: a line of text, how many photos are selected, photos/s and time left, a progress bar, Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton

from .markup import duration

STAGE_TEXT = {
    "model": "Loading the image model…",
    "scan": "Looking for photos…",
    "features": "Analysing photos…",
    "cache": "Checking which photos were analysed before…",
    "cluster": "Grouping photos…",
}


class StatusArea:
    """Builds its widgets into ``bar``; the window keeps it and says what to show."""

    def __init__(self, bar: QStatusBar, cancel_action: QAction):
        bar.setSizeGripEnabled(False)
        self.text = QLabel()
        bar.addWidget(self.text, 1)
        self.selection = QLabel()
        self.selection.setObjectName("selectionCount")
        bar.addPermanentWidget(self.selection)
        self.rate = QLabel()
        bar.addPermanentWidget(self.rate)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(False)
        bar.addPermanentWidget(self.progress)
        self.cancel_button = QToolButton()
        self.cancel_button.setDefaultAction(cancel_action)
        self.cancel_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.cancel_button.setAutoRaise(True)
        bar.addPermanentWidget(self.cancel_button)
        self.groups: int | None = None  # groups found so far by a running analysis
        self.set_busy(False)
        self.set_text("Ready")
        self.set_selected(0, 0)

    def set_text(self, text: str) -> None:
        self.text.setText(text)

    def set_selected(self, selected: int, shown: int) -> None:
        """``selected`` of the ``shown`` photos are selected; nothing is said when none are."""
        self.selection.setText(f"{selected:,} of {shown:,} selected" if selected else "")
        self.selection.setVisible(bool(selected))

    def set_busy(self, busy: bool, analysing: bool = False) -> None:
        """Show a busy bar; with photos/s and Cancel while an analysis runs."""
        self.progress.setVisible(busy)
        if not analysing:
            self.groups = None
        self.rate.setVisible(busy and analysing)
        self.cancel_button.setVisible(busy and analysing)
        if busy:
            self.progress.setRange(0, 0)
        self.rate.clear()

    def set_groups(self, groups: int) -> None:
        """A running analysis shows this many groups so far (said with its progress)."""
        self.groups = groups

    def show_progress(self, progress) -> None:
        """An analysis ``Progress``: counts, rate and time left while photos are analysed, else the stage."""
        if progress.stage == "features" and progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
            groups = f" · {self.groups} groups so far" if self.groups is not None else ""
            self.set_text(f"Analysing photos: {progress.done:,} of {progress.total:,}{groups}")
            parts = [f"{progress.rate:.1f} photos/s"] if progress.rate else []
            if progress.engine:
                parts.append(progress.engine)
            if progress.eta is not None and progress.done < progress.total:
                parts.append(f"about {duration(progress.eta)} left")
            self.rate.setText(" · ".join(parts))
        else:
            self.progress.setRange(0, 0)
            self.rate.clear()
            text = progress.message if progress.stage == "model" and progress.message else None
            self.set_text(text or STAGE_TEXT.get(progress.stage) or progress.message)
