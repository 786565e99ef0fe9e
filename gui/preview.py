"""A large view of one photo with its facts (name, pixels, file size, date); arrow keys step through the grid."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from engine.decode import DecodeError, open_rgb

from .icons import icon
from .image_model import ImageModel
from .workers import TaskPool

PREVIEW_SIDE = 2048
MAX_ENLARGE = 4


@dataclass
class PhotoFacts:
    image: QImage | None
    width: int  # upright: as the photo is shown, after its EXIF rotation
    height: int
    size_bytes: int
    taken: dt.datetime | None  # when the photo was taken (EXIF), else when the file was changed
    error: str = ""
    exif_date: bool = False  # ``taken`` came from the camera, not from the file's date


EXIF_DATES = (ExifTags.Base.DateTimeOriginal, ExifTags.Base.DateTimeDigitized)
ROTATED = {5, 6, 7, 8}  # EXIF orientations that turn the picture a quarter: width and height swap


def load_photo(path: Path) -> PhotoFacts:
    """Decode for display and gather the facts; runs in a pool thread."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return PhotoFacts(None, 0, 0, 0, None, exc.strerror or str(exc))
    width = height = 0
    taken = None
    try:
        with Image.open(path) as im:
            width, height = im.size
            exif = im.getexif()
            if exif.get(ExifTags.Base.Orientation) in ROTATED:
                width, height = height, width
            taken = exif_taken(exif)
    except Exception:
        pass
    exif_date = taken is not None
    if taken is None:
        taken = dt.datetime.fromtimestamp(st.st_mtime)
    try:
        rgb = open_rgb(path, PREVIEW_SIDE)
    except DecodeError as exc:
        return PhotoFacts(None, width, height, st.st_size, taken, str(exc), exif_date)
    if max(rgb.size) > PREVIEW_SIDE:
        rgb.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    if not width:
        width, height = rgb.size
    image = QImage(rgb.tobytes(), rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()
    return PhotoFacts(image, width, height, st.st_size, taken, exif_date=exif_date)


def exif_taken(exif) -> dt.datetime | None:
    """When the camera says the photo was taken: DateTimeOriginal, else Digitized (in the Exif IFD, where
    cameras put them), else the main IFD's DateTime; a blank or malformed value is skipped, not fatal."""
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    for raw in [
        *(sub.get(tag) for tag in EXIF_DATES),
        *(exif.get(tag) for tag in EXIF_DATES),
        exif.get(ExifTags.Base.DateTime),
    ]:
        text = str(raw or "").strip("\0 ")[:19].replace("-", ":")
        try:
            return dt.datetime.strptime(text, "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
    return None


class _Canvas(QWidget):
    """Paints the photo as large as fits (small ones up to 4x), centred on a dark backdrop."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.message = ""
        self.setMinimumSize(QSize(320, 240))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#16181b"))
        if self.image is None or self.image.isNull():
            painter.setPen(QColor("#9aa1ab"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        size = self.image.size().scaled(self.size() - QSize(24, 24), Qt.AspectRatioMode.KeepAspectRatio)
        if size.width() > MAX_ENLARGE * self.image.width():  # small photos grow, but not into a blur
            size = self.image.size() * MAX_ENLARGE
        x, y = (self.width() - size.width()) / 2, (self.height() - size.height()) / 2
        painter.drawImage(QRectF(x, y, size.width(), size.height()), self.image)


class PreviewDialog(QDialog):
    def __init__(self, model: ImageModel, row: int, parent=None):
        super().__init__(parent)
        self.model, self.row = model, row
        self.setWindowTitle("Preview")
        self.resize(1100, 780)
        self._pool = TaskPool(1, "preview", self)
        self.facts: PhotoFacts | None = None  # of the photo on show, once loaded
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.canvas = _Canvas()
        layout.addWidget(self.canvas, 1)
        bar = QHBoxLayout()
        bar.setContentsMargins(12, 8, 12, 8)
        self.back = QToolButton(toolTip="Previous photo (Left)")
        self.back.setArrowType(Qt.ArrowType.LeftArrow)
        self.back.clicked.connect(self.previous)
        self.forward = QToolButton(toolTip="Next photo (Right)")
        self.forward.setArrowType(Qt.ArrowType.RightArrow)
        self.forward.clicked.connect(self.next)
        self.info = QLabel()
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.position = QLabel()
        bar.addWidget(self.back)
        bar.addWidget(self.forward)
        bar.addSpacing(8)
        bar.addWidget(self.info, 1)
        bar.addWidget(self.position)
        layout.addLayout(bar)
        for key, slot in (
            (Qt.Key.Key_Left, self.previous),
            (Qt.Key.Key_Right, self.next),
            (Qt.Key.Key_Home, self.first),
            (Qt.Key.Key_End, self.last),
        ):
            QShortcut(QKeySequence(key), self, slot)
        self.setWindowIcon(icon("photos"))
        self.show_row(row)

    @property
    def path(self) -> str:
        return self.model.path(self.row)

    def show_row(self, row: int) -> None:
        count = self.model.rowCount()
        if count == 0:
            self.close()
            return
        self.row = max(0, min(row, count - 1))
        path = self.path
        self.setWindowTitle(path.rsplit("/", 1)[-1])
        self.canvas.image, self.canvas.message = None, "Loading…"
        self.canvas.update()
        self.info.setText(path)
        self.position.setText(f"{self.row + 1} of {count}")
        self.back.setEnabled(self.row > 0)
        self.forward.setEnabled(self.row < count - 1)
        if self.model.session is not None:
            self._pool.submit(_load_for, self.model.session.root, path, done=self._loaded)

    def _loaded(self, result) -> None:
        path, facts = result
        if path != self.path:
            return  # the person already stepped on
        self.canvas.image, self.canvas.message = facts.image, facts.error
        self.canvas.update()
        parts = [f"<b>{path.rsplit('/', 1)[-1]}</b>"]
        if facts.width:
            parts.append(f"{facts.width} × {facts.height} px")
        parts.append(_human_size(facts.size_bytes))
        if facts.taken:
            when = facts.taken.strftime("%d %b %Y, %H:%M")
            parts.append(f"taken {when}" if facts.exif_date else f"file changed {when}")
        session = self.model.session
        cid = session.labels.get(path) if session is not None else None
        if session is not None and cid is not None:
            parts.append(f"in {session.name(cid)}")
        self.info.setText("  ·  ".join(parts))
        self.facts = facts

    def previous(self) -> None:
        self.show_row(self.row - 1)

    def next(self) -> None:
        self.show_row(self.row + 1)

    def first(self) -> None:
        self.show_row(0)

    def last(self) -> None:
        self.show_row(self.model.rowCount() - 1)

    def done(self, result: int) -> None:
        self._pool.shutdown()
        super().done(result)


def _load_for(root: Path, path: str):
    return path, load_photo(Path(root) / path)


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"
