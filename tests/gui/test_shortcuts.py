"""Keyboard shortcuts: Redo answers Ctrl+Shift+Z and Ctrl+Y, and no key is claimed twice."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence


def test_redo_answers_ctrl_shift_z_and_ctrl_y(sorted_window, qtbot, cluster_of):
    w, s = sorted_window, sorted_window.session
    red, sky = cluster_of(s, "red"), cluster_of(s, "sky")
    photo = next(p for p in s.images if p.startswith("red/"))
    w.grid.setFocus()
    for key, modifiers in (
        (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier),
        (Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier),
    ):
        w.editor.move([photo], sky)
        qtbot.keyClick(w.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert s.labels[photo] == red
        qtbot.keyClick(w.grid, key, modifiers)
        assert s.labels[photo] == sky, QKeySequence(key | modifiers).toString()
        w.editor.stack.clear()
        w.editor.move([photo], red)


def test_redo_keys_are_each_listed_once(window):
    keys = [k.toString() for k in window.redo_action.shortcuts()]
    assert "Ctrl+Y" in keys and "Ctrl+Shift+Z" in keys and len(keys) == len(set(keys))


def test_no_key_is_claimed_twice(window):
    keys: Counter = Counter()
    for action in window.findChildren(QAction):
        context = action.shortcutContext()
        for key in action.shortcuts():
            if not key.isEmpty() and context != Qt.ShortcutContext.WidgetShortcut:
                keys[key.toString()] += 1
    assert [k for k, n in keys.items() if n > 1] == []
