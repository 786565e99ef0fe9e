import numpy as np
import pytest
from PIL import Image

from engine import decode
from engine.decode import DecodeError, load_for_model, open_rgb


def _save(tmp_path, name, img, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (60, 30), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = _save(tmp_path, "rot.jpg", img, exif=exif)
    assert open_rgb(path, 224).size == (30, 60)


@pytest.mark.parametrize(
    "mode, colour, expected",
    [("CMYK", (0, 255, 255, 0), (255, 0, 0)), ("L", 128, (128, 128, 128))],
)
def test_cmyk_and_grey_become_rgb(tmp_path, mode, colour, expected):
    path = _save(tmp_path, f"{mode}.jpg", Image.new(mode, (16, 16), colour), quality=100)
    pixel = np.asarray(open_rgb(path, 224))[8, 8]
    assert np.allclose(pixel, expected, atol=12)


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    arr = np.full((8, 8), 32768, dtype=np.uint16)
    path = _save(tmp_path, "deep.png", Image.fromarray(arr))
    value = np.asarray(open_rgb(path, 224))[0, 0]
    assert 120 <= value[0] <= 135  # mid-grey, not white


def test_palette_transparency_is_composited_on_white(tmp_path):
    img = Image.new("P", (8, 8), 0)
    img.putpalette([0, 0, 0] * 256)
    path = _save(tmp_path, "p.png", img, transparency=0)
    assert tuple(np.asarray(open_rgb(path, 224))[0, 0]) == (255, 255, 255)


def test_jpeg_is_decoded_dct_scaled(tmp_path):
    path = _save(tmp_path, "big.jpg", Image.new("RGB", (4000, 3000), "green"))
    im = open_rgb(path, 224)
    assert max(im.size) < 1000  # libjpeg scaled the decode down (1/8 gives 500x375)
    assert load_for_model(path).shape == (224, 224, 3)


def test_first_frame_of_animated_gif(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert np.asarray(open_rgb(path, 224))[0, 0][0] > 200


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (b"this is not an image at all", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "truncated|damaged|not an image"),
    ],
)
def test_unreadable_files_raise_decode_error_with_reason(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(DecodeError, match=reason):
        open_rgb(path, 224)


def test_truncated_jpeg_is_reported(tmp_path, photo_maker):
    path = photo_maker(tmp_path / "t.jpg", "red", size=(400, 300))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match=r"truncated|damaged"):
        load_for_model(path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(decode, "MAX_PIXELS", 1000)
    path = _save(tmp_path, "bomb.png", Image.new("L", (100, 100)))
    with pytest.raises(DecodeError, match="decompression bomb"):
        open_rgb(path, 224)


def test_missing_file_is_a_decode_error(tmp_path):
    with pytest.raises(DecodeError, match="disappeared"):
        open_rgb(tmp_path / "gone.jpg", 224)


def test_heic_is_readable(tmp_path):
    import pillow_heif

    path = tmp_path / "x.heic"
    pillow_heif.from_pillow(Image.new("RGB", (32, 32), "red")).save(path)
    assert open_rgb(path, 224).size == (32, 32)


def test_wide_jpeg_keeps_its_short_side_for_the_model(tmp_path):
    path = _save(tmp_path, "wide.jpg", Image.new("RGB", (2000, 1000), "green"))
    assert min(open_rgb(path, 224, cover=True).size) >= 224  # not decoded to 250x125 and stretched back up
    assert max(open_rgb(path, 224).size) < 1000  # thumbnails still take the cheapest scale
