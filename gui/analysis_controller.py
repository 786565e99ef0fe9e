"""The three background jobs on a folder: analyse, regroup with new settings, split a cluster.

The controller starts them (``workers.start_job``), keeps at most one of each,
and drops a result that no longer fits: computed for another folder, from
other features, or (a split) from an older revision of the sorting. It only
talks to the ``FolderDocument`` and the ``Editor``; what the person sees is
said through its signals.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from engine.cancel import Cancelled
from engine.guided import session_pins
from engine.live_sorting import LiveSorting
from engine.progressive import FIRST_FIT
from engine.session import Regroup, Session
from engine.weights import WeightsError, WeightsSource

from .folder_document import FolderDocument
from .jobs import (
    AnalysisResult,
    ClusterResult,
    LiveGroups,
    Planner,
    analysis_job,
    cached_job,
    cluster_job,
    split_job,
)
from .markup import duration, escape
from .undo import Editor
from .workers import GeneratorWorker, GuiCall, hand_over_gil, release_in_background, start_job

RECLUSTER_DELAY_MS = 350


class AnalysisController(QObject):
    progress = Signal(object)  # an analysis ``Progress``
    status = Signal(str)  # a line for the status bar
    problem = Signal(str, str)  # banner kind, rich text
    skippedFound = Signal(str)  # the analysis left files out; extra rich text for the banner
    weightsMissing = Signal(object)  # the ``WeightsError``
    imagesChanged = Signal()  # the analysis found other photos than were shown
    busyChanged = Signal()  # a job started or ended
    groupsUpdated = Signal(int)  # the running analysis put its groups so far on screen (how many)
    cachedLoaded = Signal(bool)  # a reopened folder's features came from the cache (True), or not all were there

    def __init__(
        self,
        document: FolderDocument,
        editor: Editor,
        wanted_settings: Callable[[], dict],
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.document, self.editor, self.wanted_settings = document, editor, wanted_settings
        self.analysis: GeneratorWorker | None = None
        self.recluster_worker: GeneratorWorker | None = None
        self.split_worker: GeneratorWorker | None = None
        self.cached_worker: GeneratorWorker | None = None  # loading a reopened folder's features from the cache
        self._recluster_again = False
        self._analysis_started = 0.0
        self.live: LiveSorting | None = None  # puts the groups so far into the Session while an analysis runs
        self.first_fit: int | None = FIRST_FIT  # photos analysed before the first groups are shown
        self._stage = ""  # the running analysis' last stage ("model" while the image model loads)
        self.last_result: AnalysisResult | None = None
        self.recluster_timer = QTimer(self, singleShot=True, interval=RECLUSTER_DELAY_MS)
        self.recluster_timer.timeout.connect(self.recluster)
        self._gui_call = GuiCall(self)

    @property
    def analysing(self) -> bool:
        return self.analysis is not None

    def workers(self) -> list[GeneratorWorker]:
        return [
            w for w in (self.analysis, self.recluster_worker, self.split_worker, self.cached_worker) if w is not None
        ]

    def cancel_all(self, wait: bool = False) -> None:
        for worker in self.workers():
            worker.cancel()
            if wait:
                worker.wait()

    # ---- analysing ------------------------------------------------------------------
    def analyse(self, weights: WeightsSource) -> bool:
        session = self.document.session
        if session is None or self.analysis is not None:
            return False
        self._analysis_started = time.monotonic()
        self.live = None
        self._stage = "model"
        self.analysis = start_job(
            analysis_job,
            session.root,
            weights,
            self.wanted_settings(),
            self.first_fit,
            progress=lambda step: self._analysis_progress(step, session),
            done=lambda result: self._analysis_done(result, session),
            failed=self._analysis_failed,
            finished=self._analysis_finished,
            plan=self._planner(session),
        )
        self.busyChanged.emit()
        return True

    def cancel_analysis(self) -> bool:
        if self.analysis is not None and not self.analysis.cancelled:
            self.analysis.cancel()
            self.status.emit(
                "Stopping once the image model has loaded; it stays loaded, so the next analysis starts at once…"
                if self._stage == "model"
                else "Stopping after the current batch…"
            )
            self.busyChanged.emit()
            return True
        return False

    def _analysis_progress(self, step, session: Session) -> None:
        progress = step.progress if isinstance(step, LiveGroups) else step
        self._stage = progress.stage
        if self.analysis is None or self.analysis.cancelled:
            return
        if isinstance(step, LiveGroups):
            self._show_live(step, session)
        self.progress.emit(progress)

    def _show_live(self, step: LiveGroups, session: Session) -> None:
        """The groups so far into the Session, as one Change: the views update rows, they do not reset."""
        if session is not self.document.session or self.editor.read_only:
            return
        if self.live is None or self.live.paths is not step.paths:
            self.live = LiveSorting(session, step.paths)
        self.live.update(step.groups)
        self.groupsUpdated.emit(step.groups.k)

    def _analysis_done(self, result: AnalysisResult, session: Session) -> None:
        if session is not self.document.session:
            return  # the folder was closed meanwhile
        replaced = [self.last_result, session.features, self.live]  # let go off the GUI thread, at the end
        self.last_result = result
        analysis = result.analysis
        self.live = None
        if analysis.images is not session.images and analysis.images != session.images:
            session.set_analysis(analysis.images, analysis.features)
            self.imagesChanged.emit()
        else:  # the same photos: no "photos changed" reset, so the grid and the selection stay where they are
            session.features = analysis.features
        self.editor.apply_clustering(result.clustering, result.settings, result.regroup)
        release_in_background(replaced)
        _keep_from_collector()
        self.document.set_skipped(analysis.skipped)
        self.document.schedule_save()
        found = result.clustering.k
        text = (
            f"Sorted {len(analysis.images):,} photos into {found} cluster{'s' if found != 1 else ''} "
            f"in {duration(time.monotonic() - self._analysis_started)}"
        )
        if analysis.cached:
            text += f" ({analysis.extracted:,} analysed, {analysis.cached:,} remembered from before)"
        if analysis.engine and analysis.extracted:
            text += f" with {analysis.engine}"
        self.status.emit(text + ".")
        problems = list(analysis.warnings)
        if self.document.skipped:
            self.skippedFound.emit(" ".join(problems))
        elif problems:
            self.problem.emit("warning", " ".join(problems))
        if result.settings != self.wanted_settings():
            self.recluster_timer.start()

    def _analysis_failed(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self.status.emit("Analysis cancelled. What was analysed so far is remembered for next time.")
        elif isinstance(exc, WeightsError):
            self.weightsMissing.emit(exc)
            self.status.emit("The analysis could not start.")
        else:
            self.problem.emit("error", f"<b>The analysis failed:</b> {escape(str(exc) or type(exc).__name__)}")
            self.status.emit("The analysis failed.")

    def _analysis_finished(self) -> None:
        self.analysis, self.live = None, None
        self.busyChanged.emit()

    # ---- reopening -------------------------------------------------------------------
    def load_cached(self, weights: WeightsSource) -> bool:
        """Take the open folder's features from the feature cache (no model, no Analyse), if every photo's is there."""
        session = self.document.session
        if session is None or session.features is not None or self.cached_worker is not None or not session.images:
            return False
        images = list(session.images)
        self.cached_worker = start_job(
            cached_job,
            session.root,
            images,
            weights,
            done=lambda features: self._cached_done(features, session, images),
            failed=lambda exc: self.cachedLoaded.emit(False),
            finished=self._cached_finished,
        )
        self.busyChanged.emit()
        return True

    def _cached_done(self, features, session: Session, images: list[str]) -> None:
        if session is not self.document.session:
            return
        found = features is not None and session.features is None and session.images == images
        if found:
            session.set_features(features)
            _keep_from_collector()
            if not session.names:  # analysed before but never sorted (or the sorting was lost): group now
                self.recluster()
        self.cachedLoaded.emit(found)

    def _cached_finished(self) -> None:
        self.cached_worker = None
        self.busyChanged.emit()

    # ---- regrouping -----------------------------------------------------------------
    def settings_changed(self) -> None:
        """The toolbar's clustering settings changed: regroup soon, or remember them for the analysis."""
        session = self.document.session
        if session is None:
            return
        if session.features is None:
            self.status.emit("The new settings apply when you analyse.")
            session.settings.update(self.wanted_settings())
            self.document.schedule_save()
            return
        if self.analysis is None:
            self.recluster_timer.start()

    def recluster(self) -> None:
        """Group the analysed photos again with the toolbar's settings (no re-analysis)."""
        session = self.document.session
        if session is None or session.features is None or self.analysis is not None:
            return
        if self.recluster_worker is not None:
            self._recluster_again = True
            return
        features = session.features
        if len(features) == 0:
            return
        self.recluster_worker = start_job(
            cluster_job,
            features,
            self.wanted_settings(),
            session_pins(session),
            done=lambda result: self._recluster_done(result, session),
            failed=self._recluster_failed,
            finished=self._recluster_finished,
            plan=self._planner(session),
        )
        self.status.emit("Regrouping photos…")
        self.busyChanged.emit()

    def _recluster_done(self, result: ClusterResult, session: Session) -> None:
        if session is not self.document.session or result.features is not session.features:
            return
        self.editor.apply_clustering(result.clustering, result.settings, result.regroup)
        _keep_from_collector()
        steered = f" {len(session.pinned)} photos placed by hand steered the rest." if result.clustering.fixed else ""
        self.status.emit(
            f"Regrouped into {result.clustering.k} clusters ({_method_label(result.settings['method'])}, "
            f"{'automatic' if result.settings['clusters'] == 'auto' else 'chosen'} number).{steered} "
            "Ctrl+Z goes back."
        )

    def _recluster_failed(self, exc: BaseException) -> None:
        self.problem.emit("error", f"<b>Regrouping failed:</b> {escape(str(exc))}")

    def _recluster_finished(self) -> None:
        self.recluster_worker = None
        self.busyChanged.emit()
        if self._recluster_again:
            self._recluster_again = False
            self.recluster()

    def _planner(self, session: Session) -> Planner:
        """A job's ``plan``: the clustering worked out in its worker thread on a snapshot of ``session``
        taken by the GUI thread, so the hand-over there only applies it (at 100,000 photos 60 ms of
        Python fewer on the GUI thread; the editor checks it is still current)."""

        def plan(clustering, settings: dict, images: list[str] | None, cancel) -> Regroup | None:
            copy = self._gui_call(session.snapshot, cancel)
            if images is not None and not _same_paths(images, copy.images):
                return None  # the analysis found other photos: the hand-over changes the list first
            try:
                return copy.plan_clustering(clustering, settings, hand_over_gil)
            except ValueError:  # does not fit the photos (any more): the GUI thread's hand-over says why
                return None

        return plan

    # ---- splitting ------------------------------------------------------------------
    def split(self, cid: int, parts: int) -> None:
        """Split cluster ``cid`` in ``parts`` by k-means on its photos, computed in the analysis process."""
        session = self.document.session
        if session is None or self.split_worker is not None:
            return
        members = list(session.members(cid))
        if session.features is None:
            self.problem.emit("info", "Splitting needs the photos' features: press Analyse first.")
            return
        if len(members) < parts:
            self.problem.emit("info", f"{escape(session.name(cid))} has fewer than {parts} photos.")
            return
        index = {p: i for i, p in enumerate(session.images)}
        features = session.features[[index[p] for p in members]]
        revision = self.document.revision
        self.split_worker = start_job(
            split_job,
            session.root,
            dict(session.names),
            cid,
            members,
            features,
            parts,
            done=lambda change: self._split_done(change, session, revision),
            failed=self._split_failed,
            finished=self._split_finished,
        )
        self.status.emit(f"Splitting {session.name(cid)}…")
        self.busyChanged.emit()

    def _split_done(self, change, session, revision: int) -> None:
        if session is not self.document.session:
            return
        if revision != self.document.revision:
            self.status.emit("The sorting changed while the split was computed; split again.")
            return
        self.editor.apply(change)
        self.status.emit(f"{change.text}. Ctrl+Z goes back.")

    def _split_failed(self, exc: BaseException) -> None:
        self.problem.emit("info", f"Cannot split: {escape(str(exc))}.")

    def _split_finished(self) -> None:
        self.split_worker = None
        self.busyChanged.emit()


METHODS = (("k-means", "kmeans"), ("Agglomerative", "agglomerative"), ("HDBSCAN", "hdbscan"))


def _same_paths(a: list[str], b: list[str], slice_: int = 5000) -> bool:
    """``a == b`` in slices that hand the GIL over between them (28 ms in one go at 100,000 photos)."""
    if a is b:
        return True
    if len(a) != len(b):
        return False
    for s in range(0, len(a), slice_):
        if a[s : s + slice_] != b[s : s + slice_]:
            return False
        hand_over_gil()
    return True


def _keep_from_collector() -> None:
    """Take what a hand-over just made (a regroup's undo record holds a tuple per photo) out of the
    garbage collector's walks: a full collection walks it in whichever thread allocates next, often
    the autosave thread, holding the GIL, and so the window, meanwhile (a probe with 100,000 photos:
    an 83 ms gap on the main thread, 13 ms once frozen). ``freeze`` is constant time; what is frozen
    is still freed by reference counting when it goes."""
    gc.freeze()


def _method_label(key: str) -> str:
    return next((label for label, k in METHODS if k == key), key)
