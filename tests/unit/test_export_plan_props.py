"""Property tests for the export planner: whatever the names, the plan stays inside DEST and safe."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.export import _key, plan_export

part = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12)
long_part = st.integers(1, 3).map(lambda n: "é" * n + "x" * (255 - 2 * n - 4) + ".jpg")  # 255 bytes, the most there is
rels = st.lists(st.lists(part | long_part, min_size=1, max_size=3).map("/".join), min_size=1, max_size=12)
clusters = st.lists(
    st.text(max_size=300) | st.sampled_from(["..", ".", "/", "manifest.csv", "CON", "a/../b", ""]),
    min_size=1,
    max_size=4,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rels=rels, clusters=clusters, data=st.data())
def test_planned_targets_are_distinct_inside_dest_new_and_short(rels, clusters, data):
    with tempfile.TemporaryDirectory() as tmp:
        root, dest = Path(tmp) / "photos", Path(tmp) / "out"
        root.mkdir()
        existing = data.draw(st.lists(st.sampled_from(clusters), max_size=2))
        for name in existing:  # files already in DEST whose names the plan must not take
            folder = dest / (name.strip("./") or "x").replace("/", "_").replace("\x00", "_")[:50]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "taken.jpg").write_bytes(b"")
        assignments = [(rel, data.draw(st.sampled_from(clusters))) for rel in rels]
        plan = plan_export(root, assignments, dest, "copy")
        dest = dest.resolve()
        keys = [(_key(i.target.parent.name), _key(i.target.name)) for i in plan.items]
        assert len(keys) == len(set(keys)), "two photos planned onto one name"
        for item in plan.items:
            assert item.target.parent.parent == dest, item.target
            assert item.target.parent.name not in ("", ".", "..") and not item.target.name.startswith(".")
            assert not os.path.lexists(item.target), "an existing file would be overwritten"
            for name in (item.target.parent.name, item.target.name):
                assert len(name.encode("utf-8", "surrogateescape")) <= 255, name
