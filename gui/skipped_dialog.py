"""Every file the analysis left out, and why, in a list a person can sort and copy."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout

from engine.scan import Skipped


class SkippedDialog(QDialog):
    def __init__(self, skipped: list[Skipped], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Skipped files")
        self.resize(760, 420)
        self.skipped = list(skipped)
        layout = QVBoxLayout(self)
        n = len(self.skipped)
        intro = QLabel(
            f"{n} file{'s were' if n != 1 else ' was'} left out of the sorting. "
            "They stay where they are; fix or convert them and analyse again to include them."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTreeWidget()
        self.table.setColumnCount(2)
        self.table.setHeaderLabels(["File", "Why it was skipped"])
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.addTopLevelItems([QTreeWidgetItem([s.path, s.reason]) for s in self.skipped])
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setColumnWidth(0, 360)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy list", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText("\n".join(f"{s.path}\t{s.reason}" for s in self.skipped))
