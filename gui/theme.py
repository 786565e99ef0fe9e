"""The look: Fusion with a calm palette, light or dark as the platform asks, and a few style rules."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = QColor("#3b7ddd")


def is_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply(app: QApplication) -> None:
    """Style the whole application once, before any window is built."""
    app.setStyle("Fusion")
    dark = is_dark()
    app.setPalette(_palette(dark))
    app.setStyleSheet(_STYLE.format(**_colors(dark)))


def _colors(dark: bool) -> dict[str, str]:
    if dark:
        return {
            "window": "#1f2125",
            "base": "#26292e",
            "alt": "#2c3036",
            "text": "#e6e8eb",
            "muted": "#9aa1ab",
            "border": "#363a41",
            "panel": "#1b1d21",
            "hover": "#30343b",
            "button": "#2d3137",
        }
    return {
        "window": "#f4f5f7",
        "base": "#ffffff",
        "alt": "#f7f8fa",
        "text": "#1f2328",
        "muted": "#5f6670",  # 4.5:1 or more on every background below (WCAG AA)
        "border": "#dcdfe4",
        "panel": "#eceef1",
        "hover": "#e6e9ee",
        "button": "#ffffff",
    }


def _palette(dark: bool) -> QPalette:
    c = {k: QColor(v) for k, v in _colors(dark).items()}
    p = QPalette()
    p.setColor(QPalette.ColorRole.Window, c["window"])
    p.setColor(QPalette.ColorRole.WindowText, c["text"])
    p.setColor(QPalette.ColorRole.Base, c["base"])
    p.setColor(QPalette.ColorRole.AlternateBase, c["alt"])
    p.setColor(QPalette.ColorRole.Text, c["text"])
    p.setColor(QPalette.ColorRole.Button, c["button"])
    p.setColor(QPalette.ColorRole.ButtonText, c["text"])
    p.setColor(QPalette.ColorRole.ToolTipBase, c["base"])
    p.setColor(QPalette.ColorRole.ToolTipText, c["text"])
    p.setColor(QPalette.ColorRole.PlaceholderText, c["muted"])
    p.setColor(QPalette.ColorRole.Highlight, ACCENT)
    p.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    p.setColor(QPalette.ColorRole.Link, ACCENT)
    p.setColor(QPalette.ColorRole.Mid, c["border"])
    p.setColor(QPalette.ColorRole.Midlight, c["hover"])
    p.setColor(QPalette.ColorRole.Dark, c["border"])
    p.setColor(QPalette.ColorRole.Light, c["alt"])
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, c["muted"])
    return p


def muted_color() -> QColor:
    return QColor(_colors(is_dark())["muted"])


_STYLE = """
QToolBar {{ background: {panel}; border: none; border-bottom: 1px solid {border}; padding: 4px 6px; spacing: 4px; }}
QToolBar QToolButton {{ padding: 4px 8px; border-radius: 6px; }}
QToolBar QToolButton:hover {{ background: {hover}; }}
QToolBar QToolButton#primary {{ background: #3b7ddd; color: white; font-weight: 600; padding: 4px 12px; }}
QToolBar QToolButton#primary:hover {{ background: #346fc6; }}
QToolBar QToolButton#primary:disabled {{ background: {border}; color: {muted}; }}
QToolBar QLabel {{ color: {muted}; padding-left: 6px; }}
QListView#clusters {{ background: {panel}; border: none; border-right: 1px solid {border}; outline: 0; }}
QListView#grid {{ background: {base}; border: none; outline: 0; }}
QStatusBar {{ background: {panel}; border-top: 1px solid {border}; color: {muted}; }}
QStatusBar QLabel {{ color: {muted}; padding: 0 6px; }}
QSplitter::handle {{ background: {border}; }}
QToolButton[popupMode="2"] {{ padding-right: 14px; }}
QFrame#banner {{ border-radius: 8px; margin: 8px 10px 0 10px; }}
QFrame#banner[kind="error"] {{ background: #fbe9e9; border: 1px solid #eeb4b4; }}
QFrame#banner[kind="warning"] {{ background: #fff5df; border: 1px solid #f0d595; }}
QFrame#banner[kind="info"] {{ background: #e8f0fc; border: 1px solid #b7cdf3; }}
QFrame#banner QLabel {{ color: #1f2328; }}
QFrame#banner QPushButton {{ color: #1f2328; background: rgba(255,255,255,0.6); border: 1px solid rgba(0,0,0,0.15);
    border-radius: 5px; padding: 3px 10px; }}
QWidget#emptyState {{ background: {base}; }}
QLabel#emptyTitle {{ font-size: 20pt; font-weight: 600; color: {text}; }}
QLabel#emptyHint {{ color: {muted}; font-size: 11pt; }}
QLabel#hint {{ color: {muted}; }}
QPushButton#recentFolder {{ color: #3b7ddd; border: none; padding: 2px 8px; text-align: center; }}
QPushButton#recentFolder:hover {{ text-decoration: underline; }}
QPushButton#bigButton {{ background: #3b7ddd; color: white; font-size: 12pt; font-weight: 600; border: none;
    border-radius: 8px; padding: 10px 22px; }}
QPushButton#bigButton:hover {{ background: #346fc6; }}
QLabel#sectionTitle {{ color: {muted}; font-weight: 600; padding: 10px 12px 4px 12px; }}
QLabel#gridTitle {{ font-size: 13pt; font-weight: 600; color: {text}; padding: 10px 14px 2px 14px; }}
QLabel#gridSubtitle {{ color: {muted}; padding: 0 14px 8px 14px; }}
QScrollBar:vertical {{ background: transparent; width: 12px; margin: 2px; }}
QScrollBar::handle:vertical {{ background: {border}; border-radius: 4px; min-height: 32px; }}
QScrollBar::handle:vertical:hover {{ background: {muted}; }}
QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; width: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: transparent; }}
QProgressBar {{ border: 1px solid {border}; border-radius: 4px; background: {base}; max-height: 10px; }}
QProgressBar::chunk {{ background: #3b7ddd; border-radius: 3px; }}
"""
