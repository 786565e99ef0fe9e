"""Session files are validated as a whole (issue 9 item 8); property tests for the loader.

A file the loader does not fully understand is set aside (``.damaged-<time>``) with a warning and a new
session starts; the loader never raises anything but ``SessionError`` and ``load_or_set_aside`` nothing at all.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.session import Session, SessionError, load_or_set_aside

GOOD = {
    "version": 2,
    "root": "/photos",
    "settings": {"clusters": "auto", "method": "kmeans"},
    "clusters": [{"id": 0, "name": "Sea"}],
    "images": {"path": ["a.jpg", "b.jpg"], "cluster": [0, 7], "pinned": [True, False], "confidence": [0.5, 0.25]},
    "representatives": {"0": "a.jpg"},
}
VERSION_1 = {  # what sessions saved before the columns were written: one record per photo
    **GOOD,
    "version": 1,
    "images": [
        {"path": "a.jpg", "cluster": 0, "pinned": True, "confidence": 0.5},
        {"path": "b.jpg", "cluster": 7, "confidence": 0.25},
    ],
}


def _with(**changes):
    return json.dumps({**GOOD, **changes})


@pytest.mark.parametrize(
    "text",
    [
        _with(representatives=None),
        _with(clusters=[{"id": math.inf, "name": "x"}]).replace("inf", "Infinity"),
        _with(clusters=[{"id": "NaN", "name": "x"}]),
        _with(clusters=[{"id": True, "name": "x"}]),
        _with(images={**GOOD["images"], "confidence": [0.5, math.nan]}),
        _with(images={**GOOD["images"], "path": ["a.jpg", 3]}),
        _with(images={**GOOD["images"], "pinned": [True, "yes"]}),
        _with(images={**GOOD["images"], "cluster": [0]}),  # a column shorter than the paths
        _with(images={k: v for k, v in GOOD["images"].items() if k != "pinned"}),
        _with(images=[{"path": "a.jpg", "cluster": 0}]),  # version 1's records under version 2
        _with(images=None),
        json.dumps({**VERSION_1, "images": [{"path": "a.jpg", "cluster": 0, "confidence": math.nan}]}),
        json.dumps({**VERSION_1, "images": [{"path": 3, "cluster": 0}]}),
        json.dumps({**VERSION_1, "images": [{"path": "a.jpg", "cluster": 0, "pinned": "yes"}]}),
        json.dumps({**VERSION_1, "images": GOOD["images"]}),  # columns under version 1
        _with(settings=[]),
        _with(root=None),
        _with(representatives={"x": "a.jpg"}),
        "[" * 100_000 + "]" * 100_000,
        '{"version": 1, "root": "/p", "settings": ' + '{"a": ' * 5000 + "1" + "}" * 5001,
    ],
)
def test_a_damaged_file_is_set_aside_and_never_crashes_the_loader(tmp_path, text):
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(SessionError):
        Session.load(path)
    session, warning = load_or_set_aside(path)
    assert session is None and "kept as" in warning
    assert not path.exists() and len(list(tmp_path.glob("s.json.damaged-*"))) == 1


@pytest.mark.parametrize("good", [GOOD, VERSION_1], ids=["columns", "version 1 records"])
def test_the_good_file_loads(tmp_path, good):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(good))
    s = Session.load(path)
    assert s.images == ["a.jpg", "b.jpg"] and s.names == {0: "Sea"} and s.representatives == {0: "a.jpg"}
    assert s.labels == {"a.jpg": 0, "b.jpg": -1}  # a cluster the file does not name is Unsorted
    assert s.pinned == {"a.jpg"} and s.confidence == {"a.jpg": 0.5, "b.jpg": 0.25}


def test_a_version_1_session_is_written_back_as_columns(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(VERSION_1))
    Session.load(path).save(path)
    data = json.loads(path.read_text())
    assert data["version"] == 2
    assert data["images"] == {**GOOD["images"], "cluster": [0, -1]}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "version",
        "root",
        "settings",
        "clusters",
        "images",
        "representatives",
        "id",
        "name",
        "path",
        "cluster",
        "pinned",
        "confidence",
    ]
)
session_like = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 2, 1.0, "2", None])},
    optional={
        k: json_values
        | st.dictionaries(keys, json_values, max_size=4)
        | st.dictionaries(keys, st.lists(json_values, max_size=3), max_size=4)
        | st.lists(st.dictionaries(keys, json_values, max_size=5), max_size=3)
        for k in ["root", "settings", "clusters", "images", "representatives"]
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(json_values, session_like))
def test_arbitrary_json_never_crashes_the_loader(data):
    try:
        Session.from_dict(data)
    except SessionError:
        pass


names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
paths = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(images=st.lists(paths, min_size=1, max_size=8, unique=True), data=st.data())
def test_valid_sessions_round_trip(images, data, tmp_path_factory):
    s = Session("/photos", images)
    n = data.draw(st.integers(1, 4))
    s.names = {i: data.draw(names) for i in range(n)}
    s.labels = {p: data.draw(st.sampled_from([-1, *range(n)])) for p in images}
    s.pinned = set(data.draw(st.lists(st.sampled_from(images), max_size=3)))
    s.confidence = {p: round(data.draw(st.floats(0, 1)), 4) for p in images}
    path = tmp_path_factory.mktemp("rt") / "s.json"
    s.save(path)
    back = Session.load(path)
    assert (back.images, back.labels, back.names, back.pinned) == (s.images, s.labels, s.names, s.pinned)
    assert back.confidence == s.confidence
