"""Hostile folders: every odd file is either clustered or skipped with a reason, and the rest sorts as before.

Each kind of trouble is built in tmp_path next to three clean groups of photos; the
whole folder goes through the real pipeline (VGG16 with the shared weights).
"""

from __future__ import annotations

import os
import struct
import threading
import zlib

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import normalized_mutual_info_score

from engine import cache as cache_module
from engine import scan as scan_module
from engine.cluster import cluster_features
from engine.pipeline import analyse, run

UNREADABLE = "locked.jpg"
NO_ENTRY_DIR = "no-entry"


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge image but holds almost no data."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def build_hostile(root, photo_maker) -> dict[str, str]:
    """Write every kind of trouble under root; returns kind -> what must happen ("clustered" or "skipped")."""
    kinds = {}

    def img(rel, kind, **kw):
        photo_maker(root / rel, "sky", 7, size=kw.pop("size", (80, 60)), **kw)

    (root / "zero.jpg").write_bytes(b"")
    kinds["zero-byte file"] = "skipped"
    photo_maker(root / "trunc.jpg", "red", 9, size=(300, 200))
    data = (root / "trunc.jpg").read_bytes()
    (root / "trunc.jpg").write_bytes(data[: len(data) // 3])
    kinds["truncated JPEG"] = "skipped"
    (root / "random.jpg").write_bytes(os.urandom(5000))
    kinds["random bytes named .jpg"] = "skipped"
    (root / "header-garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))
    kinds["valid PNG header then garbage"] = "skipped"
    (root / "bomb.png").write_bytes(_png_declaring(100_000, 100_000))
    kinds["decompression bomb"] = "skipped"
    Image.fromarray(np.linspace(0, 65535, 64 * 64, dtype=np.uint16).reshape(64, 64)).save(root / "deep16.png")
    kinds["16-bit PNG"] = "clustered"
    Image.new("CMYK", (64, 64), (0, 200, 200, 0)).save(root / "cmyk.jpg")
    kinds["CMYK JPEG"] = "clustered"
    pal = Image.new("P", (64, 64), 1)
    pal.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    pal.save(root / "palette.png", transparency=0)
    kinds["palette PNG with transparency"] = "clustered"
    frames = [Image.new("RGB", (64, 64), c) for c in ("red", "blue", "green")]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:])
    kinds["animated GIF"] = "clustered"
    for o in (3, 6, 8):
        img(f"exif{o}.jpg", "sky", exif=_exif(o))
        kinds[f"EXIF orientation {o}"] = "clustered"
    Image.new("L", (64, 64), 90).save(root / "grey.jpg")
    kinds["grey"] = "clustered"
    Image.new("RGB", (1, 1), "white").save(root / "one-pixel.png")
    kinds["1x1 px"] = "clustered"
    Image.new("RGB", (20000, 50), "navy").save(root / "panorama.jpg")
    kinds["20000x50 panorama"] = "clustered"
    img(UNREADABLE, "sky")
    kinds["file without read permission"] = "skipped"
    img(f"{NO_ENTRY_DIR}/inside.jpg", "sky")
    kinds["folder without execute permission"] = "skipped"
    os.symlink(root / "nowhere.jpg", root / "broken-link.jpg")
    kinds["broken symlink"] = "skipped"
    (root / "loop").mkdir()
    os.symlink(root, root / "loop" / "back-to-root")
    kinds["symlink loop"] = "not followed"
    img("deleted-during-run.jpg", "sky")
    kinds["file deleted while analysis runs"] = "skipped"
    img("rewritten-during-run.jpg", "sky")
    kinds["file rewritten while analysis runs"] = "clustered"
    for name in ["with spaces.jpg", "ünïcødé.jpg", "emoji 📷.jpg", "new\nline.jpg", "-leading-dash.jpg"]:
        img(name, "sky")
    kinds.update({k: "clustered" for k in ["spaces", "unicode", "emoji", "newline", "leading dash"]})
    img("Case.jpg", "sky")
    img("case.jpg", "sky", size=(81, 60))
    kinds["names that differ only in case"] = "clustered"
    for i in range(5):
        img(f"same/{i}/IMG_0001.jpg", "sky", size=(80 + i, 60))
    kinds["same file name in many subfolders"] = "clustered"
    img(".hidden.jpg", "sky")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    kinds["hidden files"] = "ignored"
    (root / "notes.txt").write_text("hello")
    (root / "clip.mp4").write_bytes(os.urandom(1000))
    kinds["non-image files"] = "ignored"
    (root / "empty-folder").mkdir()
    kinds["empty folder"] = "ignored"
    (root / "all-broken").mkdir()
    for i in range(3):
        (root / "all-broken" / f"b{i}.jpg").write_bytes(os.urandom(100))
    kinds["folder of only broken files"] = "skipped"
    deep = root / "/".join(f"level{i:02d}" for i in range(40))
    img(str(deep.relative_to(root) / "deep.jpg"), "sky")
    kinds["very deep path"] = "clustered"
    return kinds


@pytest.fixture
def hostile(tmp_path, photo_maker, monkeypatch):
    root = tmp_path / "hostile"
    for i in range(6):  # the clean photos whose sorting must not change
        photo_maker(root / "clean" / f"red_{i}.jpg", "red", i)
        photo_maker(root / "clean" / f"stripes_{i}.png", "stripes", i)
    kinds = build_hostile(root, photo_maker)
    # Tests run as root, for whom permission bits do not apply: refuse access the way the OS would.
    real_open, real_scandir = open, os.scandir

    def guarded_open(path, *args, **kwargs):
        if str(path).endswith(UNREADABLE):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def guarded_scandir(path):
        if str(path).endswith(NO_ENTRY_DIR):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(cache_module, "open", guarded_open, raising=False)
    monkeypatch.setattr(scan_module.os, "scandir", guarded_scandir)
    return root, kinds


def _change_the_world(root):
    """A progress hook that deletes one photo after the scan and rewrites another after fingerprinting."""

    def on_progress(progress):
        if progress.stage == "scan" and progress.total:
            (root / "deleted-during-run.jpg").unlink(missing_ok=True)
        if progress.stage == "cache":
            Image.new("RGB", (70, 70), "orange").save(root / "rewritten-during-run.jpg")

    return on_progress


def test_every_hostile_kind_is_handled(hostile, extractor, tmp_path):
    root, kinds = hostile
    assert len(kinds) >= 30
    result = run(analyse(root, extractor, tmp_path / "cache", threading.Event()), _change_the_world(root))
    skipped = {s.path: s.reason for s in result.skipped}
    images = set(result.images)

    def reason(rel):
        assert rel in skipped, f"{rel} should be listed as skipped"
        assert skipped[rel] and "Traceback" not in skipped[rel]
        return skipped[rel]

    assert reason("zero.jpg") == "empty file (0 bytes)"
    assert "truncated" in reason("trunc.jpg") or "damaged" in reason("trunc.jpg")
    assert reason("random.jpg") == "not an image, or a format PhotoCluster cannot read"
    reason("header-garbage.png")
    assert "decompression bomb" in reason("bomb.png")
    assert reason(UNREADABLE) == "permission denied"
    assert "cannot read folder" in reason(NO_ENTRY_DIR)
    assert reason("broken-link.jpg") == "broken symbolic link"
    assert reason("deleted-during-run.jpg") == "file disappeared before it could be read"
    for i in range(3):
        reason(f"all-broken/b{i}.jpg")
    for rel in [
        "deep16.png",
        "cmyk.jpg",
        "palette.png",
        "anim.gif",
        "exif3.jpg",
        "exif6.jpg",
        "exif8.jpg",
        "grey.jpg",
        "one-pixel.png",
        "panorama.jpg",
        "rewritten-during-run.jpg",
        "with spaces.jpg",
        "ünïcødé.jpg",
        "emoji 📷.jpg",
        "new\nline.jpg",
        "-leading-dash.jpg",
        "Case.jpg",
        "case.jpg",
        *[f"same/{i}/IMG_0001.jpg" for i in range(5)],
    ]:
        assert rel in images, f"{rel} should have been clustered"
    assert any(p.endswith("level39/deep.jpg") for p in images)
    assert not any(p.startswith("loop/") for p in images)  # the loop was not followed
    assert not any(p.startswith(".") or p.endswith((".txt", ".mp4")) for p in images)
    assert len(images) + len(skipped) == len(images | set(skipped))  # nothing counted twice

    # The clean photos sort exactly as they would alone: red with red, stripes with stripes.
    clean = [i for i, p in enumerate(result.images) if p.startswith("clean/")]
    labels = cluster_features(result.features, 3).labels
    truth = [result.images[i].split("/")[1].split("_")[0] for i in clean]
    assert normalized_mutual_info_score(truth, labels[clean]) == pytest.approx(1.0)


def test_rewritten_file_is_not_cached_under_its_old_content(hostile, extractor, tmp_path):
    root, _ = hostile
    first = run(analyse(root, extractor, tmp_path / "cache", threading.Event()), _change_the_world(root))
    second = run(analyse(root, extractor, tmp_path / "cache", threading.Event()))
    assert second.extracted == 1  # only the rewritten photo, now under its new content
    i, j = first.images.index("rewritten-during-run.jpg"), second.images.index("rewritten-during-run.jpg")
    assert np.allclose(first.features[i], second.features[j], atol=1e-2)


def test_empty_folder_and_folder_of_only_broken_files(tmp_path, extractor):
    (tmp_path / "empty").mkdir()
    assert run(analyse(tmp_path / "empty", extractor, tmp_path / "c")).images == []
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"nope")
    result = run(analyse(broken, extractor, tmp_path / "c"))
    assert result.images == [] and [s.path for s in result.skipped] == ["a.jpg"]
    assert cluster_features(result.features, "auto").k == 0
