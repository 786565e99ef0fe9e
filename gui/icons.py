"""Toolbar and menu icons: the line-art SVGs in resources/, tinted to the palette.

The SVGs use ``currentColor``; they are rendered in the palette's text colour so
they read well in light and dark mode alike, with a faded copy for disabled state.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
_SIZES = (16, 20, 24, 32, 48)


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """The icon ``resources/<name>.svg`` in ``color`` (default: the palette's button text)."""
    palette = QGuiApplication.palette()
    normal = QColor(color) if color is not None else palette.color(QPalette.ColorRole.ButtonText)
    disabled = QColor(normal)
    disabled.setAlphaF(0.35)
    return _icon(name, normal.name(QColor.NameFormat.HexArgb), disabled.name(QColor.NameFormat.HexArgb))


def app_icon() -> QIcon:
    return QIcon(str(RESOURCES / "app.svg"))


@cache
def _icon(name: str, normal: str, disabled: str) -> QIcon:
    svg = (RESOURCES / f"{name}.svg").read_text(encoding="utf-8")
    result = QIcon()
    for mode, argb in ((QIcon.Mode.Normal, normal), (QIcon.Mode.Disabled, disabled)):
        color = QColor(argb)
        tinted = svg.replace("currentColor", color.name()).replace("<svg ", f'<svg opacity="{color.alphaF():.2f}" ', 1)
        renderer = QSvgRenderer(QByteArray(tinted.encode()))
        for size in _SIZES:
            pixmap = QPixmap(size, size)
            pixmap.fill(Qt.GlobalColor.transparent)
            with _painter(pixmap) as painter:
                renderer.render(painter, QRectF(0, 0, size, size))
            result.addPixmap(pixmap, mode)
    return result


class _painter:
    """``QPainter`` as a context manager, so it always ends before the pixmap is used."""

    def __init__(self, device):
        self.painter = QPainter(device)
        self.painter.setRenderHint(QPainter.RenderHint.Antialiasing)

    def __enter__(self) -> QPainter:
        return self.painter

    def __exit__(self, *exc) -> None:
        self.painter.end()
