"""Why this many clusters (the score plot) and "Regroup the Rest", steered by the photos placed by hand."""

from __future__ import annotations

from gui.k_plot import KChoicePanel


def test_automatic_k_shows_its_scores(sorted_window, qtbot):
    w = sorted_window
    assert w.k_choice.isHidden()  # k was chosen by hand
    w.k_spin.setValue(0)  # Auto
    qtbot.waitUntil(lambda: w.jobs.recluster_worker is None and not w.k_choice.isHidden(), timeout=30_000)
    scores, k, clear = w.session.k_choice
    assert k == 3 and clear
    assert "3 clusters" in w.k_choice.caption.text()
    points = w.k_choice.plot.points()
    assert set(points) == set(scores) and 3 in points
    best = max(scores, key=scores.get)
    assert points[best].y() == min(p.y() for p in points.values())  # the best score is drawn highest
    assert not w.k_choice.plot.grab().isNull()


def test_a_flat_curve_says_no_clear_k(qtbot):
    panel = KChoicePanel()
    qtbot.addWidget(panel)
    panel.show_choice({k: 0.1 + 0.001 * (k % 2) for k in range(2, 16)}, 7, False)
    assert not panel.isHidden()
    assert panel.caption.text().startswith("No clear k: picked 7")
    panel.show_choice({}, 0, True)
    assert panel.isHidden()


def test_regroup_the_rest_follows_the_photos_placed_by_hand(sorted_window, qtbot, cluster_of):
    w, s = sorted_window, sorted_window.session
    assert not w.regroup_rest_action.isEnabled()  # nothing placed by hand yet
    reds = [p for p in s.images if p.startswith("red/")]
    mine = w.editor.new_cluster(reds[:2], "Mine")
    assert w.regroup_rest_action.isEnabled()
    w.regroup_rest_action.trigger()
    qtbot.waitUntil(lambda: w.jobs.recluster_worker is None and s.labels[reds[-1]] == s.labels[reds[0]], timeout=30_000)
    mine = s.labels[reds[0]]  # a regroup renumbers the clusters 1..N: the id may change, the name stays
    assert all(s.labels[p] == mine for p in reds)  # the other red photos joined the person's cluster
    assert s.name(mine) == "Mine" and set(reds[:2]) <= s.pinned
    assert "steered the rest" in w.status_text.text()
