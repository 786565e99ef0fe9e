"""Pins that steer the grouping (engine.guided) and the --pinned file."""

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from engine.cluster import cluster_features
from engine.guided import PinsError, cluster_guided, read_pins, session_pins, unknown_paths
from engine.session import Session


def two_ways(n_per=30, seed=0):
    """Four groups from two factors: a strong one (a) that plain clustering follows, a weaker one (b)."""
    rng = np.random.default_rng(seed)
    dim = 1024  # the stored descriptor's size
    a_dirs = rng.uniform(0, 1, (2, dim)) * (rng.uniform(0, 1, (2, dim)) > 0.8) * 2.0
    b_dirs = rng.uniform(0, 1, (2, dim)) * (rng.uniform(0, 1, (2, dim)) > 0.8) * 1.0
    rows, a, b = [], [], []
    for i in range(2):
        for j in range(2):
            rows.append(np.abs(a_dirs[i] + b_dirs[j] + rng.normal(0, 0.12, (n_per, dim))))
            a += [i] * n_per
            b += [j] * n_per
    return np.vstack(rows).astype(np.float32), np.array(a), np.array(b)


def test_pins_stay_in_their_cluster():
    x, _, _ = two_ways()
    pins = {0: 7, 1: 7, 40: 9, 95: 9}
    result = cluster_guided(x, pins, 2)
    for row, cid in pins.items():
        assert result.fixed[result.labels[row]] == cid
    assert result.k == 2 and set(result.fixed.values()) == {7, 9}


def test_pins_steer_the_rest_towards_the_persons_grouping():
    x, _, b = two_ways()
    plain = cluster_features(x, 2).labels
    rng = np.random.default_rng(3)
    pinned = np.concatenate([rng.choice(np.flatnonzero(b == j), 4, replace=False) for j in (0, 1)])
    pins = {int(i): int(b[i]) for i in pinned}
    free = np.setdiff1d(np.arange(len(x)), pinned)
    steered = cluster_guided(x, pins, 2).labels
    before = normalized_mutual_info_score(b[free], plain[free])
    after = normalized_mutual_info_score(b[free], steered[free])
    assert before < 0.2  # unguided, the strong factor wins
    assert after > before + 0.5


def test_more_clusters_than_pinned_groups_when_asked():
    x, _, _ = two_ways()
    result = cluster_guided(x, {0: 1, 1: 1}, 4)
    assert result.k == 4 and result.fixed == {0: 1}


def test_session_keeps_pinned_ids_and_names_on_regroup(tmp_path):
    x, _, _ = two_ways(n_per=10)
    images = [f"p{i:03d}.jpg" for i in range(len(x))]
    session = Session(tmp_path, images)
    session.set_analysis(images, x)
    session.apply_clustering(cluster_features(x, 2))
    cid, _ = session.new_cluster(["p000.jpg", "p001.jpg"], "Mine")
    pins = session_pins(session)
    assert pins == {0: cid, 1: cid}
    session.apply_clustering(cluster_guided(x, pins, 2))
    mine = session.labels["p000.jpg"]  # a regroup renumbers the clusters 1..N: the id may change, not the name
    assert session.name(mine) == "Mine" and session.labels["p001.jpg"] == mine
    assert len(session.members(mine)) > 2  # the rest joined the person's group


@pytest.mark.parametrize(
    "text, message",
    [
        ("a.jpg\n", "expected 2 fields"),
        ("a.jpg,x,y\n", "expected 2 fields"),
        (",cats\n", "the path is empty"),
        ("a.jpg, \n", "the cluster is empty"),
        ("../up.jpg,cats\n", "relative to FOLDER"),
        ("/abs.jpg,cats\n", "relative to FOLDER"),
        ("a.jpg,cats\na.jpg,dogs\n", "already pinned"),
        ("path,cluster\n", "has no rows"),
    ],
)
def test_bad_pinned_files_say_which_row(tmp_path, text, message):
    path = tmp_path / "pins.csv"
    path.write_text(text)
    with pytest.raises(PinsError, match=message):
        read_pins(path)


def test_pinned_file_rows(tmp_path):
    path = tmp_path / "pins.csv"
    path.write_text("path,cluster\nsub\\a.jpg,Cats\n\nb.jpg,  Big   dogs \nb.jpg,Big dogs\n")
    assert read_pins(path) == [("sub/a.jpg", "Cats"), ("b.jpg", "Big dogs")]
    assert unknown_paths(read_pins(path), ["b.jpg"]) == ["sub/a.jpg"]
    with pytest.raises(PinsError, match="cannot read"):
        read_pins(tmp_path / "missing.csv")
