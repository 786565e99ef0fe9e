"""engine.duplicates: resized, re-encoded and cropped copies are found, distinct photos are not, the best is kept."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image, ImageDraw

from engine import duplicates
from engine.duplicates import DuplicateGroup, best_of_groups, find_duplicates, group_pairs, hamming, photo_facts
from engine.pipeline import run


def scene(path, seed, size=(200, 150)):
    """A distinct 'photo': a gradient sky and a few random shapes, with fine texture."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * rng.uniform(0.2, 1.2), yy * rng.uniform(0.2, 1.2), (xx + yy) * rng.uniform(0.1, 0.6)], -1)
    base = (base + rng.normal(0, 6, base.shape) + rng.integers(0, 120, 3)).clip(0, 255).astype(np.uint8)
    im = Image.fromarray(base, "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(6):
        x0, y0 = rng.integers(0, w - 20), rng.integers(0, h - 20)
        box = [int(x0), int(y0), int(x0 + rng.integers(15, w // 2)), int(y0 + rng.integers(15, h // 2))]
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, quality=92)
    return im


@pytest.fixture
def copies(tmp_path):
    """6 distinct photos; photo 0 and 1 each get a resized, a re-encoded and a cropped copy."""
    root = tmp_path / "photos"
    for i in range(6):
        im = scene(root / f"p{i}.jpg", seed=i)
        if i < 2:
            w, h = im.size
            im.resize((int(w * 0.7), int(h * 0.7)), Image.LANCZOS).save(root / f"p{i}_small.jpg", quality=90)
            im.save(root / f"p{i}_q40.jpg", quality=40)
            im.crop((10, 7, 190, 142)).save(root / f"p{i}_crop.jpg", quality=90)
    return root, sorted(p.name for p in root.iterdir())


def test_photo_facts(copies):
    root, _ = copies
    facts = photo_facts("p0.jpg", root)
    assert (facts.width, facts.height) == (200, 150) and facts.bytes == (root / "p0.jpg").stat().st_size
    assert facts.sharpness > 0 and facts.path == "p0.jpg"
    small = photo_facts("p0_small.jpg", root)
    assert hamming(facts.phash, small.phash) <= duplicates.HASH_CLOSE
    assert hamming(facts.phash, photo_facts("p3.jpg", root).phash) > duplicates.HASH_MAYBE
    assert "200×150" in facts.describe()


def test_hash_alone_finds_resized_and_reencoded_copies(copies):
    root, names = copies
    report = run(find_duplicates(names, root))
    groups = {frozenset(g.members) for g in report.groups}
    for i in (0, 1):
        assert any({f"p{i}.jpg", f"p{i}_small.jpg", f"p{i}_q40.jpg"} <= g for g in groups)
    for i in range(2, 6):
        assert not any(f"p{i}.jpg" in g for g in groups)  # distinct photos are never grouped
    assert all(g.best in ("p0.jpg", "p1.jpg") for g in report.groups)  # the original: full size, sharpest


def test_features_add_the_crops(copies, extractor):
    root, names = copies
    features = np.concatenate([b.vectors for b in extractor.extract([str(root / n) for n in names])])
    report = run(find_duplicates(names, root, features))
    groups = sorted((sorted(g.members) for g in report.groups), key=len)
    assert groups == [
        ["p0.jpg", "p0_crop.jpg", "p0_q40.jpg", "p0_small.jpg"],
        ["p1.jpg", "p1_crop.jpg", "p1_q40.jpg", "p1_small.jpg"],
    ]
    for g in report.groups:
        assert g.best == g.members[0] and g.best in ("p0.jpg", "p1.jpg")
        assert g.why_best() == "sharpest"  # the runner-up is the re-encoded copy: same size, blurrier
        assert g.links and all(bits >= 0 and cos is not None for _, _, bits, cos in g.links)
    assert len(report.pairs()) == 12
    keep = best_of_groups(report.groups, names)
    assert keep == [n for n in names if "_" not in n]  # only the originals would be exported
    assert sorted(best_of_groups(report.groups)) == ["p0.jpg", "p1.jpg"]
    assert duplicates.redundant(report.groups) == set(names) - set(keep)
    with pytest.raises(ValueError, match="one row per path"):
        run(find_duplicates(names, root, features[:3]))


def test_same_resolution_sharper_wins(tmp_path):
    im = scene(tmp_path / "sharp.png", seed=9)
    from PIL import ImageFilter

    im.filter(ImageFilter.GaussianBlur(1.2)).save(tmp_path / "blurred.png")
    report = run(find_duplicates(["blurred.png", "sharp.png"], tmp_path))
    assert [g.members for g in report.groups] == [["sharp.png", "blurred.png"]]
    assert report.groups[0].why_best() == "sharpest"


def test_unreadable_files_are_reported_not_fatal(copies):
    root, names = copies
    (root / "broken.jpg").write_bytes(b"\xff\xd8 nothing")
    report = run(find_duplicates([*names, "broken.jpg", "gone.jpg"], root))
    assert {p for p, _ in report.unreadable} == {"broken.jpg", "gone.jpg"}
    assert len(report.groups) == 2


def test_cancel(copies):
    root, names = copies
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(duplicates.Cancelled):
        run(find_duplicates(names, root, cancel=cancel))


def test_union_find_groups():
    assert sorted(group_pairs(6, [(0, 1), (1, 2), (4, 5)])) == [[0, 1, 2], [4, 5]]
    assert group_pairs(3, []) == []
    assert duplicates.duplicate_pairs(np.array([5], dtype=np.uint64)) == []


def test_best_of_groups_keeps_order_and_everything_else():
    facts = {}
    group = DuplicateGroup(["b", "a"], facts)
    assert best_of_groups([group], ["a", "b", "c"]) == ["b", "c"]
    assert best_of_groups([], ["a"]) == ["a"]


def test_large_sets_find_feature_copies_with_an_inverted_index(monkeypatch):
    """Above EXACT_NEIGHBOURS_UP_TO photos the descriptor search is IVF, not n^2; planted copies are all found."""
    monkeypatch.setattr(duplicates, "EXACT_NEIGHBOURS_UP_TO", 500)
    rng = np.random.default_rng(0)
    n, copies = 3000, 100
    x = rng.random((n, 64)).astype(np.float32) ** 4
    planted = {(int(i), n - copies + j) for j, i in enumerate(rng.choice(n - copies, copies, replace=False))}
    for i, j in planted:
        x[j] = x[i] * np.exp(rng.normal(0, 0.01, 64))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    hashes = rng.integers(0, 2**63, n, dtype=np.uint64)  # far apart: only the features can find the copies
    pairs = duplicates.duplicate_pairs(hashes, x)
    assert {(i, j) for i, j, _, _ in pairs} == planted


def test_the_original_beats_an_enlarged_copy_and_the_oldest_breaks_ties(tmp_path):
    """scenes6-like: a 150 px original and a 300 px copy enlarged from it; and a true 300 px photo."""
    import os

    big = scene(tmp_path / "big_original.jpg", seed=4).resize((300, 225), Image.LANCZOS)
    big.save(tmp_path / "big_original.jpg", quality=92)
    small = big.resize((150, 112), Image.LANCZOS)
    small.save(tmp_path / "original.jpg", quality=92)
    small.resize((300, 224), Image.BICUBIC).save(tmp_path / "enlarged.jpg", quality=85)
    assert not duplicates.adds_detail("enlarged.jpg", "original.jpg", tmp_path)
    assert duplicates.adds_detail("big_original.jpg", "original.jpg", tmp_path)

    report = run(find_duplicates(["enlarged.jpg", "original.jpg"], tmp_path))
    (group,) = report.groups
    assert group.best == "original.jpg" and group.enlarged == {"enlarged.jpg": "original.jpg"}
    assert "enlarged copy" in group.why_best()

    report = run(find_duplicates(["original.jpg", "big_original.jpg"], tmp_path))
    assert report.groups[0].best == "big_original.jpg" and "highest resolution" in report.groups[0].why_best()

    (tmp_path / "copy.jpg").write_bytes((tmp_path / "original.jpg").read_bytes())
    os.utime(tmp_path / "original.jpg", (1_600_000_000, 1_600_000_000))
    report = run(find_duplicates(["copy.jpg", "original.jpg"], tmp_path))
    assert report.groups[0].best == "original.jpg" and report.groups[0].why_best() == "oldest file"
