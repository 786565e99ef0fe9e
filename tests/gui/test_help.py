"""Help: About names the version, the shortcuts sheet lists the real keys, the guide is shown in the app."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

import engine
from gui import help as help_pages


def test_help_menu_has_guide_shortcuts_and_about(window):
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert [a.text() for a in help_menu.actions() if not a.isSeparator()] == [
        "PhotoCluster &Guide",
        "&Keyboard Shortcuts",
        "&About PhotoCluster",
    ]


def test_about_names_the_version(window, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: shown.append(text))
    window.about_action.trigger()
    assert engine.__version__ in shown[0] and "Version" in shown[0]


def test_shortcuts_sheet_lists_the_window_keys(window):
    window.shortcuts_action.trigger()
    text = window.help_window.browser.toPlainText()
    assert window.help_window.isVisible()
    for keys, what in (
        ("Ctrl+Z", "Undo the last edit"),
        ("Ctrl+Y", "Redo"),
        ("Ctrl+Shift+Z", "Redo"),
        ("F2", "Rename"),
    ):
        assert keys in text and what in text, (keys, text)
    assert "1 – 9" in text
    rows = help_pages.shortcut_rows(help_pages.menu_actions(window.menuBar().actions()))
    assert ("Ctrl+E", "Export") in rows


def test_guide_shows_docs_gui_md(window):
    window.guide_action.trigger()
    text = window.help_window.browser.toPlainText()
    assert window.help_window.windowTitle() == "PhotoCluster Guide"
    first_heading = next(line for line in help_pages.GUIDE.read_text().splitlines() if line.startswith("# "))
    assert first_heading[2:].strip() in text


def test_guide_shows_its_screenshots(window):
    window.guide_action.trigger()
    document = window.help_window.browser.document()
    image = document.resource(document.ResourceType.ImageResource, "screenshot-1280.png")
    assert image is not None and not image.isNull()
