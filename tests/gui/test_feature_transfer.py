"""Features cross between the window and its analysis process as a mapped file and a token, not through the pipe."""

from __future__ import annotations

import numpy as np

from gui import jobs


def test_the_child_keeps_the_features_and_a_regroup_sends_a_token(window, photos, qtbot):
    window.open_folder(photos, wait=True)
    window.k_spin.setValue(3)
    window.analyse()
    with qtbot.waitSignal(window.jobs.analysis.finished, timeout=120_000):
        pass
    session = window.session
    features = session.features
    assert isinstance(features, np.memmap) and features.shape[0] == len(session.images)  # mapped, not unpickled
    assert isinstance(jobs._send(features), jobs.HeldFeatures)  # the child holds these: a token goes
    assert isinstance(jobs._send(np.array(features)), np.ndarray)  # anything else goes as it is
    window.k_spin.setValue(2)
    qtbot.waitUntil(lambda: len(session.names) == 2 and window.jobs.recluster_worker is None, timeout=60_000)
    assert {session.labels[p] for p in session.images if p.startswith("red/")} <= set(session.names)
