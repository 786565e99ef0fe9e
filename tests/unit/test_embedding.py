"""engine.embedding: the similarity map's 2-D layout and the scores the bench reports."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine import descriptor, embedding


def _three_groups(per_group=30, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.random((3, descriptor.SIZE)) ** 4  # sparse-ish, non-negative, like pooled CNN activations
    labels = np.repeat(np.arange(3), per_group)
    features = centres[labels] + rng.random((len(labels), descriptor.SIZE)) * 0.02
    return features.astype(np.float32), labels


@pytest.mark.parametrize("method", ["tsne", "pca"])
def test_groups_stay_apart_in_2d(method):
    features, labels = _three_groups()
    result = embedding.embed(features, method)
    assert result.method == method and result.xy.shape == (90, 2) and result.xy.dtype == np.float32
    assert np.isfinite(result.xy).all()
    assert embedding.separation(result.xy, labels) > 0.5
    assert result.prepared.shape == (90, embedding.PCA_DIMS)


def test_deterministic_for_a_seed():
    features, _ = _three_groups(20)
    a = embedding.embed(features, "tsne", seed=3).xy
    b = embedding.embed(features, "tsne", seed=3).xy
    assert np.allclose(a, b)


def test_auto_picks_an_installed_method():
    assert embedding.resolve("auto") == "tsne"  # measured best at 10,000 points, and always installed
    assert "tsne" in embedding.available_methods() and "pca" in embedding.available_methods()


def test_missing_optional_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(embedding, "available", lambda m: m in ("auto", "tsne", "pca"))
    with pytest.raises(ValueError, match="umap-learn"):
        embedding.resolve("umap")
    assert embedding.resolve("auto") == "tsne"
    with pytest.raises(ValueError, match="unknown layout"):
        embedding.resolve("mds")


def test_tiny_and_empty_inputs():
    assert embedding.embed(np.zeros((0, descriptor.SIZE), np.float32)).xy.shape == (0, 2)
    few = embedding.embed(np.random.default_rng(0).random((3, descriptor.SIZE)).astype(np.float32), "tsne")
    assert few.xy.shape == (3, 2) and len({tuple(p) for p in few.xy}) == 3


def test_cancel_between_steps():
    features, _ = _three_groups(10)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(embedding.Cancelled):
        embedding.embed(features, "tsne", cancel=cancel)


def test_knn_preservation_scores():
    rng = np.random.default_rng(0)
    high = rng.normal(size=(200, 2))
    assert embedding.knn_preservation(high, high * 3 + 1) == pytest.approx(1.0)  # same neighbours
    shuffled = embedding.knn_preservation(high, rng.normal(size=(200, 2)))
    assert shuffled < 0.2  # a random layout keeps about k / n
    assert embedding.separation(high, np.zeros(200)) == 0.0


def test_large_sets_lay_out_a_sample_and_place_the_rest(monkeypatch):
    """Above TSNE_SAMPLE points t-SNE runs on a sample only; every other point lands in its group's island."""
    features, labels = _three_groups(400)
    monkeypatch.setattr(embedding, "TSNE_SAMPLE", 300)
    fitted = []
    real = embedding._tsne
    monkeypatch.setattr(embedding, "_tsne", lambda x, *a: fitted.append(len(x)) or real(x, *a))
    result = embedding.embed(features, "tsne")
    assert fitted == [300] and result.xy.shape == (1200, 2) and np.isfinite(result.xy).all()
    assert embedding.separation(result.xy, labels) > 0.5
    centres = np.stack([result.xy[labels == g].mean(0) for g in range(3)])
    nearest = np.linalg.norm(result.xy[:, None] - centres[None], axis=2).argmin(1)
    assert (nearest == labels).mean() > 0.99


def test_place_puts_a_point_between_its_nearest_laid_out_neighbours():
    x = np.array([[0.0, 0], [10, 0], [0.1, 0], [9.9, 0]], np.float32)
    xy = embedding.place(x, np.array([0, 1]), np.array([[-5.0, 1], [5, 1]], np.float32), k=2)
    assert np.allclose(xy[:2], [[-5, 1], [5, 1]])
    assert xy[2, 0] < -4.9 and xy[3, 0] > 4.9  # each follows the sample point it is next to
