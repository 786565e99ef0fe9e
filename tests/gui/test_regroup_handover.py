"""A regroup's hand-over: worked out in the job's worker thread on a snapshot, only applied on the GUI thread.

At 100,000 photos working a clustering into the Session is 60 ms of Python; the
GUI thread now only applies it, unless the person edited meanwhile (then the GUI
thread works it out again, as before).
"""

from __future__ import annotations

import threading

import pytest

from engine.cancel import Cancelled
from engine.session import Session
from gui.workers import GuiCall


def _count(monkeypatch, name: str) -> list:
    calls = []
    original = getattr(Session, name)

    def counted(self, *args, **kwargs):
        calls.append(threading.current_thread() is threading.main_thread())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Session, name, counted)
    return calls


def test_a_regroup_is_worked_out_in_the_worker_and_applied_on_the_gui_thread(sorted_window, qtbot, monkeypatch):
    w, s = sorted_window, sorted_window.session
    planned, applied, direct = (
        _count(monkeypatch, n) for n in ("plan_clustering", "apply_regroup", "apply_clustering")
    )
    w.k_spin.setValue(2)
    qtbot.waitUntil(lambda: w.jobs.recluster_worker is None and len(s.names) == 2, timeout=30_000)
    assert planned == [False] and applied == [True] and direct == []  # planned off the GUI thread, applied on it
    assert {s.labels[p] for p in s.images} <= set(s.names) and len(set(s.labels.values())) == 2
    w.undo_action.trigger()
    assert len(s.names) == 3  # one undo step, as before


def test_an_edit_while_the_regroup_is_worked_out_is_kept(sorted_window, qtbot, monkeypatch, cluster_of):
    w, s = sorted_window, sorted_window.session
    red = next(p for p in s.images if p.startswith("red/"))
    sky = cluster_of(s, "sky")
    original = Session.snapshot

    def snapshot_then_edit(self):
        copy = original(self)
        w.editor.move([red], sky)  # on the GUI thread, just after the worker's snapshot was taken
        return copy

    monkeypatch.setattr(Session, "snapshot", snapshot_then_edit)
    direct = _count(monkeypatch, "apply_clustering")
    w.k_spin.setValue(2)
    qtbot.waitUntil(lambda: w.jobs.recluster_worker is None and len(s.names) == 2, timeout=30_000)
    assert direct == [True]  # the stale plan was dropped: worked out again on the GUI thread
    assert red in s.pinned and s.labels[red] == s.labels[next(p for p in s.images if p.startswith("sky/"))]


def test_gui_call_runs_on_the_gui_thread_and_gives_up_on_cancel(app, qtbot):
    call, cancel, out = GuiCall(), threading.Event(), {}

    def worker():
        out["thread"] = call(lambda: threading.current_thread() is threading.main_thread(), cancel)

    thread = threading.Thread(target=worker)
    thread.start()
    qtbot.waitUntil(lambda: "thread" in out, timeout=5000)
    assert out["thread"] is True
    cancel.set()  # the GUI thread is busy (here: never runs the event loop) and the worker is cancelled
    with pytest.raises(Cancelled):
        call(lambda: None, cancel)
    thread.join()
