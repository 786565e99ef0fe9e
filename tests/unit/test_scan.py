import os

import pytest

from engine.scan import EXPORT_MARKER, scan_folder


def test_finds_every_supported_format_in_any_case_recursively(tmp_path, photo_maker):
    for name, fmt in [
        ("a.JPG", "JPEG"),
        ("b.png", "PNG"),
        ("c.WebP", "WEBP"),
        ("d.bmp", "BMP"),
        ("e.tiff", "TIFF"),
        ("sub/f.gif", "GIF"),
        ("sub/deeper/g.jpeg", "JPEG"),
    ]:
        photo_maker(tmp_path / name, "red", fmt=fmt)
    (tmp_path / "notes.txt").write_text("not a photo")
    result = scan_folder(tmp_path)
    assert result.images == ["a.JPG", "b.png", "c.WebP", "d.bmp", "e.tiff", "sub/deeper/g.jpeg", "sub/f.gif"]


def test_skips_hidden_files_and_folders_and_export_output(tmp_path, photo_maker):
    photo_maker(tmp_path / "keep.jpg", "red")
    photo_maker(tmp_path / ".hidden.jpg", "red")
    photo_maker(tmp_path / ".thumbs" / "x.jpg", "red")
    photo_maker(tmp_path / "sorted" / "Cluster 1" / "keep.jpg", "red")
    (tmp_path / "sorted" / EXPORT_MARKER).write_text("")
    assert scan_folder(tmp_path).images == ["keep.jpg"]


def test_excluded_destination_is_not_scanned(tmp_path, photo_maker):
    photo_maker(tmp_path / "a.jpg", "red")
    photo_maker(tmp_path / "out" / "b.jpg", "red")
    assert scan_folder(tmp_path, exclude=(tmp_path / "out",)).images == ["a.jpg"]


def test_symlink_loop_is_not_followed_and_broken_link_is_reported(tmp_path, photo_maker):
    photo_maker(tmp_path / "d" / "a.jpg", "red")
    os.symlink(tmp_path, tmp_path / "d" / "loop")
    os.symlink(tmp_path / "missing.jpg", tmp_path / "broken.jpg")
    result = scan_folder(tmp_path)
    assert result.images == ["d/a.jpg"]
    assert [(s.path, s.reason) for s in result.skipped] == [("broken.jpg", "broken symbolic link")]


def test_order_is_stable_and_case_insensitive(tmp_path, photo_maker):
    for name in ["b.jpg", "A.jpg", "a2.jpg", "C.jpg"]:
        photo_maker(tmp_path / name, "red")
    assert scan_folder(tmp_path).images == ["A.jpg", "a2.jpg", "b.jpg", "C.jpg"]


def test_bad_root_raises_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        scan_folder(tmp_path / "nope")
    (tmp_path / "file.jpg").write_bytes(b"x")
    with pytest.raises(NotADirectoryError):
        scan_folder(tmp_path / "file.jpg")


def test_a_folder_link_leading_outside_is_listed_not_followed(tmp_path, photo_maker):
    root, outside = tmp_path / "photos", tmp_path / "elsewhere"
    photo_maker(root / "a.jpg", "red")
    photo_maker(root / "real" / "b.jpg", "red")
    photo_maker(outside / "c.jpg", "red")
    os.symlink(outside, root / "out-link")
    os.symlink(root / "real", root / "in-link")
    result = scan_folder(root)
    assert result.images == ["a.jpg", "in-link/b.jpg"] or result.images == ["a.jpg", "real/b.jpg"]
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("out-link", "a link to a folder outside the opened folder; not followed")
    ]
