"""Work-arounds for bugs in the Qt binding, applied once when the gui package is imported.

PySide6 6.12.0 returns ``None``, ``True`` and ``False`` without taking a
reference to them in several places: every ``Signal.emit`` drops one reference
to ``True``, every ``QModelIndex.data`` that yields nothing and some void
methods (``processEvents``, ``QIcon.paint``) drop one to ``None``. On Python
3.11 those objects are reference counted like any other, so after a few
thousand such calls (thumbnails arriving, a grid repainting) the interpreter
aborts with "Fatal Python error: bool_dealloc" or "none_dealloc". 6.11.3 does
not have the bug, and from Python 3.12 on these objects are immortal, which
makes it harmless.

So on 6.12.0 under Python < 3.12 the three objects are given a reference count
no leak can exhaust, which is what Python 3.12 does for them anyway.
tests/gui/test_workers.py checks that heavy emitting and model reading survive.
"""

from __future__ import annotations

import ctypes
import sys

import PySide6

AFFECTED = ("6.12.0",)
HEADROOM = 1 << 40  # references added to each object: more than any run can leak


def _immortalise(*objects) -> None:
    for obj in objects:
        # ob_refcnt is the first field of every object in release builds of CPython < 3.12.
        ctypes.c_ssize_t.from_address(id(obj)).value += HEADROOM


def needed() -> bool:
    release_build = not hasattr(sys, "gettotalrefcount")
    return PySide6.__version__ in AFFECTED and sys.version_info < (3, 12) and sys.implementation.name == "cpython" \
        and release_build


if needed():
    _immortalise(None, True, False)
