"""The long jobs the window runs in its worker threads, as plain generators (no Qt in here).

``analysis_job`` is the only code that runs TensorFlow, and the window runs
one at a time; ``ModelHolder`` keeps the loaded model between runs so a second
Analyse starts at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.cluster import Clustering, cluster_features
from engine.features import Cancelled, FeatureExtractor
from engine.pipeline import Analysis, Progress, analyse
from engine.weights import WeightsSource

BATCH_SIZE = 16  # small batches: a progress update and a cancel check every couple of seconds on a CPU


class ModelHolder:
    """The feature extractor, built on first use in the worker thread and kept for later runs."""

    def __init__(self, weights: WeightsSource):
        self.weights = weights
        self.extractor: FeatureExtractor | None = None

    def get(self) -> FeatureExtractor:
        if self.extractor is None:
            extractor = FeatureExtractor(self.weights, batch_size=BATCH_SIZE)
            extractor.load()  # raises WeightsError with the fix-it text
            self.extractor = extractor
        return self.extractor


@dataclass
class AnalysisResult:
    analysis: Analysis
    clustering: Clustering
    settings: dict


@dataclass
class ClusterResult:
    clustering: Clustering
    settings: dict
    features: np.ndarray  # the features it was computed from, to detect a stale result


def cluster(features: np.ndarray, settings: dict) -> Clustering:
    return cluster_features(features, k=settings.get("clusters", "auto"), method=settings.get("method", "kmeans"))


def analysis_job(root: Path, model: ModelHolder, settings: dict, cancel: threading.Event):
    yield Progress("model", 0, 0, message="Loading the image model")
    extractor = model.get()
    if cancel.is_set():
        raise Cancelled()
    analysis = yield from analyse(root, extractor, cancel=cancel)
    if cancel.is_set():
        raise Cancelled()
    yield Progress("cluster", 0, 0, message=f"Grouping {len(analysis.images)} photos")
    return AnalysisResult(analysis, cluster(analysis.features, settings), dict(settings))


def cluster_job(features: np.ndarray, settings: dict, cancel: threading.Event):
    yield Progress("cluster", 0, 0, message="Regrouping photos")
    return ClusterResult(cluster(features, settings), dict(settings), features)
