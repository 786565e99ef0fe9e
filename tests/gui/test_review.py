"""Doubtful first: the image model's doubtful-first order for the grid, and the Review Doubtful dock."""

from __future__ import annotations

from engine.cluster import UNSORTED
from gui.grid_view import PhotoGrid
from gui.image_model import ConfidenceRole, PathRole
from gui.review import (
    ALL_CLUSTERS,
    DoubtfulModel,
    RepresentativeRole,
    RepresentativesModel,
    ReviewDock,
    doubtful,
)


def _spread_confidence(session):
    """Distinct, known confidences (the made-up features give near-ties)."""
    for i, p in enumerate(session.images):
        session.confidence[p] = ((i * 7) % 24) / 24


def test_doubtful_first_puts_the_least_confident_first_and_serves_the_grid(sorted_window, cluster_of, qtmodeltester):
    w, s = sorted_window, sorted_window.session
    _spread_confidence(s)
    red = cluster_of(s, "red")
    w.images.show_cluster(red)
    image_order = w.images.paths()
    w.images.set_doubtful_first(True)
    qtmodeltester.check(w.images)
    shown = [w.images.index(r).data(ConfidenceRole) for r in range(w.images.rowCount())]
    assert shown == sorted(shown) and len(shown) == len(s.members(red))
    assert w.images.paths() == sorted(s.members(red), key=lambda p: s.confidence[p])
    assert all(w.images.row_of(p) == r for r, p in enumerate(w.images.paths()))
    # a photo moved here by hand is decided: it goes last whatever its confidence
    moving = next(p for p in s.images if p.startswith("sky/"))
    s.confidence[moving] = 0.0
    w.editor.move([moving], red)
    assert w.images.paths()[-1] == moving
    qtmodeltester.check(w.images)
    w.editor.stack.undo()
    assert moving not in w.images.paths()
    w.images.set_doubtful_first(False)
    assert w.images.paths() == image_order  # image order back
    grid = PhotoGrid()  # the grid shows it through its plain proxy, as the window does
    grid.setModel(w.plain_images)
    grid.resize(600, 400)
    grid.show()
    assert grid.visible_paths() <= set(w.images.paths())


def test_doubtful_first_keeps_the_selection_and_reads_no_row_through_python(sorted_window, monkeypatch):
    """The order is worked out in numpy (a sort proxy compared rows in Python: 27 s at 100,000 photos),
    and it is a layout change, so the selected photos stay selected wherever they move."""
    from gui.image_model import ImageModel

    w, s = sorted_window, sorted_window.session
    _spread_confidence(s)
    chosen = s.images[1:4]
    w.select_paths(chosen)
    reads = []
    real = ImageModel.data
    monkeypatch.setattr(ImageModel, "data", lambda self, index, role=0: reads.append(role) or real(self, index, role))
    w.grid.hide()  # only the reordering is counted, not the repaint of the shown rows
    w.doubtful_first_action.setChecked(True)
    assert reads.count(ConfidenceRole) == 0 and len(reads) < len(s.images)
    assert w.images.paths() == s.by_doubt(list(s.images))
    assert sorted(w.selected_paths()) == sorted(chosen)
    # new confidences (as a regroup brings) reorder the rows with the change that comes with them
    s.confidence = {p: 1 - c for p, c in s.confidence.items()}
    w.editor.move([chosen[0]], next(iter(s.names)))
    assert w.images.paths() == s.by_doubt(list(s.images))
    assert sorted(w.selected_paths()) == sorted(chosen)


def test_doubtful_takes_the_worst_of_every_cluster(sorted_window):
    s = sorted_window.session
    _spread_confidence(s)
    picked = doubtful(s, 2)
    assert len(picked) == 2 * len(s.names)
    assert [s.confidence[p] for p in picked] == sorted(s.confidence[p] for p in picked)
    for cid in s.names:
        worst = sorted(s.members(cid), key=lambda p: s.confidence[p])[:2]
        assert set(worst) <= set(picked)
    s.pinned.add(picked[0])
    assert picked[0] not in doubtful(s, 2)
    assert len(doubtful(s, 3, cluster=min(s.names))) == 3


def test_models_pass_the_model_tester(sorted_window, qtmodeltester):
    w = sorted_window
    model = DoubtfulModel(w.loader)
    model.set_session(w.session)
    qtmodeltester.check(model)
    row0 = model.index(0)
    assert row0.data(RepresentativeRole) == w.session.representative(w.session.labels[row0.data(PathRole)])
    assert "%" in row0.data()
    assert model.mimeData([row0]).hasFormat("application/x-photocluster-image-ids")
    reps = RepresentativesModel(w.loader)
    reps.set_session(w.session)
    qtmodeltester.check(reps)
    assert reps.rowCount() == len(w.session.names)
    for row in range(reps.rowCount()):
        cid = reps.cluster_id(row)
        assert reps.index(row).data(RepresentativeRole) == w.session.representative(cid)
    model.set_session(None)
    reps.set_session(None)
    assert model.rowCount() == reps.rowCount() == 0


def test_review_dock(sorted_window, qtbot, cluster_of):
    w, s = sorted_window, sorted_window.session
    _spread_confidence(s)
    dock = ReviewDock(w.editor, w.loader, w)
    qtbot.addWidget(dock)
    dock.resize(900, 600)
    dock.set_session(s)
    dock.show()
    per = dock.per_cluster_spin.value()
    assert dock.model.rowCount() == min(per, 8) * 3
    assert "most doubtful first" in dock.title.text()
    dock.per_cluster_spin.setValue(2)
    assert dock.model.rowCount() == 6
    # a representative narrows the list to its cluster; a second click shows all again
    first = dock.representatives.index(0)
    dock._representative_clicked(first)
    cid = dock.representatives.cluster_id(0)
    assert dock.model.cluster == cid and all(s.labels[p] == cid for p in dock.model.paths())
    dock._representative_clicked(first)
    assert dock.model.cluster == ALL_CLUSTERS
    # selecting from outside does not echo; picking in the dock does
    target = dock.model.paths()[:2]
    with qtbot.assertNotEmitted(dock.imagesSelected):
        dock.select(target)
    assert dock.selected_paths() == target
    with qtbot.waitSignal(dock.imagesSelected) as picked:
        dock.select([])
        dock.grid.selectionModel().select(dock.model.index(0), dock.grid.selectionModel().SelectionFlag.Select)
    assert picked.args == [[dock.model.path(0)]]
    # moving goes through the window's undo stack, and the list follows
    moving = dock.selected_paths()
    dock.move_selection_to(UNSORTED)
    assert s.labels[moving[0]] == UNSORTED and w.editor.stack.count() == 1
    assert moving[0] not in dock.model.paths()
    w.undo_action.trigger()
    assert moving[0] in dock.model.paths()
    dock.select(dock.model.paths()[:1])
    new = dock.new_cluster_from_selection()
    assert new in s.names and w.editor.stack.undoText().startswith("New cluster")
    dock.grab()  # paints without error


def test_hidden_dock_catches_up_when_shown(sorted_window, qtbot, cluster_of):
    """A hidden review dock does not re-rank every photo on each edit; it catches up once shown."""
    w, s = sorted_window, sorted_window.session
    _spread_confidence(s)
    dock = ReviewDock(w.editor, w.loader, w)
    qtbot.addWidget(dock)
    dock.set_session(s)
    moving = dock.model.paths()[:2]
    with qtbot.assertNotEmitted(dock.model.modelReset):
        w.editor.move(moving, UNSORTED)
    assert dock.model.paths()[:2] == moving  # stale while nobody can see it
    with qtbot.waitSignal(dock.model.modelReset):
        dock.show()
    assert not set(moving) & set(dock.model.paths()) and dock.model.paths() == doubtful(s, dock.model.per_cluster)
