"""The main window: open a folder, analyse it, browse and correct the clusters, export.

The window owns one Session at a time and wires it to the two models, the
undo stack (every edit goes through ``Editor``) and the autosave. Long work
runs in ``GeneratorWorker`` threads; their signals arrive here, on the GUI
thread, which is the only thread that touches the Session and the widgets.
"""

from __future__ import annotations

import gc
import json
import logging
import time
from pathlib import Path

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.cluster import UNSORTED
from engine.features import Cancelled
from engine.lock import FolderInUse, FolderLock
from engine.scan import scan_folder
from engine.session import Session, atomic_write_text, load_or_set_aside, session_path_for
from engine.weights import WeightsError, resolve_weights

from . import settings as app_settings
from .banner import Banner
from .cluster_list import ClusterList
from .cluster_model import ClusterIdRole, ClusterModel
from .duplicates_view import DuplicatesDialog, StackDuplicatesProxy
from .feature_maps import FeatureMapsDialog
from .grid_view import PhotoGrid
from .icons import app_icon, icon
from .image_model import ALL, ImageModel, PathRole
from .jobs import AnalysisResult, ClusterResult, analysis_job, cluster_job, split_job
from .review import ConfidenceSortProxy, ReviewDock
from .similarity_map import SimilarityMapDock
from .skipped_dialog import SkippedDialog
from .thumbnails import ThumbnailLoader
from .undo import Editor
from .workers import GeneratorWorker, TaskPool

log = logging.getLogger(__name__)

METHODS = (("k-means", "kmeans"), ("Agglomerative", "agglomerative"), ("HDBSCAN", "hdbscan"))
AUTOSAVE_DELAY_MS = 1000
RECLUSTER_DELAY_MS = 350
SIZES = (72, 256, 160)  # thumbnail slider: min, max, default


class MainWindow(QMainWindow):
    def __init__(self, weights: str | None = None, parent=None):
        super().__init__(parent)
        self.weights_option = weights
        self.session: Session | None = None
        self._lock: FolderLock | None = None  # held while a folder is open; None = read-only
        self.skipped: list = []
        self._analysis: GeneratorWorker | None = None
        self._recluster: GeneratorWorker | None = None
        self._recluster_again = False
        self._analysis_started = 0.0
        self._split: GeneratorWorker | None = None
        self._edits = 0  # session changes seen, to notice a result computed from an older state
        self.loader = ThumbnailLoader(self)
        self.editor = Editor(self)
        self.images = ImageModel(self.loader, self)
        self.clusters = ClusterModel(self.loader, self.editor, self)
        self._save_pool = TaskPool(1, "autosave", self)  # one thread: saves land in the order they were made
        self._save_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_session)
        self._recluster_timer = QTimer(self, singleShot=True, interval=RECLUSTER_DELAY_MS)
        self._recluster_timer.timeout.connect(self.recluster)

        self.setWindowTitle("PhotoCluster")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self._build_see_why()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_central()
        self._build_status_bar()
        self._restore_view_settings()
        self._update_actions()
        _settle_memory()

    # ==== building ================================================================
    def _action(self, text, slot, shortcut=None, icon_name=None, tip=None) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                              if shortcut else tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_see_why(self) -> None:
        """Issue #5: the similarity map and doubtful-photo docks, and the grid's sort/stack proxies."""
        self.duplicate_groups: list = []
        self.stacked_images = StackDuplicatesProxy(self)  # hides each group's extra copies behind its best
        self.stacked_images.setSourceModel(self.images)
        self.doubtful_images = ConfidenceSortProxy(self)  # least confident first
        self.doubtful_images.setSourceModel(self.stacked_images)
        self.doubtful_images.set_enabled(False)
        self.map_dock = SimilarityMapDock(self.editor, self.loader, self)
        self.review_dock = ReviewDock(self.editor, self.loader, self)
        for dock in (self.map_dock, self.review_dock):
            dock.setVisible(False)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            dock.imagesSelected.connect(self.select_paths)
            dock.imageActivated.connect(self.show_preview)
        self.tabifyDockWidget(self.map_dock, self.review_dock)
        self.map_action = self.map_dock.toggleViewAction()
        self.map_action.setText("Similarity &Map")
        self.map_action.setShortcut(QKeySequence("Ctrl+M"))
        self.review_action = self.review_dock.toggleViewAction()
        self.review_action.setText("&Review Doubtful Photos")
        self.review_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.doubtful_first_action = QAction("&Doubtful First", self, checkable=True)
        self.doubtful_first_action.setStatusTip("Show the photos that fit their cluster least first")
        self.doubtful_first_action.toggled.connect(self._grid_order_changed)
        self.stack_action = QAction("S&tack Near-Duplicates", self, checkable=True)
        self.stack_action.setStatusTip("Show each group of near-duplicates as one photo (Find Near-Duplicates first)")
        self.stack_action.toggled.connect(self._grid_order_changed)
        self.duplicates_action = self._action("Find &Near-Duplicates…", self.show_duplicates, None, None,
                                              "Find copies of the same picture; nothing is deleted")
        self.feature_maps_action = self._action("What the &Network Sees…", self.show_feature_maps, "Ctrl+I", None,
                                                "The selected photo's feature maps, layer by layer, and a heat-map")

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open Folder…", self.choose_folder, QKeySequence.StandardKey.Open,
                                        "folder-open", "Open a folder of photos")
        self.open_action.setIconText("Open")
        self.analyse_action = self._action("&Analyse", self.analyse, "Ctrl+R", "analyse",
                                           "Find what is in each photo and group similar ones")
        self.cancel_action = self._action("&Cancel Analysis", self.cancel_analysis, "Esc", "stop",
                                          "Stop the analysis after the current batch")
        self.export_action = self._action("&Export…", self.show_export, "Ctrl+E", "export",
                                          "Copy, move or link the photos into one folder per cluster")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.undo_action = self.editor.stack.createUndoAction(self, "Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setIcon(icon("undo"))
        self.redo_action = self.editor.stack.createRedoAction(self, "Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence.StandardKey.Redo])
        self.redo_action.setIcon(icon("redo"))
        self.new_cluster_action = self._action("&New Cluster from Selection", self.new_cluster_from_selection,
                                               "Ctrl+N", "new-cluster", "Put the selected photos in a new cluster")
        self.new_cluster_action.setIconText("New cluster")
        self.rename_action = self._action("&Rename Cluster", self.rename_cluster, "F2", "rename",
                                          "Rename the chosen cluster")
        self.delete_action = self._action("&Delete Cluster", self.delete_cluster, "Ctrl+Backspace", "delete",
                                          "Remove the chosen cluster; its photos go to Unsorted")
        self.reset_pins_action = self._action("Reset &Manual Moves", self.reset_manual_moves, None, "unpin",
                                              "Let the clustering place photos you moved by hand again")
        self.skipped_action = self._action("&Skipped Files…", self.show_skipped, None, "skipped",
                                           "List the files that were left out, and why")
        self.show_all_action = self._action("Show &All Photos", self.show_all, "Ctrl+0", "photos")
        self.zoom_in_action = self._action("&Larger Thumbnails", self.zoom_in, QKeySequence.StandardKey.ZoomIn)
        self.zoom_out_action = self._action("&Smaller Thumbnails", self.zoom_out, QKeySequence.StandardKey.ZoomOut)
        self.about_action = self._action("&About PhotoCluster", self.show_about)
        self.move_actions = []
        for n in range(1, 10):
            action = QAction(f"Send to cluster {n}", self)
            action.setShortcut(QKeySequence(str(n)))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setData(n)
            action.triggered.connect(self._send_to_numbered)
            self.move_actions.append(action)
        for action in (self.undo_action, self.redo_action):
            self.addAction(action)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.analyse_action)
        file_menu.addAction(self.cancel_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit = bar.addMenu("&Edit")
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        self.move_menu = edit.addMenu("&Move Selection To")
        self.move_menu.aboutToShow.connect(self._fill_move_menu)
        edit.addAction(self.new_cluster_action)
        edit.addSeparator()
        edit.addAction(self.rename_action)
        self.merge_menu = edit.addMenu(icon("merge"), "Mer&ge Cluster Into")
        self.merge_menu.aboutToShow.connect(self._fill_merge_menu)
        self.split_menu = edit.addMenu(icon("split"), "S&plit Cluster")
        for parts in range(2, 6):
            action = self.split_menu.addAction(f"Into {parts} Clusters")
            action.setData(parts)
            action.triggered.connect(self._split_from_menu)
        edit.addAction(self.delete_action)
        edit.addSeparator()
        edit.addAction(self.reset_pins_action)

        view = bar.addMenu("&View")
        view.addAction(self.show_all_action)
        view.addAction(self.zoom_in_action)
        view.addAction(self.zoom_out_action)
        view.addSeparator()
        view.addAction(self.skipped_action)
        view.addSeparator()
        view.addAction(self.doubtful_first_action)
        view.addAction(self.stack_action)
        view.addAction(self.map_action)
        view.addAction(self.review_action)
        view.addAction(self.feature_maps_action)
        edit.addSeparator()
        edit.addAction(self.duplicates_action)
        bar.addMenu("&Help").addAction(self.about_action)

    def _build_toolbar(self) -> None:
        tools = self.addToolBar("Main")
        tools.setObjectName("mainToolbar")
        tools.setMovable(False)
        tools.setIconSize(QSize(20, 20))
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools.addAction(self.open_action)
        tools.addAction(self.analyse_action)
        tools.widgetForAction(self.analyse_action).setObjectName("primary")
        tools.addAction(self.cancel_action)
        tools.addSeparator()
        tools.addWidget(QLabel("Clusters"))
        self.k_spin = QSpinBox()
        self.k_spin.setRange(0, 60)
        self.k_spin.setSpecialValueText("Auto")
        self.k_spin.setToolTip("How many clusters to make; Auto picks the number that separates the photos best")
        self.k_spin.setMinimumWidth(72)
        self.k_spin.valueChanged.connect(self._settings_changed)
        tools.addWidget(self.k_spin)
        tools.addWidget(QLabel("Method"))
        self.method_combo = QComboBox()
        for label, key in METHODS:
            self.method_combo.addItem(label, key)
        self.method_combo.setItemData(0, "Fast, even-sized groups (the default)", Qt.ItemDataRole.ToolTipRole)
        self.method_combo.setItemData(1, "Ward linkage: groups that follow the shape of the data",
                                      Qt.ItemDataRole.ToolTipRole)
        self.method_combo.setItemData(2, "Density based: photos that fit nowhere stay Unsorted",
                                      Qt.ItemDataRole.ToolTipRole)
        self.method_combo.setToolTip("How photos are grouped; changing it regroups at once, without re-analysing")
        self.method_combo.currentIndexChanged.connect(self._settings_changed)
        tools.addWidget(self.method_combo)
        tools.addSeparator()
        tools.addAction(self.undo_action)
        tools.addAction(self.redo_action)
        for action in (self.undo_action, self.redo_action):
            tools.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        tools.addAction(self.new_cluster_action)
        tools.addAction(self.export_action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tools.addWidget(spacer)
        small = QLabel()
        small.setPixmap(icon("zoom-small").pixmap(16, 16))
        tools.addWidget(small)
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(SIZES[0], SIZES[1])
        self.size_slider.setValue(SIZES[2])
        self.size_slider.setFixedWidth(140)
        self.size_slider.setToolTip("Thumbnail size")
        self.size_slider.valueChanged.connect(self._thumbnail_size_changed)
        tools.addWidget(self.size_slider)
        large = QLabel()
        large.setPixmap(icon("zoom-large").pixmap(18, 18))
        tools.addWidget(large)
        self.toolbar = tools

    def _build_central(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.banner = Banner()
        self.banner.action_clicked.connect(self._banner_action)
        layout.addWidget(self.banner)
        self.pages = QStackedWidget()
        self.pages.addWidget(self._build_empty_state())
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
        self.cluster_view.customContextMenuRequested.connect(self._cluster_menu)
        side_layout.addWidget(self.cluster_view)
        self.splitter.addWidget(side)
        main = QWidget()
        main_layout = QVBoxLayout(main)
        main_layout.setContentsMargins(0, 0, 0, 0)
        main_layout.setSpacing(0)
        self.grid_title = QLabel(objectName="gridTitle")
        self.grid_subtitle = QLabel(objectName="gridSubtitle")
        main_layout.addWidget(self.grid_title)
        main_layout.addWidget(self.grid_subtitle)
        self.grid = PhotoGrid()
        self.grid.setModel(self.images)
        self.grid.activated_path.connect(self.show_preview)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._grid_menu)
        self.grid.selectionModel().selectionChanged.connect(self._update_actions)
        self.grid.selectionModel().selectionChanged.connect(self._selection_to_docks)
        for action in self.move_actions:
            self.grid.addAction(action)
        main_layout.addWidget(self.grid, 1)
        self.splitter.addWidget(main)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([260, 1000])
        self.pages.addWidget(self.splitter)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)

    def _build_empty_state(self) -> QWidget:
        page = QWidget(objectName="emptyState")
        outer = QVBoxLayout(page)
        outer.addStretch(3)
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(96, 96))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(logo)
        title = QLabel("Open a folder of photos to begin", objectName="emptyTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(title)
        hint = QLabel("PhotoCluster groups your photos by what is in them. You check and correct the groups, "
                      "then export them\ninto folders. Nothing in your folder changes until you export.",
                      objectName="emptyHint")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(hint)
        outer.addSpacing(18)
        row = QHBoxLayout()
        row.addStretch(1)
        button = QPushButton(icon("folder-open", "#ffffff"), "  Open Folder…", objectName="bigButton")
        button.setIconSize(QSize(22, 22))
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.clicked.connect(self.choose_folder)
        row.addWidget(button)
        row.addStretch(1)
        outer.addLayout(row)
        drop = QLabel("or drop a folder onto this window", objectName="emptyHint")
        drop.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(drop)
        outer.addSpacing(18)
        self.recent_box = QVBoxLayout()
        self.recent_box.setSpacing(2)
        outer.addLayout(self.recent_box)
        outer.addStretch(4)
        self._fill_recent_box()
        return page

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setSizeGripEnabled(False)
        self.status_text = QLabel()
        bar.addWidget(self.status_text, 1)
        self.rate_label = QLabel()
        bar.addPermanentWidget(self.rate_label)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(False)
        bar.addPermanentWidget(self.progress)
        self.cancel_button = QToolButton()
        self.cancel_button.setDefaultAction(self.cancel_action)
        self.cancel_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.cancel_button.setAutoRaise(True)
        bar.addPermanentWidget(self.cancel_button)
        self._set_busy(False)
        self.set_status("Ready")

    def _restore_view_settings(self) -> None:
        store = app_settings.settings()
        size = int(store.value("thumbnailSize", SIZES[2]))
        self.size_slider.setValue(max(SIZES[0], min(SIZES[1], size)))
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

    def open_folder(self, folder: str | Path) -> bool:
        """Scan ``folder`` and show its photos, with the sorting saved last time if there is one."""
        root = Path(folder).expanduser()
        if not root.is_dir():
            self.banner.show_message("error", f"<b>{root}</b> is not a folder that can be opened.")
            return False
        self.close_folder()
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            scan = scan_folder(root)
        except OSError as exc:
            self.banner.show_message("error", f"Cannot open <b>{root}</b>: {exc.strerror or exc}")
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.banner.hide()
        self._lock, problem = FolderLock(scan.root), ""
        try:
            self._lock.acquire()
        except FolderInUse as exc:  # another window has it: look, but never overwrite its sorting
            self._lock, problem = None, _html(str(exc))
        session, restored, damaged = _load_or_new_session(scan.root, scan.images)
        problem = " ".join(filter(None, [problem, damaged]))
        self.skipped = list(scan.skipped)
        self.loader.set_root(scan.root)
        self.editor.set_session(session)
        self.images.set_session(session)
        self.clusters.set_session(session)
        self.map_dock.set_session(session)
        self.review_dock.set_session(session)
        self.duplicate_groups = []
        self.stacked_images.set_groups([])
        session.subscribe(self._session_changed)
        self.session = session
        self._show_settings(session.settings)
        self.pages.setCurrentIndex(1)
        self.cluster_view.setCurrentIndex(self.clusters.index(0))
        self._update_header()
        self.setWindowTitle(f"{scan.root.name}{' (read-only)' if self.read_only else ''} — PhotoCluster")
        app_settings.add_recent_folder(scan.root)
        n = len(scan.images)
        if problem:
            self.banner.show_message("warning", problem)
        elif not n:
            self.banner.show_message("info", f"No photos were found in <b>{scan.root}</b> or its subfolders.")
        elif self.skipped:
            self._show_skipped_banner()
        if restored:
            self.set_status(f"Restored your sorting of {n:,} photos from last time. Analyse to refine it.")
        else:
            self.set_status(f"Found {n:,} photos. Press Analyse to group them by what is in them.")
        self._update_actions()
        _settle_memory()
        return True

    def close_folder(self) -> None:
        """Save and let go of the current folder (an analysis of it is cancelled)."""
        if self.session is None:
            return
        for worker in (self._analysis, self._recluster, self._split):
            if worker is not None:
                worker.cancel()
        self.save_session(wait=True)
        self._release_lock()
        self.session.unsubscribe(self._session_changed)
        self.session = None
        self.skipped = []
        self.editor.set_session(None)
        self.images.set_session(None)
        self.clusters.set_session(None)
        self.map_dock.set_session(None)
        self.review_dock.set_session(None)
        self.loader.set_root(None)

    # ==== analysing =================================================================
    def analyse(self) -> None:
        if self.session is None or self._analysis is not None:
            return
        try:
            weights = resolve_weights(self.weights_option)
        except WeightsError as exc:
            self._show_weights_error(exc)
            return
        worker = GeneratorWorker(analysis_job, self.session.root, weights, self._wanted_settings())
        worker.session = self.session
        worker.progress.connect(self._analysis_progress)
        worker.returned.connect(self._analysis_done)
        worker.errored.connect(self._analysis_failed)
        worker.finished.connect(self._analysis_finished)
        self._analysis = worker
        self._analysis_started = time.monotonic()
        self.banner.hide()
        self._set_busy(True)
        self.set_status("Starting the analysis…")
        worker.start()
        self._update_actions()

    def cancel_analysis(self) -> None:
        if self._analysis is not None and not self._analysis.cancelled:
            self._analysis.cancel()
            self.cancel_action.setEnabled(False)
            self.set_status("Stopping after the current batch…")

    def _analysis_progress(self, progress) -> None:
        if self._analysis is None or self._analysis.cancelled:
            return
        if progress.stage == "features" and progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
            self.set_status(f"Analysing photos: {progress.done:,} of {progress.total:,}")
            parts = [f"{progress.rate:.1f} photos/s"] if progress.rate else []
            if progress.eta is not None and progress.done < progress.total:
                parts.append(f"about {_duration(progress.eta)} left")
            self.rate_label.setText(" · ".join(parts))
        else:
            self.progress.setRange(0, 0)
            self.rate_label.clear()
            self.set_status(_STAGE_TEXT.get(progress.stage) or progress.message)

    def _analysis_done(self, result: AnalysisResult) -> None:
        worker = self.sender()
        if self.session is None or getattr(worker, "session", None) is not self.session:
            return  # the folder was closed meanwhile
        analysis, session = result.analysis, self.session
        images_changed = analysis.images != session.images
        session.set_analysis(analysis.images, analysis.features)
        if images_changed:
            self.images.refresh()
            self.clusters.refresh()
            self._reselect_cluster(ALL)
        self.editor.apply_clustering(result.clustering, result.settings)
        self.skipped = list(analysis.skipped)
        self._schedule_save()
        found = result.clustering.k
        text = (f"Sorted {len(analysis.images):,} photos into {found} cluster{'s' if found != 1 else ''} "
                f"in {_duration(time.monotonic() - self._analysis_started)}")
        if analysis.cached:
            text += f" ({analysis.extracted:,} analysed, {analysis.cached:,} remembered from before)"
        self.set_status(text + ".")
        problems = list(analysis.warnings)
        if self.skipped:
            self._show_skipped_banner(extra=" ".join(problems))
        elif problems:
            self.banner.show_message("warning", " ".join(problems))
        if result.settings != self._wanted_settings():
            self._recluster_timer.start()

    def _analysis_failed(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self.set_status("Analysis cancelled. What was analysed so far is remembered for next time.")
        elif isinstance(exc, WeightsError):
            self._show_weights_error(exc)
            self.set_status("The analysis could not start.")
        else:
            log.error("analysis failed:\n%s", getattr(exc, "traceback_text", exc))
            self.banner.show_message("error", f"<b>The analysis failed:</b> {_html(str(exc) or type(exc).__name__)}")
            self.set_status("The analysis failed.")

    def _analysis_finished(self) -> None:
        self._analysis = None
        self._set_busy(self._recluster is not None)
        self._update_actions()

    def _show_weights_error(self, exc: Exception) -> None:
        self.banner.show_message("error", f"<b>The image model is not available.</b> {_html(str(exc))}")

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

    def _settings_changed(self) -> None:
        if self.session is None:
            return
        if self.session.features is None:
            self.set_status("The new settings apply when you analyse.")
            self.session.settings.update(self._wanted_settings())
            self._schedule_save()
            return
        if self._analysis is None:
            self._recluster_timer.start()

    def recluster(self) -> None:
        """Group the analysed photos again with the toolbar's settings (no re-analysis)."""
        if self.session is None or self.session.features is None or self._analysis is not None:
            return
        if self._recluster is not None:
            self._recluster_again = True
            return
        features = self.session.features
        if len(features) == 0:
            return
        worker = GeneratorWorker(cluster_job, features, self._wanted_settings())
        worker.session = self.session
        worker.returned.connect(self._recluster_done)
        worker.errored.connect(self._recluster_failed)
        worker.finished.connect(self._recluster_finished)
        self._recluster = worker
        self._set_busy(True, busy_only=True)
        self.set_status("Regrouping photos…")
        worker.start()

    def _recluster_done(self, result: ClusterResult) -> None:
        worker = self.sender()
        session = self.session
        if session is None or getattr(worker, "session", None) is not session or result.features is not session.features:
            return
        self.editor.apply_clustering(result.clustering, result.settings)
        method = self.method_combo.itemText(max(0, self.method_combo.findData(result.settings["method"])))
        how = "automatic number" if result.settings["clusters"] == "auto" else "chosen number"
        self.set_status(f"Regrouped into {result.clustering.k} clusters ({method}, {how}). Ctrl+Z goes back.")

    def _recluster_failed(self, exc: BaseException) -> None:
        log.error("re-clustering failed:\n%s", getattr(exc, "traceback_text", exc))
        self.banner.show_message("error", f"<b>Regrouping failed:</b> {_html(str(exc))}")

    def _recluster_finished(self) -> None:
        self._recluster = None
        self._set_busy(self._analysis is not None)
        if self._recluster_again:
            self._recluster_again = False
            self.recluster()

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
        title = "All photos" if cid == ALL else session.name(cid)
        self.grid_title.setText(title)
        parts = [f"{n:,} photo{'s' if n != 1 else ''}"]
        pinned = sum(1 for p in self.images.paths() if p in session.pinned)
        if pinned:
            parts.append(f"{pinned:,} moved by hand")
        if not session.names and cid == ALL:
            parts.append("press Analyse to group them")
        elif cid == UNSORTED:
            parts.append("photos that fit no cluster well")
        else:
            parts.append("drag photos onto a cluster, or press 1–9, to move them")
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

    def _send_to_numbered(self) -> None:
        n = self.sender().data()
        targets = self.clusters.sorting_targets()
        if self.session is None or not 1 <= n <= len(targets):
            return
        self.move_selection(targets[n - 1])

    def new_cluster_from_selection(self) -> None:
        paths = self.selected_paths()
        if not paths or self.session is None:
            self.set_status("Select some photos first, then make a cluster of them.")
            return
        cid = self.editor.new_cluster(paths)
        row = self.clusters.row_of(cid)
        if row >= 0:
            self.cluster_view.edit(self.clusters.index(row))

    def _current_real_cluster(self) -> int | None:
        cid = self.cluster_view.current_cluster()
        return cid if cid is not None and cid not in (ALL, UNSORTED) else None

    def rename_cluster(self) -> None:
        cid = self._current_real_cluster()
        if cid is not None:
            self.cluster_view.setFocus()
            self.cluster_view.edit(self.clusters.index(self.clusters.row_of(cid)))

    def delete_cluster(self) -> None:
        cid = self._current_real_cluster()
        if cid is not None:
            self.editor.delete_cluster(cid)

    def merge_cluster_into(self, target: int) -> None:
        cid = self._current_real_cluster()
        if cid is not None and target != cid:
            self.editor.merge([cid], target)
            self._reselect_cluster(target)

    def split_cluster(self, parts: int) -> None:
        """Split the chosen cluster in ``parts`` by k-means on its photos, computed in the analysis process."""
        cid = self.cluster_view.current_cluster()
        session = self.session
        if cid is None or cid == ALL or session is None or self._split is not None:
            return
        members = list(session.members(cid))
        if session.features is None:
            self.banner.show_message("info", "Splitting needs the photos' features: press Analyse first.")
            return
        if len(members) < parts:
            self.banner.show_message("info", f"{_html(session.name(cid))} has fewer than {parts} photos.")
            return
        index = {p: i for i, p in enumerate(session.images)}
        features = session.features[[index[p] for p in members]]
        worker = GeneratorWorker(split_job, session.root, dict(session.names), cid, members, features, parts)
        worker.session, worker.edits = session, self._edits
        worker.returned.connect(self._split_done)
        worker.errored.connect(self._split_failed)
        worker.finished.connect(self._split_finished)
        self._split = worker
        self.set_status(f"Splitting {session.name(cid)}…")
        worker.start()
        self._update_actions()

    def _split_done(self, change) -> None:
        worker = self.sender()
        if self.session is None or worker.session is not self.session:
            return
        if worker.edits != self._edits:
            self.set_status("The sorting changed while the split was computed; split again.")
            return
        self.editor.apply(change)
        self.set_status(f"{change.text}. Ctrl+Z goes back.")

    def _split_failed(self, exc: BaseException) -> None:
        self.banner.show_message("info", f"Cannot split: {_html(str(exc))}.")

    def _split_finished(self) -> None:
        self._split = None
        self._update_actions()

    def _split_from_menu(self) -> None:
        self.split_cluster(self.sender().data())

    def reset_manual_moves(self) -> None:
        if self.session is None or not self.session.pinned:
            return
        self.editor.reset_pins()
        if self.session.features is not None:
            self.recluster()

    # ==== menus =====================================================================
    def _fill_move_menu(self, menu: QMenu | None = None) -> None:
        menu = menu or self.move_menu
        menu.clear()
        if self.session is None:
            return
        has_selection = bool(self.grid.selectionModel().hasSelection())
        for n, cid in enumerate(self.clusters.sorting_targets(), start=1):
            action = menu.addAction(self.session.name(cid))
            if n <= 9:
                action.setShortcut(QKeySequence(str(n)))
                action.setShortcutVisibleInContextMenu(True)
            action.setData(cid)
            action.setEnabled(has_selection and cid != self.images.cluster)
            action.triggered.connect(self._move_from_menu)
        if UNSORTED not in self.clusters.sorting_targets():
            action = menu.addAction("Unsorted")
            action.setData(UNSORTED)
            action.setEnabled(has_selection)
            action.triggered.connect(self._move_from_menu)

    def _move_from_menu(self) -> None:
        self.move_selection(self.sender().data())

    def _fill_merge_menu(self, menu: QMenu | None = None) -> None:
        menu = menu or self.merge_menu
        menu.clear()
        cid = self._current_real_cluster()
        if cid is None:
            return
        for target in sorted(self.session.names):
            if target != cid:
                action = menu.addAction(self.session.name(target))
                action.setData(target)
                action.triggered.connect(self._merge_from_menu)

    def _merge_from_menu(self) -> None:
        self.merge_cluster_into(self.sender().data())

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        folders = app_settings.recent_folders()
        for folder in folders:
            action = self.recent_menu.addAction(folder)
            action.setData(folder)
            action.triggered.connect(self._open_recent)
        if folders:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent Folders", app_settings.clear_recent_folders)
        else:
            self.recent_menu.addAction("No recent folders").setEnabled(False)

    def _fill_recent_box(self) -> None:
        folders = app_settings.recent_folders()[:5]
        if not folders:
            return
        title = QLabel("Recent folders", objectName="emptyHint")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.recent_box.addWidget(title)
        for folder in folders:
            button = QPushButton(folder, objectName="recentFolder")
            button.setFlat(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setProperty("folder", folder)
            button.clicked.connect(self._open_recent)
            self.recent_box.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)

    def _open_recent(self) -> None:
        sender = self.sender()
        folder = sender.data() if isinstance(sender, QAction) else sender.property("folder")
        self.open_folder(folder)

    def _grid_menu(self, pos) -> None:
        if self.session is None:
            return
        menu = QMenu(self)
        index = self.grid.indexAt(pos)
        if index.isValid():
            open_action = menu.addAction("Preview")
            open_action.triggered.connect(self._preview_current)
            menu.addAction(self.feature_maps_action)
            menu.addSeparator()
        move = menu.addMenu("Move To")
        self._fill_move_menu(move)
        menu.addAction(self.new_cluster_action)
        paths = self.selected_paths()
        if any(p in self.session.pinned for p in paths):
            unpin = menu.addAction(icon("unpin"), "Let the Clustering Place These Again")
            unpin.triggered.connect(self._unpin_selection)
        menu.exec(self.grid.viewport().mapToGlobal(pos))

    def _preview_current(self) -> None:
        index = self.grid.currentIndex()
        if index.isValid():
            self.show_preview(index.data(PathRole))

    def _unpin_selection(self) -> None:
        self.editor.reset_pins(self.selected_paths())

    def _cluster_menu(self, pos) -> None:
        index = self.cluster_view.indexAt(pos)
        if not index.isValid() or self.session is None:
            return
        self.cluster_view.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction(self.rename_action)
        merge = menu.addMenu(icon("merge"), "Merge Into")
        self._fill_merge_menu(merge)
        merge.setEnabled(self._current_real_cluster() is not None and len(self.session.names) > 1)
        menu.addMenu(self.split_menu)
        menu.addAction(self.delete_action)
        menu.exec(self.cluster_view.viewport().mapToGlobal(pos))

    # ==== see why (issue #5) =====================================================
    def select_paths(self, paths: list) -> None:
        """Select ``paths`` in the grid (picked on the map or in the review dock), showing All Photos if needed."""
        if self.session is None:
            return
        if any(self.images.row_of(p) < 0 for p in paths):
            self.show_all()
        model = self.grid.model()
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
        self.stacked_images.set_groups(self.duplicate_groups if stacked else [])
        self.doubtful_images.set_enabled(doubtful)
        model = self.doubtful_images if (doubtful or stacked) else self.images
        if self.grid.model() is not model:
            keep = self.selected_paths()
            self.grid.setModel(model)  # a new selection model: connect it again
            self.grid.selectionModel().selectionChanged.connect(self._update_actions)
            self.grid.selectionModel().selectionChanged.connect(self._selection_to_docks)
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
        self.duplicate_groups = list(report.groups)
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
        dialog.moved_photos.connect(self._photos_moved_away)
        dialog.exec()

    def _photos_moved_away(self) -> None:
        """After a move export the photos are no longer in the folder: show what is left."""
        if self.session is not None:
            root = self.session.root
            self.open_folder(root)

    def show_about(self) -> None:
        QMessageBox.about(self, "About PhotoCluster",
                          "<h3>PhotoCluster</h3><p>Sorts photos by what is in them: a VGG16 network describes "
                          "each photo, and similar descriptions are grouped. Correct the groups by dragging, "
                          "then export them into folders.</p>")

    def _show_skipped_banner(self, extra: str = "") -> None:
        n = len(self.skipped)
        text = f"{n:,} file{'s' if n != 1 else ''} could not be read and {'were' if n != 1 else 'was'} left out."
        self.banner.show_message("warning", f"{text} {extra}".strip(), {"skipped": "Show Skipped Files"})

    def _banner_action(self, key: str) -> None:
        if key == "skipped":
            self.show_skipped()

    # ==== keeping ===================================================================
    def _session_changed(self, change) -> None:
        self._edits += 1
        self._schedule_save()
        self._update_header()
        self._update_actions()

    def _schedule_save(self) -> None:
        self._save_timer.start()

    @property
    def read_only(self) -> bool:
        """True when another PhotoCluster window holds this folder: nothing here is saved."""
        return self.session is not None and self._lock is None

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def save_session(self, wait: bool = False) -> None:
        """Write the session next to the user's data (never into the photo folder), off the GUI thread."""
        self._save_timer.stop()
        if self.session is None or self.read_only:
            return
        path, data = session_path_for(self.session.root), self.session.to_dict()
        if wait:
            self._save_pool.wait()
            _write_session(path, data)
        else:
            self._save_pool.submit(_write_session, path, data, failed=self._save_failed)

    def _save_failed(self, exc: BaseException) -> None:
        self.banner.show_message("warning", f"Your sorting could not be saved: {_html(str(exc))}")

    # ==== state =====================================================================
    def set_status(self, text: str) -> None:
        self.status_text.setText(text)

    def _set_busy(self, busy: bool, busy_only: bool = False) -> None:
        self.progress.setVisible(busy)
        self.rate_label.setVisible(busy and not busy_only)
        self.cancel_button.setVisible(busy and self._analysis is not None)
        if busy:
            self.progress.setRange(0, 0)
        self.rate_label.clear()

    def _update_actions(self) -> None:
        has_session = self.session is not None
        analysing = self._analysis is not None
        has_selection = has_session and self.grid.selectionModel().hasSelection()
        real = has_session and self._current_real_cluster() is not None
        self.analyse_action.setEnabled(has_session and not analysing and bool(self.session.images))
        self.cancel_action.setEnabled(analysing and not self._analysis.cancelled)
        self.cancel_action.setVisible(analysing)
        self.export_action.setEnabled(has_session and bool(self.session.names))
        self.new_cluster_action.setEnabled(has_selection)
        self.move_menu.setEnabled(has_selection)
        for action in self.move_actions:
            action.setEnabled(has_selection)
        self.rename_action.setEnabled(real)
        self.delete_action.setEnabled(real)
        self.merge_menu.setEnabled(real and len(self.session.names) > 1)
        cid = self.cluster_view.current_cluster() if has_session else None
        self.split_menu.setEnabled(has_session and cid not in (None, ALL) and self.session.features is not None
                                   and self._split is None)
        self.reset_pins_action.setEnabled(has_session and bool(self.session.pinned))
        self.skipped_action.setEnabled(bool(self.skipped))
        for widget in (self.k_spin, self.method_combo):
            widget.setEnabled(has_session)

    # ==== window events ==============================================================
    def dragEnterEvent(self, event) -> None:
        if _dropped_folder(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        folder = _dropped_folder(event.mimeData())
        if folder is not None:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_folder(folder))

    def closeEvent(self, event: QCloseEvent) -> None:
        for worker in (self._analysis, self._recluster, self._split):
            if worker is not None:
                worker.cancel()
                worker.wait()
        self.save_session(wait=True)
        self._release_lock()
        app_settings.settings().setValue("geometry", self.saveGeometry())
        self.loader.set_root(None)
        self.loader.wait()
        super().closeEvent(event)


_STAGE_TEXT = {
    "model": "Loading the image model…",
    "scan": "Looking for photos…",
    "features": "Analysing photos…",
    "cache": "Checking which photos were analysed before…",
    "cluster": "Grouping photos…",
}


def _settle_memory() -> None:
    """Move what exists now (modules, the session) out of the garbage collector's sight.

    A full collection walks every object: with NumPy, scikit-learn and a session
    in memory that is ~90 ms on the GUI thread, long enough to be felt as a
    stall (bench/gui_stall.py). Long-lived objects never need that walk.
    """
    gc.collect()
    gc.freeze()


def _load_or_new_session(root: Path, images: list[str]) -> tuple[Session, bool, str]:
    """The saved session of ``root`` brought up to date with ``images``, else a fresh one.

    A damaged save is set aside (kept, never overwritten) and the returned text says so.
    """
    session, warning = load_or_set_aside(session_path_for(root))
    if session is None:
        return Session(root, images), False, _html(warning or "")
    session.root = root
    session.set_analysis(images, None)
    return session, True, ""


def _write_session(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=1))


def _dropped_folder(mime_data) -> Path | None:
    if mime_data is None or not mime_data.hasUrls():
        return None
    for url in mime_data.urls():
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.is_dir():
                return path
    return None


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
