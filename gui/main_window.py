"""The main window: it assembles the parts and routes what the person does to them.

What is open lives in ``FolderDocument`` (Session, lock, autosave, skipped
files, near-duplicates, revision); the background jobs in
``AnalysisController``; the actions and when they are enabled in ``actions``;
menus and toolbar in ``menus``; the status bar in ``StatusArea``; the first
page in ``WelcomePage``. Every edit goes through the ``Editor`` (undoable).
This is the only thread that touches the Session and the widgets.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import cast

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from engine.cancel import Cancelled
from engine.cluster import UNSORTED
from engine.session import Change, Session
from engine.weights import WeightsError, resolve_weights

from . import help as help_pages
from . import menus
from . import settings as app_settings
from .actions import State, build_actions, update_enabled
from .analysis_controller import AnalysisController
from .banner import Banner
from .cluster_list import ClusterList
from .cluster_model import ClusterIdRole, ClusterModel
from .duplicates_view import DuplicatesDialog, StackDuplicatesProxy
from .feature_maps import FeatureMapsDialog
from .folder_document import FolderDocument, Opened, Prepared, prepare_folder
from .grid_view import PhotoGrid
from .icons import app_icon, icon
from .image_model import ALL, ImageModel, PathRole
from .k_plot import KChoicePanel
from .markup import escape
from .review import ReviewDock
from .session_model import PhotoProxy
from .similarity_map import SimilarityMapDock
from .skipped_dialog import SkippedDialog
from .status_area import StatusArea
from .thumbnails import ThumbnailLoader
from .undo import Editor
from .welcome_page import WelcomePage
from .workers import GeneratorWorker, start_job

log = logging.getLogger(__name__)


AFTER_PAINT_MS = 50  # an opened folder's jobs start this long after it is shown (see _show_opened)


class MainWindow(QMainWindow):
    # made from the action table (actions.ACTIONS) and by menus.build_menus / build_toolbar
    about_action: QAction
    analyse_action: QAction
    cancel_action: QAction
    delete_action: QAction
    duplicates_action: QAction
    export_action: QAction
    feature_maps_action: QAction
    guide_action: QAction
    shortcuts_action: QAction
    new_cluster_action: QAction
    open_action: QAction
    quit_action: QAction
    rename_action: QAction
    regroup_rest_action: QAction
    reset_pins_action: QAction
    show_all_action: QAction
    skipped_action: QAction
    zoom_in_action: QAction
    zoom_out_action: QAction
    recent_menu: QMenu
    move_menu: QMenu
    merge_menu: QMenu
    split_menu: QMenu
    k_spin: QSpinBox
    method_combo: QComboBox
    size_slider: QSlider
    toolbar: QToolBar
    toolbar_labels: list[QAction]
    folderOpened = Signal(bool)  # a folder asked for with open_folder() is shown (True) or could not be (False)

    def __init__(self, weights: str | None = None, parent=None):
        super().__init__(parent)
        self.weights_option = weights
        self.document = FolderDocument(self)
        self.document.bound.connect(self._bind)
        self.document.changed.connect(self._session_changed)
        self.document.saveFailed.connect(lambda text: self.banner.show_message("warning", text))
        self.loader = ThumbnailLoader(self)
        self.editor = Editor(self)
        self.images = ImageModel(self.loader, self)
        self.editor.refused.connect(self._edit_refused)
        self.clusters = ClusterModel(self.loader, self.editor, self)
        self.help_window: QDialog | None = None  # the last shortcuts sheet or guide opened
        self._analyse_when_loaded = False  # Analyse asked for (or due) while the cached analysis was being read
        self.jobs = AnalysisController(self.document, self.editor, self._wanted_settings, self)
        self.opening: GeneratorWorker | None = None  # scanning and loading a folder asked for (open_folder)
        self._opening_token = 0  # which open_folder() call the running one is

        self.setWindowTitle("PhotoCluster")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self._build_see_why()
        self._build_actions()
        menus.build_menus(self)
        menus.build_toolbar(self)
        self._build_central()
        self.status_area = StatusArea(self.statusBar(), self.cancel_action)
        self.status_text, self.progress = self.status_area.text, self.status_area.progress
        self._connect_jobs()
        self._restore_view_settings()
        self._update_actions()
        _settle_memory()

    # ==== what is open ============================================================
    @property
    def session(self) -> Session | None:
        return self.document.session

    @property
    def skipped(self) -> list:
        return self.document.skipped

    @property
    def duplicate_groups(self) -> list:
        return self.document.duplicate_groups

    @property
    def read_only(self) -> bool:
        """True when another PhotoCluster window holds this folder: nothing here is saved."""
        return self.document.read_only

    # ==== building ================================================================
    def _build_see_why(self) -> None:
        """The similarity map and doubtful-photo docks, and the grid's proxies."""
        # What the grid shows when it neither sorts nor stacks: a proxy that does neither, so the view asks row
        # counts and indexes of C++, not of the Python model. Qt's list view walks every row on an all-rows
        # dataChanged (each regroup) and on every layout, and through a Python rowCount that is 100,000 Python
        # calls: 120-160 ms of the GUI thread at 100,000 photos, 15 ms through this proxy (bench/scale.py).
        self.plain_images = PhotoProxy(self)
        self.plain_images.setDynamicSortFilter(False)
        self.plain_images.setSourceModel(self.images)
        # hides each group's extra copies behind its best; follows the image model only while shown (see
        # _grid_order_changed)
        self.stacked_images = StackDuplicatesProxy(self)
        self.map_dock = SimilarityMapDock(self.editor, self.loader, self)
        self.review_dock = ReviewDock(self.editor, self.loader, self)
        for dock in (self.map_dock, self.review_dock):
            dock.setVisible(False)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            dock.imagesSelected.connect(self.select_paths)
            dock.imageActivated.connect(self.show_preview)
        self.tabifyDockWidget(self.map_dock, self.review_dock)
        for dock in (self.map_dock, self.review_dock):
            dock.visibilityChanged.connect(lambda shown, d=dock: self._size_dock(d) if shown else None)
        self.map_action = self.map_dock.toggleViewAction()
        self.map_action.setText("Similarity &Map")
        self.map_action.setShortcut(QKeySequence("Ctrl+M"))
        self.review_action = self.review_dock.toggleViewAction()
        self.review_action.setText("&Review Doubtful Photos")
        self.review_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        for dock, action in ((self.map_dock, self.map_action), (self.review_dock, self.review_action)):
            action.triggered.connect(lambda on, dock=dock: on and dock.raise_())  # in front, not a hidden tab
        self.doubtful_first_action = QAction("&Doubtful First", self, checkable=True)
        self.doubtful_first_action.setStatusTip("Show the photos that fit their cluster least first")
        self.doubtful_first_action.toggled.connect(self._grid_order_changed)
        self.stack_action = QAction("S&tack Near-Duplicates", self, checkable=True)
        self.stack_action.setStatusTip("Show each group of near-duplicates as one photo (Find Near-Duplicates first)")
        self.stack_action.toggled.connect(self._grid_order_changed)

    def _build_actions(self) -> None:
        self.actions_by_name = build_actions(self)
        self.undo_action = self.editor.stack.createUndoAction(self, "Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setIcon(icon("undo"))
        self.redo_action = self.editor.stack.createRedoAction(self, "Redo")
        self.redo_action.setShortcuts(redo_shortcuts())
        self.redo_action.setIcon(icon("redo"))
        self.analyse_on_open_action = QAction("Analyse &When a Folder Opens", self, checkable=True)
        self.analyse_on_open_action.setChecked(app_settings.analyse_on_open())
        self.analyse_on_open_action.setStatusTip(
            "Start the analysis by itself when a folder opens (what was analysed before comes from the cache)"
        )
        self.analyse_on_open_action.toggled.connect(app_settings.set_analyse_on_open)
        self.move_actions = []
        for n in range(10):
            action = QAction(f"Send to cluster {n}" if n else "Send to Unsorted", self)
            action.setShortcut(QKeySequence(str(n)))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _=False, number=n: self.send_to_numbered(number))
            self.move_actions.append(action)
        for action in (self.undo_action, self.redo_action):
            self.addAction(action)

    def _build_central(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.banner = Banner()
        self.banner.action_clicked.connect(self._banner_action)
        layout.addWidget(self.banner)
        self.pages = QStackedWidget()
        self.welcome = WelcomePage()
        self.welcome.openRequested.connect(self.choose_folder)
        self.welcome.folderChosen.connect(self.open_folder)
        self.pages.addWidget(self.welcome)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(1)
        side = QWidget()
        side.setObjectName("side")
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.setSpacing(0)
        self.cluster_view = ClusterList()
        self.cluster_view.setModel(self.clusters)
        self.cluster_view.selectionModel().currentChanged.connect(self._cluster_chosen)
        self.cluster_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.cluster_view.customContextMenuRequested.connect(lambda pos: menus.cluster_menu(self, pos))
        side_layout.addWidget(self.cluster_view)
        self.k_choice = KChoicePanel()
        side_layout.addWidget(self.k_choice)
        self.splitter.addWidget(side)
        main = QWidget()
        main_layout = QVBoxLayout(main)
        main_layout.setContentsMargins(0, 0, 0, 0)
        main_layout.setSpacing(0)
        self.grid_title = QLabel(objectName="gridTitle")
        self.grid_title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens
        self.grid_subtitle = QLabel(objectName="gridSubtitle")
        self.grid_subtitle.setWordWrap(True)
        main_layout.addWidget(self.grid_title)
        main_layout.addWidget(self.grid_subtitle)
        self.grid = PhotoGrid()
        self.grid.setModel(self.plain_images)
        self.grid.activated_path.connect(self.show_preview)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(lambda pos: menus.grid_menu(self, pos))
        self._connect_grid_selection()
        for action in self.move_actions:
            self.grid.addAction(action)
        main_layout.addWidget(self.grid, 1)
        self.splitter.addWidget(main)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 1000])
        self._side_width_chosen = False
        self.splitter.splitterMoved.connect(lambda *_: setattr(self, "_side_width_chosen", True))
        self.pages.addWidget(self.splitter)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)

    def _size_dock(self, dock) -> None:
        """A dock opens at about a third of the window (it used to open at whatever its contents asked)."""
        if not dock.isFloating() and dock.width() < self.width() // 3:
            self.resizeDocks([dock], [max(320, self.width() * 3 // 8)], Qt.Orientation.Horizontal)

    def _connect_grid_selection(self) -> None:
        self.grid.selectionModel().selectionChanged.connect(self._update_actions)
        self.grid.selectionModel().selectionChanged.connect(self._selection_to_docks)
        self.grid.selectionModel().selectionChanged.connect(self._show_selected_count)
        self.grid.model().modelReset.connect(self._show_selected_count)
        self.grid.model().rowsRemoved.connect(self._show_selected_count)

    def _show_selected_count(self) -> None:
        if hasattr(self, "status_area"):
            self.status_area.set_selected(
                len(self.grid.selectionModel().selectedIndexes()), self.grid.model().rowCount()
            )

    def _connect_jobs(self) -> None:
        jobs = self.jobs
        jobs.progress.connect(self.status_area.show_progress)
        jobs.status.connect(self.set_status)
        jobs.problem.connect(self.banner.show_message)
        jobs.skippedFound.connect(self._show_skipped_banner)
        jobs.weightsMissing.connect(self._show_weights_error)
        jobs.imagesChanged.connect(self._images_changed)
        jobs.busyChanged.connect(self._busy_changed)
        jobs.groupsUpdated.connect(self.status_area.set_groups)
        jobs.cachedLoaded.connect(self._cached_loaded)
        self.k_spin.valueChanged.connect(jobs.settings_changed)
        self.method_combo.currentIndexChanged.connect(jobs.settings_changed)

    def _restore_view_settings(self) -> None:
        store = app_settings.settings()
        size = int(store.value("thumbnailSize", menus.SIZES[2]))
        self.size_slider.setValue(max(menus.SIZES[0], min(menus.SIZES[1], size)))
        self.size_slider.valueChanged.connect(self._thumbnail_size_changed)
        self._thumbnail_size_changed(self.size_slider.value())
        geometry = store.value("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)

    # ==== opening ===================================================================
    def choose_folder(self) -> None:
        start = app_settings.recent_folders()[:1] or [str(Path.home())]
        folder = QFileDialog.getExistingDirectory(self, "Open a Folder of Photos", start[0])
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str | Path, wait: bool = False) -> bool:
        """Scan ``folder`` and show its photos, with the sorting saved last time if there is one. The scan and
        the session load run in a worker thread while the window goes on (``wait``: here, for scripts and
        tests). False if ``folder`` is not a folder that can be opened (said in the banner), else True."""
        root = Path(folder).expanduser()
        if not root.is_dir():
            self.banner.show_message("error", f"<b>{escape(str(root))}</b> is not a folder that can be opened.")
            return False
        self.close_folder()
        self._cancel_opening()
        if wait:
            try:
                opened = self.document.open(root)
            except OSError as exc:
                self._open_failed(root, exc)
                self.folderOpened.emit(False)
                return False
            self._show_opened(opened)
            self.folderOpened.emit(True)
            return True
        token = self._opening_token = self._opening_token + 1
        self.opening = start_job(
            prepare_folder,
            root,
            progress=self.set_status,
            done=lambda prepared: self._prepared(prepared, token),
            failed=lambda exc: self._open_failed(root, exc),
            finished=lambda: self._opening_finished(token),
        )
        self.status_area.set_busy(True)
        return True

    def _cancel_opening(self, wait: bool = False) -> None:
        """Forget a folder still being opened: its job stops, and a result that comes anyway is let go."""
        self._opening_token += 1
        if self.opening is not None:
            self.opening.cancel()
            if wait:
                self.opening.wait()
            self.opening = None
            self._busy_changed()

    def _prepared(self, prepared: Prepared, token: int) -> None:
        if token != self._opening_token or self.session is not None:
            prepared.discard()  # another folder was asked for meanwhile
            return
        self._show_opened(self.document.bind(prepared), later=True)

    def _opening_finished(self, token: int) -> None:
        if token == self._opening_token:
            self.opening = None
            self._busy_changed()
            self.folderOpened.emit(self.session is not None)

    def _open_failed(self, root: Path, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            return
        text = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
        self.banner.show_message("error", f"Cannot open <b>{escape(str(root))}</b>: {escape(text)}")

    def _show_opened(self, opened: Opened, later: bool = False) -> None:
        """The folder just bound, on screen; ``later``: start its background jobs after the first paint
        (starting the engine process beside it made that paint a 100-130 ms stall at 100,000 photos)."""
        self.banner.hide()
        session = self.document.session
        assert session is not None, "bound"
        self.stacked_images.set_groups([])
        self._show_settings(session.settings)
        self.pages.setCurrentIndex(1)
        self.cluster_view.setCurrentIndex(self.clusters.index(0))
        self._update_header()
        self.setWindowTitle(f"{opened.root.name}{' (read-only)' if self.read_only else ''} — PhotoCluster")
        app_settings.add_recent_folder(opened.root)
        n = len(session.images)
        if opened.problem:
            self.banner.show_message("warning", opened.problem)
        elif not n:
            self.banner.show_message(
                "info", f"No photos were found in <b>{escape(str(opened.root))}</b> or its subfolders."
            )
        elif self.skipped:
            self._show_skipped_banner()
        if not n:
            self.set_status("No photos here: open another folder.")
        elif opened.restored:
            self.set_status(f"Restored your sorting of {n:,} photos from last time.")
        else:
            self.set_status(f"Found {n:,} photos. Press Analyse to group them by what is in them.")
        self._analyse_when_loaded = False
        if later:
            session = self.session
            QTimer.singleShot(AFTER_PAINT_MS, lambda: self._after_open(opened.restored, session))
        else:
            self._after_open(opened.restored)
        self._update_actions()
        _settle_memory()

    def _bind(self, session: Session | None) -> None:
        """Point the thumbnails, every model, view and the editor at ``session`` (or at nothing)."""
        self.loader.set_root(session.root if session is not None else None)
        self.editor.set_session(session, read_only=self.document.read_only)
        self.images.set_session(session)
        self.clusters.set_session(session)
        self.map_dock.set_session(session)
        self.review_dock.set_session(session)
        self.k_choice.show_choice(*(session.k_choice if session is not None else ({}, 0, True)))

    def close_folder(self) -> None:
        """Save and let go of the current folder (an analysis of it is cancelled)."""
        if self.session is None:
            return
        self.jobs.cancel_all()
        self.document.close()

    def _after_open(self, restored: bool, session: Session | None = None) -> None:
        """Bring back the analysis from last time from the feature cache (no model, no Analyse needed); if it is
        not all there, analyse by itself (unless File > Analyse When a Folder Opens is off). ``session``: only
        if that one is still open."""
        if self.session is None or not self.session.images or (session is not None and session is not self.session):
            return
        auto = app_settings.analyse_on_open() and not self.read_only
        if not (restored or auto):
            return
        try:
            weights = resolve_weights(self.weights_option)
        except WeightsError:
            return  # said when the person presses Analyse
        self._analyse_when_loaded = auto
        if not self.jobs.load_cached(weights) and auto:
            self.analyse()

    def _cached_loaded(self, found: bool) -> None:
        session = self.session
        if session is None:
            return
        if found:
            self._analyse_when_loaded = False
            self.set_status(
                f"Opened with the analysis from last time ({len(session.images):,} photos): "
                "the map, review and near-duplicates are ready."
            )

    def _cached_finished(self) -> None:
        if self.jobs.cached_worker is None and self._analyse_when_loaded:
            self._analyse_when_loaded = False
            self.analyse()

    # ==== analysing =================================================================
    def analyse(self) -> None:
        if self.session is None or self.jobs.analysing:
            return
        if self.jobs.cached_worker is not None:  # the cache is being read: analyse right after, if still needed
            self._analyse_when_loaded = True
            self.set_status("Analysing right after the analysis from last time is read…")
            return
        try:
            weights = resolve_weights(self.weights_option)
        except WeightsError as exc:
            self._show_weights_error(exc)
            return
        self.banner.hide()
        self.jobs.analyse(weights)
        self.set_status("Starting the analysis…")

    def cancel_analysis(self) -> None:
        self.jobs.cancel_analysis()

    def recluster(self) -> None:
        self.jobs.recluster()

    def regroup_rest(self) -> None:
        """Regroup with the toolbar's settings; the photos placed by hand stay and steer the others."""
        if self.session is None or self.session.features is None:
            self.banner.show_message("info", "Regrouping needs the photos' features: press Analyse first.")
            return
        self.jobs.recluster()

    def _busy_changed(self) -> None:
        jobs = self.jobs
        busy = jobs.analysing or self.opening is not None or jobs.recluster_worker is not None
        busy = busy or jobs.cached_worker is not None
        self.status_area.set_busy(busy, analysing=jobs.analysing)
        self._update_header()  # the "press Analyse" hint is not for while it runs
        self._update_actions()
        self._cached_finished()

    def _images_changed(self) -> None:
        self._reselect_cluster(ALL)  # the models rebuilt themselves from the Session's Change

    def _show_weights_error(self, exc: Exception) -> None:
        self.banner.show_message("error", f"<b>The image model is not available.</b> {escape(str(exc))}")

    # ==== clustering settings ==========================================================
    def _wanted_settings(self) -> dict:
        k = self.k_spin.value()
        return {"clusters": "auto" if k == 0 else k, "method": self.method_combo.currentData()}

    def _show_settings(self, values: dict) -> None:
        for widget in (self.k_spin, self.method_combo):
            widget.blockSignals(True)
        k = values.get("clusters", "auto")
        self.k_spin.setValue(0 if k == "auto" else int(k))
        self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(values.get("method", "kmeans"))))
        for widget in (self.k_spin, self.method_combo):
            widget.blockSignals(False)

    # ==== browsing ==================================================================
    def _cluster_chosen(self, current, previous=None) -> None:
        cid = current.data(ClusterIdRole) if current.isValid() else ALL
        self.images.show_cluster(ALL if cid is None else cid)
        self.grid.scrollToTop()
        self._update_header()
        self._update_actions()

    def _reselect_cluster(self, cid: int) -> None:
        row = self.clusters.row_of(cid)
        if row >= 0:
            self.cluster_view.setCurrentIndex(self.clusters.index(row))

    def show_all(self) -> None:
        self._reselect_cluster(ALL)

    def _update_header(self) -> None:
        session = self.session
        if session is None:
            return
        cid = self.images.cluster
        n = self.images.rowCount()
        self.grid_title.setText("All photos" if cid == ALL else session.name(cid))
        parts = [f"{n:,} photo{'s' if n != 1 else ''}"]
        pinned = len(session.pinned.intersection(self.images.paths()))  # C-level: 100,000 rows in ms
        if pinned:
            parts.append(f"{pinned:,} moved by hand")
        if not n:
            parts = ["no photos here"] if cid == ALL else parts
        elif self.jobs.analysing or self.jobs.cached_worker is not None:
            parts.append("being analysed: the clusters appear when it is done")
        elif not session.names and cid == ALL:
            parts.append("press Analyse to group them" if not self.read_only else "not analysed yet")
        elif cid == UNSORTED:
            parts.append("photos that fit no cluster well")
        else:
            parts.append("drag photos onto a cluster, or press its key, to move them")
        self.grid_subtitle.setText("  ·  ".join(parts))

    def selected_paths(self) -> list[str]:
        indexes = sorted(self.grid.selectionModel().selectedIndexes(), key=lambda i: i.row())
        return [i.data(PathRole) for i in indexes]

    def show_preview(self, path: str) -> None:
        from .preview import PreviewDialog

        row = self.images.row_of(path)
        if row < 0:
            return
        dialog = PreviewDialog(self.images, row, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def _thumbnail_size_changed(self, value: int) -> None:
        self.grid.set_thumbnail_size(value)
        app_settings.settings().setValue("thumbnailSize", value)

    def zoom_in(self) -> None:
        self.size_slider.setValue(self.size_slider.value() + 24)

    def zoom_out(self) -> None:
        self.size_slider.setValue(self.size_slider.value() - 24)

    # ==== correcting ================================================================
    def move_selection(self, cluster: int) -> None:
        paths = self.selected_paths()
        if paths and self.session is not None:
            self.editor.move(paths, cluster)

    def send_to_numbered(self, n: int) -> None:
        """Keys 1-9: move the selection to the cluster shown with that key in the side list; 0: to Unsorted."""
        cid = self.clusters.cluster_for_key(n) if self.session is not None else None
        if cid is not None:
            self.move_selection(cid)

    def new_cluster_from_selection(self) -> None:
        paths = self.selected_paths()
        if not paths or self.session is None:
            self.set_status("Select some photos first, then make a cluster of them.")
            return
        cid = self.editor.new_cluster(paths)
        row = -1 if cid is None else self.clusters.row_of(cid)
        if row >= 0:
            self.cluster_view.edit(self.clusters.index(row))

    def current_real_cluster(self) -> int | None:
        """The chosen cluster if it is a named one (not All Photos, not Unsorted)."""
        cid = self.cluster_view.current_cluster()
        return cid if cid is not None and cid not in (ALL, UNSORTED) else None

    def rename_cluster(self) -> None:
        cid = self.current_real_cluster()
        if cid is not None:
            self.cluster_view.setFocus()
            self.cluster_view.edit(self.clusters.index(self.clusters.row_of(cid)))

    def delete_cluster(self) -> None:
        cid = self.current_real_cluster()
        if cid is not None:
            self.editor.delete_cluster(cid)

    def merge_cluster_into(self, target: int) -> None:
        cid = self.current_real_cluster()
        if cid is not None and target != cid:
            self.editor.merge([cid], target)
            self._reselect_cluster(target)

    def split_cluster(self, parts: int) -> None:
        cid = self.cluster_view.current_cluster()
        if cid is None or cid == ALL:
            return
        self.jobs.split(cid, parts)

    def reset_manual_moves(self) -> None:
        if self.session is None or not self.session.pinned:
            return
        self.editor.reset_pins()
        if self.session.features is not None:
            self.jobs.recluster()

    # ==== see why ====================================================================
    def select_paths(self, paths: list) -> None:
        """Select ``paths`` in the grid (picked on the map or in the review dock), showing All Photos if needed."""
        if self.session is None:
            return
        if any(self.images.row_of(p) < 0 for p in paths):
            self.show_all()
        model = cast(PhotoProxy, self.grid.model())  # every model the grid shows answers row_of
        selection = QItemSelection()
        for p in paths:
            row = model.row_of(p)
            if row >= 0:
                selection.select(model.index(row, 0), model.index(row, 0))
        self.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if not selection.isEmpty():
            self.grid.scrollTo(selection.indexes()[0])

    def _selection_to_docks(self) -> None:
        paths = self.selected_paths()
        self.map_dock.select(paths)
        self.review_dock.select(paths)

    def _grid_order_changed(self) -> None:
        doubtful, stacked = self.doubtful_first_action.isChecked(), self.stack_action.isChecked()
        self.images.set_doubtful_first(doubtful)  # a layout change: the selection moves along
        # The stacking proxy follows the image model only while the grid shows it: following, the first look
        # after each reset or regroup mapped every row through Python (filterAcceptsRow): a 75 ms stall right
        # after a folder of 100,000 photos opened (bench/scale.py).
        source = self.images if stacked else None
        if self.stacked_images.sourceModel() is not source:
            self.stacked_images.setSourceModel(source)  # type: ignore[arg-type]  # None detaches: Qt allows it
        self.stacked_images.set_groups(self.duplicate_groups if stacked else [])
        model = self.stacked_images if stacked else self.plain_images
        if self.grid.model() is not model:
            keep = self.selected_paths()
            self.grid.setModel(model)  # a new selection model: connect it again
            self._connect_grid_selection()
            self.select_paths(keep)
        self._update_actions()

    def show_duplicates(self) -> None:
        if self.session is None:
            return
        dialog = DuplicatesDialog(self.session, self.loader, self.editor, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.imagesSelected.connect(self.select_paths)
        dialog.reportReady.connect(self._duplicates_found)
        dialog.show()

    def _duplicates_found(self, report) -> None:
        self.document.duplicate_groups = list(report.groups)
        if self.stack_action.isChecked():
            self.stacked_images.set_groups(self.duplicate_groups)

    def show_feature_maps(self) -> None:
        paths = self.selected_paths()
        if self.session is None or not paths:
            self.set_status("Select a photo first, then ask what the network sees in it.")
            return
        try:
            weights = resolve_weights(self.weights_option)
        except WeightsError as exc:
            self._show_weights_error(exc)
            return
        dialog = FeatureMapsDialog(weights, self.session.root / paths[0], self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    # ==== dialogs ===================================================================
    def show_skipped(self) -> None:
        SkippedDialog(self.skipped, self).exec()

    def show_export(self) -> None:
        from .export_dialog import ExportDialog

        if self.session is None:
            return
        dialog = ExportDialog(self.session, self, duplicate_groups=self.duplicate_groups)
        dialog.photos_relocated.connect(self.photos_relocated)
        dialog.exec()

    def photos_relocated(self, paths: dict) -> None:
        """A move export (or its undo) moved photos on disk: they keep their clusters, pins and undo history."""
        if self.session is not None and paths:
            self.editor.relocate(paths)

    def show_about(self) -> None:
        QMessageBox.about(self, "About PhotoCluster", help_pages.about_html())

    def show_shortcuts(self) -> None:
        actions = help_pages.menu_actions(self.menuBar().actions())
        self.help_window = help_pages.HelpWindow("Keyboard Shortcuts", self, html=help_pages.shortcuts_html(actions))
        self.help_window.show()

    def show_guide(self) -> None:
        self.help_window = help_pages.HelpWindow("PhotoCluster Guide", self, markdown=help_pages.guide_markdown())
        self.help_window.show()

    def _show_skipped_banner(self, extra: str = "") -> None:
        n = len(self.skipped)
        text = f"{n:,} file{'s' if n != 1 else ''} could not be read and {'were' if n != 1 else 'was'} left out."
        self.banner.show_message("warning", f"{text} {extra}".strip(), {"skipped": "Show Skipped Files"})

    def _banner_action(self, key: str) -> None:
        if key == "skipped":
            self.show_skipped()

    # ==== keeping ===================================================================
    def _session_changed(self, change: Change) -> None:
        self.set_status("")  # what the last message said is no longer news; a job's result says so after this
        if change.settings and self.session is not None:  # a regroup, or its undo: show the method it used
            self._show_settings(self.session.settings)
        if self.session is not None:
            self.k_choice.show_choice(*self.session.k_choice)
        if change.images:  # the near-duplicate groups were of other paths
            self.stacked_images.set_groups(self.duplicate_groups if self.stack_action.isChecked() else [])
        self._update_header()
        self._update_actions()

    def _edit_refused(self, why: str) -> None:
        self.banner.show_message("warning", escape(why))
        self.set_status("Nothing was changed: this window is read-only.")

    def save_session(self, wait: bool = False) -> None:
        self.document.save(wait)

    # ==== state =====================================================================
    def set_status(self, text: str) -> None:
        self.status_area.set_text(text)

    def _state(self) -> State:
        session, jobs = self.session, self.jobs
        if session is None:
            return State(False, False, jobs.analysing, False, False, False, 0, False, False, False, False, False)
        cid = self.cluster_view.current_cluster()
        return State(
            has_session=True,
            writable=not self.read_only,
            analysing=jobs.analysing,
            cancelling=jobs.analysis is not None and jobs.analysis.cancelled,
            has_images=bool(session.images),
            has_clusters=bool(session.names),
            n_clusters=len(session.names),
            has_selection=self.grid.selectionModel().hasSelection(),
            real_cluster=self.current_real_cluster() is not None,
            can_split=cid not in (None, ALL) and session.features is not None and jobs.split_worker is None,
            has_pins=bool(session.pinned),
            has_skipped=bool(self.skipped),
        )

    def _update_actions(self) -> None:
        state = self._state()
        update_enabled(self.actions_by_name, state)
        self.cancel_action.setVisible(state.analysing)
        self.move_menu.setEnabled(state.has_selection)
        for action in self.move_actions:
            action.setEnabled(state.has_selection)
        self.merge_menu.setEnabled(state.real_cluster and state.n_clusters > 1)
        self.split_menu.setEnabled(state.can_split)
        for widget in (self.k_spin, self.method_combo):
            widget.setEnabled(state.has_session)

    # ==== window events ==============================================================
    def dragEnterEvent(self, event) -> None:
        if _dropped_folder(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        folder = _dropped_folder(event.mimeData())
        if folder is not None:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_folder(folder))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        menus.fit_toolbar(self)
        if not self._side_width_chosen:  # until the person drags the divider, a narrow window gets a narrow list
            side = max(200, min(260, self.width() // 5))
            self.splitter.setSizes([side, max(1, self.splitter.width() - side)])

    def closeEvent(self, event: QCloseEvent) -> None:
        self._cancel_opening(wait=True)
        self.jobs.cancel_all(wait=True)
        self.document.close()
        app_settings.settings().setValue("geometry", self.saveGeometry())
        self.loader.set_root(None)
        self.loader.wait()
        super().closeEvent(event)


def redo_shortcuts() -> list[QKeySequence]:
    """The platform's Redo keys plus Ctrl+Y and Ctrl+Shift+Z, each once: a key listed twice on one action
    is an "ambiguous shortcut overload" to Qt, and then neither works."""
    keys: list[QKeySequence] = []
    for key in [
        *QKeySequence.keyBindings(QKeySequence.StandardKey.Redo),
        QKeySequence("Ctrl+Shift+Z"),
        QKeySequence("Ctrl+Y"),
    ]:
        if key not in keys:
            keys.append(key)
    return keys


def _settle_memory() -> None:
    """Move what exists now (modules, the session) out of the garbage collector's sight.

    A full collection walks every object: with NumPy, scikit-learn and a session
    in memory that is ~90 ms on the GUI thread, long enough to be felt as a
    stall (bench/gui_stall.py). Long-lived objects never need that walk.
    """
    gc.collect()
    gc.freeze()


def _dropped_folder(mime_data) -> Path | None:
    if mime_data is None or not mime_data.hasUrls():
        return None
    for url in mime_data.urls():
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.is_dir():
                return path
    return None
