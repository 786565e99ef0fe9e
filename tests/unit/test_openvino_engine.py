"""The OpenVINO CPU engine: same vectors as TensorFlow, prepared once, rebuilt when damaged, falls back when wrong."""

import shutil
import subprocess

import numpy as np
import pytest

from engine import features, openvino_model
from engine.features import FeatureExtractor
from engine.scan import scan_folder


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, weights_path):
    """A cache folder with the OpenVINO models prepared (a small calibration set: this is about the plumbing)."""
    from engine.weights import resolve_weights

    saved = openvino_model.CALIBRATION_IMAGES, openvino_model.PROBE_BATCHES
    openvino_model.CALIBRATION_IMAGES, openvino_model.PROBE_BATCHES = 8, 1
    try:
        cache = tmp_path_factory.mktemp("ov-cache")
        source = resolve_weights(str(weights_path))
        fe = FeatureExtractor(source, batch_size=8, engine="openvino", cache_dir=cache)
        notes = list(fe.prepare())
        assert notes == [features.PREPARING], notes
        yield cache, source, openvino_model.model_folder(cache, source)
    finally:
        openvino_model.CALIBRATION_IMAGES, openvino_model.PROBE_BATCHES = saved


def copy_of(prepared, tmp_path, drop=()):
    """The prepared cache folder copied (so a test can damage it), without the files named in ``drop``."""
    cache, source, _ = prepared
    shutil.copytree(cache, tmp_path / "cache")
    copy = openvino_model.model_folder(tmp_path / "cache", source)
    for name in drop:
        (copy / name).unlink()
    return tmp_path / "cache", source, copy


def cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("precision", ["auto", "float32"])
def test_vectors_match_tensorflow(prepared, extractor, photo_folder, precision):
    cache, source, _ = prepared
    paths = [str(photo_folder / p) for p in scan_folder(photo_folder).images]
    fe = FeatureExtractor(source, precision, batch_size=8, engine="openvino", cache_dir=cache)
    assert list(fe.prepare()) == []  # prepared already: no "Preparing..." the second time
    assert fe.engine == "openvino" and fe.precision in openvino_model.PRECISIONS and not fe.notice
    assert fe.label.startswith("OpenVINO ") and f"openvino-{fe.precision}" in fe.model_id
    ours = np.concatenate([b.vectors for b in fe.extract(paths)])
    theirs = np.concatenate([b.vectors for b in extractor.extract(paths)])
    assert cosines(ours, theirs).min() >= 0.99


def test_the_second_build_reuses_the_quantised_model(prepared, monkeypatch):
    cache, source, folder = prepared
    before = {p.name: p.stat().st_mtime_ns for p in (folder / "int8").iterdir()}
    calls = []
    monkeypatch.setattr(openvino_model, "_run_child", lambda *a: calls.append(a) or {})
    monkeypatch.setattr(openvino_model, "_convert", lambda *a: calls.append(a))
    fe = FeatureExtractor(source, "int8", engine="openvino", cache_dir=cache)
    assert not fe.needs_preparing()
    fe.load()
    assert calls == [] and fe.precision == "int8" and not fe.notice
    assert {p.name: p.stat().st_mtime_ns for p in (folder / "int8").iterdir()} == before


def test_a_damaged_cached_model_is_rebuilt(prepared, tmp_path, monkeypatch):
    cache, source, folder = copy_of(prepared, tmp_path)
    weights_file = folder / "fp32" / "model.bin"
    data = bytearray(weights_file.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    weights_file.write_bytes(bytes(data))
    verdict = {"precisions": {"float32": {"ok": True, "cosine": 1.0, "images_per_s": 1.0}}, "choice": "float32"}
    children = []
    monkeypatch.setattr(openvino_model, "_run_child", lambda *a: children.append(a) or verdict)
    fe = FeatureExtractor(source, "float32", engine="openvino", cache_dir=cache)
    fe.load()
    assert len(children) == 1 and fe.engine == "openvino" and not fe.notice
    assert openvino_model._intact(folder, verdict)  # the hashes match again: written anew
    assert not any(p.name.startswith(".") and p.is_dir() for p in folder.iterdir())  # no temp folder left


def test_a_model_that_disagrees_with_tensorflow_falls_back(prepared, tmp_path):
    cache, source, folder = copy_of(prepared, tmp_path)
    wrong = np.random.default_rng(0).random(np.load(folder / "reference.npy").shape).astype(np.float32)
    np.save(folder / "reference.npy", wrong)
    fe = FeatureExtractor(source, batch_size=8, engine="openvino", cache_dir=cache)
    notes = list(fe.prepare())
    assert len(notes) == 1 and "disagree with TensorFlow" in notes[0] and "Using TensorFlow instead" in notes[0]
    assert fe.engine == "tensorflow" and fe.notice == notes[0] and "openvino" not in fe.model_id
    assert fe.run_batch(np.zeros((1, 224, 224, 3), np.uint8)).shape == (1, 1024)


def test_a_crash_in_the_self_test_is_recorded_and_not_repeated(prepared, tmp_path, monkeypatch):
    cache, source, _ = copy_of(prepared, tmp_path, drop=["probe.json"])
    runs = []

    def segfault(args, **kw):
        runs.append(args)
        return subprocess.CompletedProcess(args, -11, "", "Segmentation fault")

    monkeypatch.setattr(openvino_model.subprocess, "run", segfault)
    monkeypatch.setattr(features, "build_tf_describer", lambda *a: lambda px: _Zeros(len(px)))
    for _ in range(2):
        fe = FeatureExtractor(source, engine="openvino", cache_dir=cache)
        fe.load()
        assert fe.engine == "tensorflow" and "crashed in its self-test (signal 11)" in fe.notice
    assert len(runs) == 1  # the verdict is kept next to the model


class _Zeros:
    def __init__(self, n):
        self.n = n

    def numpy(self):
        return np.zeros((self.n, 1024), np.float32)


def test_engine_choice(monkeypatch):
    monkeypatch.delenv("PHOTOCLUSTER_ENGINE")
    monkeypatch.setattr(features, "nvidia_gpu", lambda: False)
    assert features.choose_engine(None) == "openvino"
    assert features.choose_engine("tensorflow") == "tensorflow"
    monkeypatch.setattr(features, "nvidia_gpu", lambda: True)
    assert features.choose_engine(None) == "tensorflow"  # mixed float16 on the GPU
    monkeypatch.setenv("PHOTOCLUSTER_ENGINE", "OpenVINO")
    assert features.choose_engine(None) == "openvino"
    monkeypatch.setenv("PHOTOCLUSTER_ENGINE", "fast")
    with pytest.raises(ValueError, match="PHOTOCLUSTER_ENGINE"):
        features.choose_engine(None)


def test_the_model_id_is_known_without_loading_once_prepared(prepared, tmp_path):
    cache, source, _ = prepared
    planned = FeatureExtractor(source, engine="openvino", cache_dir=cache)
    assert planned.planned_model_id() == FeatureExtractor(source, engine="openvino", cache_dir=cache).model_id
    assert planned._fn is None  # nothing was loaded
    assert FeatureExtractor(source, engine="openvino", cache_dir=tmp_path).planned_model_id() is None
