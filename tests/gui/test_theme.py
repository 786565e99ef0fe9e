"""The theme's secondary (muted) text is readable: WCAG AA, 4.5:1, on every background it is drawn on."""

from __future__ import annotations

import pytest

from gui import theme


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_contrast_formula():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("dark", [False, True])
@pytest.mark.parametrize("background", ["panel", "window", "base", "alt", "hover"])
def test_muted_text_reaches_aa(dark, background):
    colours = theme._colors(dark)
    assert contrast(colours["muted"], colours[background]) >= 4.5, (colours["muted"], colours[background])
