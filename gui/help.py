"""The Help menu's windows: About (with the version), the keyboard shortcuts sheet and the guide.

The shortcuts sheet is read from the window's own actions, so it can never
list a key that does nothing or miss one that was added. The guide is
``docs/gui.md`` shown as it is written.
"""

from __future__ import annotations

import platform
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMenu, QTextBrowser, QVBoxLayout, QWidget

import engine

from .markup import escape

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "gui.md"

# keys that are not actions of the menus, with what they do
OTHER_KEYS = (
    ("1 – 9", "Send the selected photos to the cluster showing that key in the side list"),
    ("0", "Send the selected photos to Unsorted"),
    ("Enter / Space / double-click", "Preview the photo"),
    ("Left / Right, Home / End", "In the preview: the previous or next photo, the first or last"),
    ("Drag photos onto a cluster", "Move them there (and pin them)"),
    ("Drag a cluster onto another", "Merge them"),
)


def about_html() -> str:
    return (
        f"<h3>PhotoCluster {escape(engine.__version__)}</h3>"
        "<p>Sorts photos by what is in them: an ImageNet-trained VGG16 network describes each photo, and "
        "similar descriptions are grouped. Correct the groups by dragging, then export them into folders. "
        "Nothing is ever overwritten.</p>"
        f"<p style='color:gray'>Version {escape(engine.__version__)} · Python {platform.python_version()} · "
        f"Qt for Python {escape(pyside_version)}</p>"
        "<p>Help ▸ PhotoCluster Guide explains every part of the window; Help ▸ Keyboard Shortcuts lists "
        "the keys.</p>"
    )


def menu_actions(top: list[QAction]) -> list[QAction]:
    """Every action of a menu bar's menus and submenus, in the order the menus show them."""
    out = []
    for action in top:
        menu = action.menu()
        if isinstance(menu, QMenu):
            out.extend(menu_actions(menu.actions()))
        elif not action.isSeparator():
            out.append(action)
    return out


def shortcut_rows(actions: list[QAction]) -> list[tuple[str, str]]:
    """(keys, what they do) for every action with a shortcut, in menu order, then the other keys."""
    rows, seen = [], set()
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()
        if text.startswith(("Undo", "Redo")):  # the undo stack names the next edit; the sheet names the key's job
            text = f"{text[:4]} the last edit" if text[:4] == "Undo" else "Redo the edit undone last"
        if keys and (text, tuple(keys)) not in seen:
            seen.add((text, tuple(keys)))
            rows.append((" or ".join(keys), text))
    return rows + list(OTHER_KEYS)


def shortcuts_html(actions: list[QAction]) -> str:
    cells = "".join(
        f"<tr><td style='padding:3px 14px 3px 0'><b>{escape(keys)}</b></td><td>{escape(what)}</td></tr>"
        for keys, what in shortcut_rows(actions)
    )
    return f"<h3>Keyboard shortcuts</h3><table>{cells}</table>"


def guide_markdown() -> str:
    try:
        return GUIDE.read_text(encoding="utf-8")
    except OSError:
        return f"# PhotoCluster {engine.__version__}\n\nThe guide (docs/gui.md) is not installed with this copy."


class HelpWindow(QDialog):
    """A resizable, non-modal reading window (rich text or Markdown), closed with Esc or Close."""

    def __init__(self, title: str, parent: QWidget | None = None, html: str = "", markdown: str = ""):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        if markdown:
            self.browser.setSearchPaths([str(GUIDE.parent)])  # the guide's screenshots are beside it
            self.browser.setMarkdown(markdown)
        else:
            self.browser.setHtml(html)
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(760, 640) if markdown else self.resize(560, 520)
