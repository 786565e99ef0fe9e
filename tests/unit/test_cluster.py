import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from engine.cluster import CLEAR_SILHOUETTE, MIN_CLUSTER, UNSORTED, choose_k, cluster_features, moderate_k, prepare


def blobs(n_per=40, k=4, dim=1024, seed=0, spread=0.15):
    """Non-negative vectors (like pooled ReLU maps) in k well separated groups."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, (k, dim)) * (rng.uniform(0, 1, (k, dim)) > 0.7)
    x = np.concatenate([np.abs(c + rng.normal(0, spread, (n_per, dim))) for c in centres])
    return x.astype(np.float32), np.repeat(np.arange(k), n_per)


@pytest.mark.parametrize("method", ["kmeans", "agglomerative", "hdbscan"])
def test_methods_recover_separated_groups(method):
    x, y = blobs()
    result = cluster_features(x, 4, method)
    sorted_ = result.labels != UNSORTED
    assert sorted_.mean() > 0.8
    assert normalized_mutual_info_score(y[sorted_], result.labels[sorted_]) > 0.9
    assert result.k == 4


def test_auto_k_finds_the_number_of_groups():
    x, _ = blobs(k=5)
    k, scores, clear = choose_k(prepare(x))
    assert k == 5 and clear
    assert set(scores) >= {2, 3, 4, 5, 6}


def test_no_structure_is_flagged_and_gets_a_moderate_k():
    x = np.abs(np.random.default_rng(1).normal(0, 1, (150, 1024))).astype(np.float32)  # one cloud, no groups
    result = cluster_features(x, "auto")
    assert not result.k_clear
    assert result.k == moderate_k(150) == 12
    assert max(result.k_scores.values()) < CLEAR_SILHOUETTE


def test_auto_k_leaves_no_cluster_under_three_photos():
    x, _ = blobs(n_per=12, k=4)
    strays = np.abs(np.random.default_rng(5).normal(0, 1, (2, x.shape[1]))).astype(np.float32) * 3  # two odd ones
    result = cluster_features(np.vstack([x, strays]), "auto")
    assert np.bincount(result.labels).min() >= MIN_CLUSTER
    assert set(result.labels.tolist()) == set(range(result.k))


def test_small_folders_get_few_candidates():
    x, _ = blobs(n_per=8, k=5)  # 40 photos: candidates stop at 40 / 8 = 5 clusters
    _, scores, _ = choose_k(prepare(x))
    assert max(scores) == 5


def test_deterministic_for_a_seed():
    x, _ = blobs()
    a = cluster_features(x, 4, seed=3)
    b = cluster_features(x, 4, seed=3)
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.confidence, b.confidence)


def test_confidence_and_representatives():
    x, _ = blobs()
    result = cluster_features(x, 4)
    assert result.confidence.shape == (len(x),)
    assert ((result.confidence >= 0) & (result.confidence <= 1)).all()
    assert set(result.representatives) == set(range(4))
    for label, index in result.representatives.items():
        assert result.labels[index] == label


def test_an_odd_one_out_has_low_confidence():
    x, _ = blobs(k=2)
    halfway = (x[0] + x[-1]) / 2
    result = cluster_features(np.vstack([x, halfway]), 2)
    assert result.confidence[-1] < np.median(result.confidence)


def test_large_sets_use_the_fast_paths():
    x, y = blobs(n_per=6000, k=4, spread=0.1)  # 24,000 > mini-batch threshold
    result = cluster_features(x, 4)
    assert normalized_mutual_info_score(y, result.labels) > 0.9


def test_tiny_inputs():
    assert cluster_features(np.zeros((0, 1024)), 3).k == 0
    one = cluster_features(np.ones((1, 1024)), "auto")
    assert one.k == 1 and one.labels.tolist() == [0]


def test_bad_arguments():
    x, _ = blobs()
    with pytest.raises(ValueError, match="unknown method"):
        cluster_features(x, 3, "magic")
    with pytest.raises(ValueError, match="at least 1"):
        cluster_features(x, 0)
