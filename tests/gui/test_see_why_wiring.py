"""The see-why views wired into the main window (issue #5): map <-> grid selection, doubtful first, stacks, export."""

from PIL import Image

from gui.session_model import PathRole


def test_wiring(sorted_window, qtbot, cluster_of, tmp_path):
    w, s = sorted_window, sorted_window.session
    w.map_dock.show()
    qtbot.waitUntil(lambda: len(w.map_dock.view.paths) == len(s.images), timeout=60_000)
    reds = [p for p in s.images if p.startswith("red/")][:3]
    w.map_dock.view.select(reds)
    w.map_dock.imagesSelected.emit(reds)  # as a click/lasso would
    assert w.selected_paths() == reds
    w.select_paths([])
    sky = [p for p in s.images if p.startswith("sky/")][:2]
    w.select_paths(sky)
    assert w.map_dock.selected_paths() == sky  # grid -> map
    w.doubtful_first_action.setChecked(True)
    assert w.images.doubtful_first and w.selected_paths() == sorted(sky, key=lambda p: s.confidence[p])
    w.move_selection(cluster_of(s, "red"))
    assert all(s.labels[p] == cluster_of(s, "red") for p in sky)
    w.undo_action.trigger()
    w.doubtful_first_action.setChecked(False)
    assert w.grid.model() is w.plain_images and not w.images.doubtful_first
    w.review_action.trigger()  # as a person opens it: in front of the map's tab
    assert w.review_dock.isVisible() and w.review_dock.model.rowCount() > 0
    shown = [w.review_dock.model.index(r).data(PathRole) for r in range(w.review_dock.model.rowCount())]
    assert set(shown) <= set(s.images)  # the review lists photos of this folder
    # duplicates: copy a photo, find, stack, export best only
    Image.open(s.root / "red/red_0.jpg").save(s.root / "red/red_0_copy.jpg", quality=60)
    w.open_folder(s.root, wait=True)
    w.show_duplicates()
    qtbot.waitUntil(lambda: bool(w.duplicate_groups), timeout=30_000)
    w.stack_action.setChecked(True)
    shown = w.grid.model().paths()
    assert ("red/red_0_copy.jpg" in shown) != ("red/red_0.jpg" in shown), w.duplicate_groups
    w.select_paths([w.duplicate_groups[0].best])
    w.show_feature_maps()
    from gui.feature_maps import FeatureMapsDialog

    (maps,) = [d for d in w.findChildren(FeatureMapsDialog) if d.isVisible()]
    assert maps.path == str(w.session.root / w.duplicate_groups[0].best)
    import numpy as np

    from engine.cluster import cluster_features
    from gui.export_dialog import ExportDialog

    feats = np.random.default_rng(0).random((len(w.session.images), 1024)).astype(np.float32)
    w.session.set_analysis(w.session.images, feats)
    w.editor.apply_clustering(cluster_features(feats, k=2), {"clusters": 2, "method": "kmeans"})
    d = ExportDialog(w.session, w, duplicate_groups=w.duplicate_groups)
    qtbot.addWidget(d)
    qtbot.waitUntil(lambda: d.plan is not None, timeout=10_000)
    n = len(d.plan.items)
    d.best_only_box.setChecked(True)
    qtbot.waitUntil(lambda: d.plan is not None and len(d.plan.items) == n - 1, timeout=10_000)
    qtbot.waitUntil(lambda: bool(w.map_dock.view.paths) and not w.map_dock.busy(), timeout=60_000)
    assert sorted(w.map_dock.view.paths) == sorted(w.session.images)  # new features: laid out again, every photo
    assert "red/red_0_copy.jpg" in w.map_dock.view.paths
