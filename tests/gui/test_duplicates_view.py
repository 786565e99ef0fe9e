"""The Near-Duplicates dialog and the grid's stacking proxy: copies found, the best marked, nothing deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPainter

from engine.scan import scan_folder
from engine.session import Session
from gui.duplicates_view import (
    DuplicatesDialog,
    GroupRole,
    StackCountRole,
    StackDuplicatesProxy,
    paint_stack_badge,
    paint_stack_edges,
)
from gui.image_model import ImageModel
from gui.thumbnails import ThumbnailLoader
from gui.undo import Editor


def _scene(path: Path, seed: int) -> Image.Image:
    import numpy as np
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 255, (3, 4, 3), dtype=np.uint8), "RGB").resize((160, 120), Image.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(4):
        x, y = int(rng.integers(0, 120)), int(rng.integers(0, 80))
        draw.ellipse(
            [x, y, x + int(rng.integers(20, 60)), y + int(rng.integers(20, 50))],
            fill=tuple(int(c) for c in rng.integers(0, 255, 3)),
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, quality=92)
    return im


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    for i in range(5):
        im = _scene(root / f"p{i}.jpg", i)
        if i < 2:  # a resized and a re-encoded copy, in another folder
            (root / "copies").mkdir(exist_ok=True)
            im.resize((112, 84), Image.LANCZOS).save(root / "copies" / f"p{i}_small.jpg", quality=90)
            im.save(root / "copies" / f"p{i}_q40.jpg", quality=40)
    return root


@pytest.fixture
def setup(app, folder):
    scan = scan_folder(folder)
    session = Session(scan.root, scan.images)
    editor = Editor()
    editor.set_session(session)
    loader = ThumbnailLoader(disk_dir=None)
    loader.set_root(scan.root)
    yield session, editor, loader
    loader.set_root(None)
    loader.wait()


def test_dialog_lists_the_groups_with_the_best_first(setup, qtbot, qtmodeltester):
    session, editor, loader = setup
    dialog = DuplicatesDialog(session, loader, editor)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.reportReady, timeout=20_000):
        dialog.show()
    qtbot.waitUntil(lambda: not dialog.busy())
    qtmodeltester.check(dialog.model)
    groups = [dialog.model.index(r).data(GroupRole) for r in range(dialog.model.rowCount())]
    assert sorted(sorted(g.members) for g in groups) == [
        ["copies/p0_q40.jpg", "copies/p0_small.jpg", "p0.jpg"],
        ["copies/p1_q40.jpg", "copies/p1_small.jpg", "p1.jpg"],
    ]
    assert {g.best for g in groups} == {"p0.jpg", "p1.jpg"}
    assert "2 groups" in dialog.summary.text() and "4 extra copies" in dialog.summary.text()
    assert "keep p" in dialog.model.index(0).data()
    dialog.grab()  # paints
    with qtbot.waitSignal(dialog.imagesSelected) as picked:
        dialog.select_button.click()
    assert sorted(picked.args[0]) == [
        "copies/p0_q40.jpg",
        "copies/p0_small.jpg",
        "copies/p1_q40.jpg",
        "copies/p1_small.jpg",
    ]
    dialog.list.selectionModel().select(dialog.model.index(0), dialog.list.selectionModel().SelectionFlag.Select)
    assert len(dialog.extra_copies()) == 2  # only the selected group's
    # the extra copies can become a cluster of their own; Undo puts them back; no file is touched
    files = sorted(p.name for p in Path(session.root).rglob("*.jpg"))
    cid = dialog.cluster_extra_copies()
    assert session.names[cid] == "Duplicates" and editor.stack.count() == 1
    editor.stack.undo()
    assert cid not in session.names
    assert sorted(p.name for p in Path(session.root).rglob("*.jpg")) == files


def test_stacking_proxy_for_the_grid(setup, qtbot, qtmodeltester):
    session, editor, loader = setup
    dialog = DuplicatesDialog(session, loader, editor)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.report is not None and not dialog.busy(), timeout=20_000)
    images = ImageModel(loader)
    images.set_session(session)
    proxy = StackDuplicatesProxy()
    proxy.setSourceModel(images)
    assert proxy.rowCount() == 9
    proxy.set_groups(dialog.report.groups)
    qtmodeltester.check(proxy)
    assert sorted(proxy.paths()) == ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg", "p4.jpg"]
    assert proxy.index(proxy.row_of("p0.jpg"), 0).data(StackCountRole) == 3
    assert proxy.index(proxy.row_of("p3.jpg"), 0).data(StackCountRole) == 1
    assert proxy.stacked("p1.jpg")[0] == "p1.jpg" and len(proxy.stacked("p1.jpg")) == 3
    assert proxy.row_of("copies/p0_q40.jpg") == -1
    images.set_doubtful_first(True)  # the window's "doubtful first" under the stacks
    qtmodeltester.check(proxy)
    assert sorted(proxy.paths()) == ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg", "p4.jpg"]
    assert proxy.paths() == [p for p in session.by_doubt(list(session.images)) if p in set(proxy.paths())]
    assert all(proxy.row_of(p) == r for r, p in enumerate(proxy.paths()))
    assert proxy.index(proxy.row_of("p0.jpg"), 0).data(StackCountRole) == 3
    assert proxy.row_of("copies/p0_q40.jpg") == -1
    proxy.set_groups([])
    assert proxy.rowCount() == 9
    image = QImage(120, 120, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    paint_stack_edges(painter, QRectF(10, 20, 90, 90), 3)
    paint_stack_badge(painter, QRectF(10, 20, 90, 90), 3)
    paint_stack_badge(painter, QRectF(10, 20, 90, 90), 1)  # a single photo gets no badge
    painter.end()


def test_stacking_proxy_reads_no_paths_without_groups(setup, monkeypatch):
    """Opening a folder (no duplicate groups yet) must not read every photo's path: 2 s at 100,000 photos."""
    session, _editor, loader = setup
    images = ImageModel(loader)
    images.set_session(session)
    proxy = StackDuplicatesProxy()
    proxy.setSourceModel(images)
    reads = []
    real = ImageModel.data
    monkeypatch.setattr(ImageModel, "data", lambda self, index, role=0: reads.append(role) or real(self, index, role))
    proxy.set_groups([])
    images.set_session(session)  # a model reset re-filters every row
    assert proxy.rowCount() == 9 and reads == []


def test_keep_prefers_the_original_over_an_enlarged_copy_and_says_why(app, tmp_path, qtbot):
    root = tmp_path / "photos"
    small = _scene(root / "original.jpg", 7).resize((150, 112), Image.LANCZOS)
    small.save(root / "original.jpg", quality=92)
    small.resize((300, 224), Image.BICUBIC).save(root / "enlarged.jpg", quality=88)
    session = Session(root, ["enlarged.jpg", "original.jpg"])
    editor = Editor()
    editor.set_session(session)
    loader = ThumbnailLoader(disk_dir=None)
    loader.set_root(root)
    dialog = DuplicatesDialog(session, loader, editor)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.reportReady, timeout=20_000):
        dialog.show()
    qtbot.waitUntil(lambda: not dialog.busy())
    index = dialog.model.index(0)
    assert index.data(GroupRole).best == "original.jpg"
    assert "keep original.jpg (the original: enlarged.jpg (300×224) is an enlarged copy)" in index.data()
    tip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert "Keep <b>original.jpg</b>" in tip and "enlarged from original.jpg" in tip
    loader.set_root(None)
    loader.wait()
