"""Work-arounds for bugs in the Qt binding, applied once when the gui package is imported.

PySide6 6.12.0: ``SignalInstance.emit`` returns ``True`` without taking a
reference to it, so every ``.emit(...)`` made from Python lowers the reference
count of ``True`` by one; after a few thousand emissions (thumbnails arriving,
dataChanged) the interpreter aborts with "Fatal Python error: bool_dealloc".
6.11.3 is not affected. The shim restores the missing reference; it is applied
to 6.12.0 only, so a fixed release runs untouched. tests/gui/test_qt_compat.py
checks it.
"""

from __future__ import annotations

import ctypes

import PySide6
from PySide6 import QtCore

AFFECTED = ("6.12.0",)


def _patch_emit() -> None:
    original = QtCore.SignalInstance.emit

    def emit(self, *args):
        result = original(self, *args)
        if result is True or result is False:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))  # the reference PySide forgot
        return result

    emit.__doc__ = original.__doc__
    QtCore.SignalInstance.emit = emit


if PySide6.__version__ in AFFECTED:
    _patch_emit()
