"""Turn an image file into pixels, whatever the file throws at us.

Every reader problem becomes a ``DecodeError`` whose message a person can act
on; nothing else escapes. JPEGs are decoded DCT-scaled (``Image.draft``) so a
12 MP photo costs a fraction of a full decode, EXIF orientation is applied, and
odd modes (CMYK, 16-bit, palette with transparency, grey) become plain RGB.
"""

from __future__ import annotations

import os
import struct
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF support is optional at run time but listed as a dependency.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - depends on the installation
    pillow_heif = None

# Larger than any camera sensor or stitched panorama a person is likely to have;
# beyond it a file is treated as a decompression bomb and refused before decoding.
MAX_PIXELS = 250_000_000

MODEL_SIZE = 224


class DecodeError(Exception):
    """The file could not be turned into an image; ``str(exc)`` says why."""


def open_rgb(path: str | os.PathLike, max_side: int, cover: bool = False) -> Image.Image:
    """Decode ``path`` as an upright RGB image whose longer side is about ``max_side`` or more.

    With ``cover``, *both* sides stay at least ``max_side`` (for a caller that squeezes
    the photo into a square). The image is not resized beyond what DCT scaling
    gives for free; callers resize.
    """
    try:
        if os.path.getsize(path) == 0:
            raise DecodeError("empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise DecodeError(
                        f"image too large ({width}x{height}, {width * height / 1e6:.0f} megapixels): "
                        "refused as a possible decompression bomb"
                    )
                if width < 1 or height < 1:
                    raise DecodeError("image has no pixels")
                if im.format == "JPEG":
                    _draft_for(im, max_side, cover)
                im.load()
                return _to_rgb(ImageOps.exif_transpose(im))
    except DecodeError:
        raise
    except FileNotFoundError:
        raise DecodeError("file disappeared before it could be read") from None
    except PermissionError:
        raise DecodeError("permission denied") from None
    except IsADirectoryError:
        raise DecodeError("is a folder, not a file") from None
    except UnidentifiedImageError:
        raise DecodeError("not an image, or a format PhotoCluster cannot read") from None
    except Image.DecompressionBombError as exc:
        raise DecodeError(f"refused as a possible decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError) as exc:
        text = str(exc) or type(exc).__name__
        if "truncated" in text.lower():
            raise DecodeError("truncated or incomplete image data") from None
        raise DecodeError(f"damaged image data ({text})") from None


def _draft_for(im: Image.Image, max_side: int, cover: bool) -> None:
    """Ask libjpeg for the smallest DCT scale that still covers ``max_side`` (on both sides with ``cover``)."""
    w, h = im.size
    if cover:
        im.draft("RGB", (min(w, max_side), min(h, max_side)))  # draft never goes below the size asked for
        return
    if max(w, h) <= max_side:
        return
    scale = max_side / max(w, h)
    im.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))


def _to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        lo = float(arr.min()) if arr.size else 0.0
        if mode == "F" or hi > 65535 or lo < 0:
            arr = (arr - lo) / max(hi - lo, 1e-12) * 255.0
        elif hi > 255:
            arr = arr / 257.0  # full 16-bit range onto 8 bits
        grey = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
        return grey.convert("RGB")
    if (mode == "P" and "transparency" in im.info) or mode in ("PA", "La"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def load_for_model(path: str | os.PathLike, size: int = MODEL_SIZE) -> np.ndarray:
    """Pixels for the CNN: ``size`` x ``size`` x 3, uint8 RGB, the whole photo squeezed in.

    The whole frame is kept (no centre crop) so nothing at the edges of a wide
    panorama is thrown away; the CNN copes with the aspect change.
    """
    im = open_rgb(path, size, cover=True)
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(im, dtype=np.uint8)
