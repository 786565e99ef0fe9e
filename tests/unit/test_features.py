import threading

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from engine import descriptor, features
from engine.cluster import cluster_features
from engine.features import Cancelled
from engine.scan import scan_folder


def test_vectors_separate_distinct_photos(extractor, photo_folder):
    paths = [str(photo_folder / p) for p in scan_folder(photo_folder).images]
    batches = list(extractor.extract(paths))
    assert [len(b.paths) for b in batches] == [8, 8, 2]  # batch_size 8
    vectors = np.concatenate([b.vectors for b in batches])
    assert vectors.shape == (18, descriptor.SIZE) and np.isfinite(vectors).all()
    truth = [p.rsplit("/", 1)[1].split("_")[0] for p in paths]
    labels = cluster_features(vectors, 3).labels
    assert normalized_mutual_info_score(truth, labels) > 0.95


def test_unreadable_file_in_a_batch_is_reported_and_the_rest_analysed(extractor, photo_folder):
    bad = photo_folder / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    good = str(photo_folder / "a" / "red_0.jpg")
    (batch,) = list(extractor.extract([good, str(bad)]))
    assert batch.paths == [good] and batch.vectors.shape == (1, descriptor.SIZE)
    assert batch.failed == [(str(bad), "truncated or incomplete image data")] or "damaged" in batch.failed[0][1]


def test_same_photo_gives_the_same_vector(extractor, photo_folder):
    path = str(photo_folder / "b" / "sky_0.jpg")
    a = next(iter(extractor.extract([path]))).vectors
    b = next(iter(extractor.extract([path]))).vectors
    assert np.allclose(a, b)


def test_cancel_stops_between_batches(extractor, photo_folder):
    paths = [str(p) for p in sorted(photo_folder.rglob("*.*"))]
    cancel = threading.Event()
    seen = 0
    with pytest.raises(Cancelled):
        for _batch in extractor.extract(paths, cancel):
            seen += 1
            cancel.set()
    assert seen == 1


@pytest.mark.parametrize(
    "gpu, bf16, expected", [(True, True, "float16"), (False, True, "bfloat16"), (False, False, "float32")]
)
def test_precision_is_chosen_for_the_hardware(monkeypatch, gpu, bf16, expected):
    monkeypatch.setattr(features, "gpu_available", lambda: gpu)
    monkeypatch.setattr(features, "cpu_has_bf16", lambda: bf16)
    assert features.detect_precision() == expected


def test_model_id_changes_with_precision_and_weights(weights_path):
    from engine.weights import resolve_weights

    source = resolve_weights(str(weights_path))
    a = features.FeatureExtractor(source, "float32").model_id
    b = features.FeatureExtractor(source, "bfloat16").model_id
    assert a != b and source.identity() in a
    with pytest.raises(ValueError):
        features.FeatureExtractor(source, "int4")
