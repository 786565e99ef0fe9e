"""The page shown before a folder is open: what the app does, Open Folder, and the recent folders."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from . import settings as app_settings
from .icons import app_icon, icon


class WelcomePage(QWidget):
    openRequested = Signal()
    folderChosen = Signal(str)  # a recent folder

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, objectName="emptyState")
        outer = QVBoxLayout(self)
        outer.addStretch(3)
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(96, 96))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(logo)
        title = QLabel("Open a folder of photos to begin", objectName="emptyTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setWordWrap(True)  # a narrow window wraps it rather than growing to fit it
        outer.addWidget(title)
        hint = QLabel(
            "PhotoCluster groups your photos by what is in them. You check and correct the groups, "
            "then export them into folders. Nothing in your folder changes until you export.",
            objectName="emptyHint",
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        hint.setMaximumWidth(720)
        outer.addWidget(hint, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addSpacing(18)
        row = QHBoxLayout()
        row.addStretch(1)
        button = QPushButton(icon("folder-open", "#ffffff"), "  Open Folder…", objectName="bigButton")
        button.setIconSize(QSize(22, 22))
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.clicked.connect(self.openRequested)
        row.addWidget(button)
        row.addStretch(1)
        outer.addLayout(row)
        drop = QLabel("or drop a folder onto this window", objectName="emptyHint")
        drop.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(drop)
        outer.addSpacing(18)
        self.recent_box = QVBoxLayout()
        self.recent_box.setSpacing(2)
        outer.addLayout(self.recent_box)
        outer.addStretch(4)
        self._fill_recent_box()

    def _fill_recent_box(self) -> None:
        folders = app_settings.recent_folders()[:5]
        if not folders:
            return
        title = QLabel("Recent folders", objectName="emptyHint")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.recent_box.addWidget(title)
        for folder in folders:
            button = QPushButton(folder, objectName="recentFolder")
            button.setFlat(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.clicked.connect(lambda _=False, f=folder: self.folderChosen.emit(f))
            self.recent_box.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
