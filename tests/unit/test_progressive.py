"""Progressive analysis: a spread sample first, groups before the end, the one-shot clustering at the end,
and the person's edits made meanwhile kept through refits."""

from __future__ import annotations

import numpy as np
import pytest

from engine import descriptor
from engine.cancel import Cancelled
from engine.cluster import UNSORTED, cluster_features
from engine.live_sorting import LiveSorting
from engine.pipeline import spread_order
from engine.progressive import Groups, analyse_progressively
from engine.session import Session


def test_spread_order_is_a_permutation_whose_prefixes_cover_the_range():
    for n in (0, 1, 2, 7, 1000, 5000):
        order = spread_order(n)
        assert sorted(order.tolist()) == list(range(n))
    order = spread_order(5000)
    first = np.sort(order[:300])
    assert first[0] < 50 and first[-1] > 4900  # the first 300 reach both ends ...
    assert np.diff(first).max() < 40  # ... with no big hole in between (every Nth, N about 17)


@pytest.fixture
def folder(tmp_path, photo_maker):
    root = tmp_path / "photos"
    for i in range(12):
        for kind in ("red", "sky", "stripes"):
            photo_maker(root / kind / f"{kind}_{i}.jpg", kind, i, size=(64, 64))
    return root


def test_groups_come_before_the_end_and_the_end_is_the_one_shot_clustering(folder, extractor, tmp_path):
    steps = analyse_progressively(folder, extractor, k=3, cache_dir=tmp_path / "cache", first_fit=9)
    seen = []
    while True:
        try:
            step = next(steps)
        except StopIteration as stop:
            result = stop.value
            break
        if step.groups is not None:
            seen.append((step.progress.done, step.groups))
            if len(seen) == 1:
                paths = step.paths
                assert paths is not None and len(paths) == 36
            else:
                assert step.paths is None  # the paths travel once
    assert seen, "no groups before the end"
    first_done, first = seen[0]
    assert first_done < 36 and len(first.rows) >= 9
    assert {paths[r].split("/")[0] for r in first.rows} == {"red", "sky", "stripes"}  # a spread sample
    assert seen[-1][1].fit > first.fit  # refitted as it grew
    assert len(seen[-1][1].rows) > len(first.rows)  # later batches were placed
    one_shot = cluster_features(result.analysis.features, 3)
    assert np.array_equal(result.clustering.labels, one_shot.labels)
    assert result.analysis.images == sorted(result.analysis.images)  # scan order, as a one-shot run gives


def test_cancel_stops_the_progressive_analysis(folder, extractor, tmp_path):
    import threading

    cancel = threading.Event()
    steps = analyse_progressively(folder, extractor, cache_dir=tmp_path / "cache", cancel=cancel, first_fit=9)
    with pytest.raises(Cancelled):
        for step in steps:
            if step.progress.stage == "features" and step.progress.done:
                cancel.set()


def _groups(fit: int, labels: dict[int, int]) -> Groups:
    rows = np.array(sorted(labels), np.int32)
    return Groups(fit, rows, np.array([labels[r] for r in rows], np.int32), np.full(len(rows), 0.5, np.float32), 2)


def test_live_sorting_keeps_moves_names_merges_and_deletes():
    paths = [f"p{i}.jpg" for i in range(12)]
    session = Session("/photos", paths)
    live = LiveSorting(session, paths)
    live.update(_groups(1, {0: 0, 1: 0, 2: 1, 3: 1}))
    a, b = session.labels["p0.jpg"], session.labels["p2.jpg"]
    assert a != b and UNSORTED not in (a, b) and session.labels["p4.jpg"] == UNSORTED
    session.rename(a, "Beach")
    session.move(["p1.jpg"], b)  # pinned
    rep = session.representative(a)
    newcomers = _groups(1, {0: 0, 1: 0, 2: 1, 3: 1, 4: 0, 5: 1})
    newcomers.confidence[4] = 0.9  # more typical than the photos the fit chose from
    live.update(newcomers)  # newcomers join
    assert session.labels["p4.jpg"] == a and session.labels["p5.jpg"] == b and session.labels["p1.jpg"] == b
    assert session.representative(a) == rep  # the side list's thumbnail does not change with every batch
    # A refit that swaps the label numbers: ids and names follow the photos, the pinned one stays.
    live.update(_groups(2, {0: 1, 1: 1, 2: 0, 3: 0, 4: 1, 5: 0, 6: 1}))
    assert session.labels["p0.jpg"] == a and session.names[a] == "Beach" and session.labels["p6.jpg"] == a
    assert session.labels["p1.jpg"] == b and "p1.jpg" in session.pinned
    # Merged away between fits: the merged cluster's newcomers go where its photos went.
    session.merge([b], a)
    live.update(_groups(2, {0: 1, 1: 1, 2: 0, 3: 0, 4: 1, 5: 0, 6: 1, 7: 0}))
    assert session.labels["p7.jpg"] == a and session.labels["p2.jpg"] == a
    # Deleted: its newcomers go to Unsorted, not back into a cluster the person threw away.
    session.delete_cluster(a)
    live.update(_groups(2, {0: 1, 1: 1, 2: 0, 3: 0, 4: 1, 5: 0, 6: 1, 7: 0, 8: 1}))
    assert session.labels["p8.jpg"] == UNSORTED and session.labels["p0.jpg"] == UNSORTED


def test_live_sorting_leaves_unanalysed_photos_as_they_were():
    paths = [f"p{i}.jpg" for i in range(6)]
    session = Session("/photos", paths)
    features = np.random.default_rng(0).random((6, descriptor.SIZE)).astype(np.float32)
    session.set_analysis(paths, features)
    session.apply_clustering(cluster_features(features, 2))
    before = dict(session.labels)
    LiveSorting(session, paths).update(_groups(1, {0: 0, 1: 1}))
    assert {p: session.labels[p] for p in paths[2:]} == {p: before[p] for p in paths[2:]}


def test_the_command_line_bar_says_how_many_groups_so_far(capsys):
    from engine.cli import _ProgressBar
    from engine.progress import Progress
    from engine.progressive import Step

    bar = _ProgressBar(enabled=True)
    bar.update(Step(Progress("features", 16, 100)))
    bar.update(Step(Progress("features", 32, 100), _groups(1, {0: 0, 1: 1, 2: 2})))
    bar.close()
    err = capsys.readouterr().err
    assert "32/100" in err and "groups so far: 2" in err
