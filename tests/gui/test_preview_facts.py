"""The preview's facts: the date the camera took the photo (not the file's), and the upright size."""

from __future__ import annotations

import os

import numpy as np
from PIL import ExifTags, Image

from gui.preview import PreviewDialog, load_photo


def _camera_photo(path, orientation: int, taken: str | None, where: str = "exif"):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    if taken and where == "exif":
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
        exif[ExifTags.Base.DateTime] = "2024:01:01 00:00:00"  # edited later: not when it was taken
    elif taken:
        exif[ExifTags.Base.DateTime] = taken
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((90, 160, 3), 120, np.uint8)).save(path, exif=exif)
    os.utime(path, (1_700_000_000, 1_700_000_000))  # the file's own date is different again
    return path


def test_date_taken_comes_from_exif_and_size_is_upright(tmp_path):
    facts = load_photo(_camera_photo(tmp_path / "a.jpg", 6, "2019:07:14 10:30:00"))
    assert facts.exif_date and facts.taken.strftime("%Y-%m-%d %H:%M") == "2019-07-14 10:30"
    assert (facts.width, facts.height) == (90, 160)  # turned a quarter by orientation 6
    assert (facts.image.width(), facts.image.height()) == (90, 160)


def test_main_ifd_date_and_no_date(tmp_path):
    facts = load_photo(_camera_photo(tmp_path / "b.jpg", 1, "2018-03-02 08:09:10", where="main"))
    assert facts.exif_date and facts.taken.year == 2018 and (facts.width, facts.height) == (160, 90)
    facts = load_photo(_camera_photo(tmp_path / "c.jpg", 1, None))
    assert not facts.exif_date and facts.taken.year == 2023  # the file's date, said as such


def test_preview_line_says_taken_and_upright_size(sorted_window, qtbot):
    w = sorted_window
    _camera_photo(w.session.root / "red" / "red_0.jpg", 8, "2019:07:14 10:30:00")
    dialog = PreviewDialog(w.images, w.images.row_of("red/red_0.jpg"), w)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.facts is not None, timeout=5000)
    text = dialog.info.text()
    assert "90 × 160 px" in text and "taken 14 Jul 2019, 10:30" in text, text
    dialog.close()
