"""An inline message bar above the photos: errors and warnings a person can read and act on, no pop-ups."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

from .icons import icon

_ICON = {"error": ("skipped", "#c0392b"), "warning": ("skipped", "#b7791f"), "info": ("info", "#2c5fd4")}


class Banner(QFrame):
    action_clicked = Signal(str)  # the action's key

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.setSpacing(10)
        self._icon = QLabel()
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self._icon)
        layout.addWidget(self.text, 1)
        self._buttons: list[QPushButton] = []
        self._actions = QHBoxLayout()
        self._actions.setSpacing(6)
        layout.addLayout(self._actions)
        close = QToolButton()
        close.setIcon(icon("close", "#1f2328"))
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.kind = ""
        self.hide()

    def show_message(self, kind: str, text: str, actions: dict[str, str] | None = None) -> None:
        """Show ``text`` (``kind`` is error, warning or info) with buttons {key: label}."""
        self.kind = kind
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        name, color = _ICON[kind]
        self._icon.setPixmap(icon(name, color).pixmap(20, 20))
        self.text.setText(text)
        for button in self._buttons:
            button.deleteLater()
        self._buttons = []
        for key, label in (actions or {}).items():
            button = QPushButton(label)
            button.setProperty("key", key)
            button.clicked.connect(self._clicked)
            self._actions.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
            self._buttons.append(button)
        self.show()

    def _clicked(self) -> None:
        self.action_clicked.emit(self.sender().property("key"))
