"""Text for labels and banners: the one HTML escape the window uses, and durations in words."""

from __future__ import annotations

import html


def escape(text: str) -> str:
    """``text`` safe to put inside a rich-text label (file names may hold ``<`` or ``&``)."""
    return html.escape(text, quote=False)


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
