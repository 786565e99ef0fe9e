"""GUI test set-up: offscreen Qt, private QSettings, a styled app, windows, and small real photo folders."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists

import numpy as np
import pytest
from PySide6.QtCore import QSettings

_SETTINGS_DIR = tempfile.mkdtemp(prefix="photocluster-qsettings-")
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, _SETTINGS_DIR)


@pytest.fixture(scope="session")
def feature_cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory, feature_cache_dir, monkeypatch):
    """Per test: its own data folder and settings; the feature cache is shared so re-analysis is quick."""
    monkeypatch.setenv("PHOTOCLUSTER_CACHE_DIR", str(feature_cache_dir))
    monkeypatch.setenv("PHOTOCLUSTER_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.delenv("PHOTOCLUSTER_WEIGHTS", raising=False)
    QSettings().clear()


@pytest.fixture
def app(qapp):
    from gui.app import create_application

    application = create_application()  # names the settings file: only now does QSettings() mean the app's
    QSettings().setValue("analyseOnOpen", False)  # tests start analyses themselves (tests/gui/test_reopen.py: on)
    return application


@pytest.fixture
def photos(tmp_path, photo_maker) -> Path:
    """Three visually distinct groups of eight 64x64 photos (red noise, blue gradients, stripes)."""
    root = tmp_path / "photos"
    for i in range(8):
        photo_maker(root / "red" / f"red_{i}.jpg", "red", i, size=(64, 64))
        photo_maker(root / "sky" / f"sky_{i}.jpg", "sky", i, size=(64, 64))
        photo_maker(root / "stripes" / f"stripes_{i}.png", "stripes", i, size=(64, 64))
    return root


@pytest.fixture
def window(app, qtbot, weights_path):
    from gui.main_window import MainWindow

    win = MainWindow(weights=str(weights_path))
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    yield win
    win.close()


@pytest.fixture
def sorted_window(window, photos, qtbot):
    """A window on ``photos`` with made-up features clustered into 3 (no model needed: for editing tests)."""
    from engine import descriptor
    from engine.cluster import cluster_features

    assert window.open_folder(photos, wait=True)
    session = window.session
    groups = {"red": 0, "sky": 1, "stripes": 2}
    rng = np.random.default_rng(0)
    centres = rng.random((3, descriptor.SIZE)) ** 4  # sparse-ish, non-negative, like pooled CNN activations
    features = np.stack([centres[groups[p.split("/")[0]]] + rng.random(descriptor.SIZE) * 0.02 for p in session.images])
    features = features.astype(np.float32)
    session.set_analysis(session.images, features)
    window.editor.apply_clustering(cluster_features(features, k=3), {"clusters": 3, "method": "kmeans"})
    window.editor.stack.clear()
    window._show_settings(session.settings)
    return window


@pytest.fixture
def cluster_of():
    """cluster_of(session, "red"): the cluster holding most photos of a ``photos`` subfolder."""

    def find(session, folder: str) -> int:
        labels = [session.labels[p] for p in session.images if p.startswith(folder + "/")]
        return max(set(labels), key=labels.count)

    return find
