"""The menu bar, the toolbar, the menus filled when they open, and the two context menus.

Each function takes the window and uses only its actions, its views and its
public methods, so the window itself stays a list of what it is made of.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QSizePolicy, QSlider, QSpinBox, QToolButton, QWidget

from engine.cluster import UNSORTED

from . import settings as app_settings
from .analysis_controller import METHODS
from .icons import icon
from .image_model import PathRole

if TYPE_CHECKING:
    from .main_window import MainWindow

SIZES = (72, 256, 160)  # thumbnail slider: min, max, default
COMPACT_BELOW = 1100  # window width under which the toolbar goes icon-only


def build_menus(window: MainWindow) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(window.open_action)
    window.recent_menu = file_menu.addMenu("Open &Recent")
    window.recent_menu.aboutToShow.connect(lambda: fill_recent_menu(window))
    file_menu.addSeparator()
    file_menu.addAction(window.analyse_action)
    file_menu.addAction(window.cancel_action)
    file_menu.addAction(window.analyse_on_open_action)
    file_menu.addSeparator()
    file_menu.addAction(window.export_action)
    file_menu.addSeparator()
    file_menu.addAction(window.quit_action)

    edit = bar.addMenu("&Edit")
    edit.addAction(window.undo_action)
    edit.addAction(window.redo_action)
    edit.addSeparator()
    window.move_menu = edit.addMenu("&Move Selection To")
    window.move_menu.aboutToShow.connect(lambda: fill_move_menu(window, window.move_menu))
    edit.addAction(window.new_cluster_action)
    edit.addSeparator()
    edit.addAction(window.rename_action)
    window.merge_menu = edit.addMenu(icon("merge"), "Mer&ge Cluster Into")
    window.merge_menu.aboutToShow.connect(lambda: fill_merge_menu(window, window.merge_menu))
    window.split_menu = edit.addMenu(icon("split"), "S&plit Cluster")
    for parts in range(2, 6):
        action = window.split_menu.addAction(f"Into {parts} Clusters")
        action.triggered.connect(lambda _=False, n=parts: window.split_cluster(n))
    edit.addAction(window.delete_action)
    edit.addSeparator()
    edit.addAction(window.regroup_rest_action)
    edit.addAction(window.reset_pins_action)

    view = bar.addMenu("&View")
    view.addAction(window.show_all_action)
    view.addAction(window.zoom_in_action)
    view.addAction(window.zoom_out_action)
    view.addSeparator()
    view.addAction(window.skipped_action)
    view.addSeparator()
    view.addAction(window.doubtful_first_action)
    view.addAction(window.stack_action)
    view.addAction(window.map_action)
    view.addAction(window.review_action)
    view.addAction(window.feature_maps_action)
    edit.addSeparator()
    edit.addAction(window.duplicates_action)
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(window.guide_action)
    help_menu.addAction(window.shortcuts_action)
    help_menu.addSeparator()
    help_menu.addAction(window.about_action)


def build_toolbar(window: MainWindow) -> None:
    tools = window.addToolBar("Main")
    tools.setObjectName("mainToolbar")
    tools.setMovable(False)
    tools.setIconSize(QSize(20, 20))
    tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    tools.addAction(window.open_action)
    tools.addAction(window.analyse_action)
    tools.widgetForAction(window.analyse_action).setObjectName("primary")
    tools.addAction(window.cancel_action)
    tools.addSeparator()
    window.toolbar_labels = [tools.addWidget(QLabel("Clusters"))]
    window.k_spin = QSpinBox()
    window.k_spin.setRange(0, 60)
    window.k_spin.setSpecialValueText("Auto")
    window.k_spin.setToolTip("How many clusters to make; Auto picks the number that separates the photos best")
    window.k_spin.setMinimumWidth(72)
    tools.addWidget(window.k_spin)
    window.toolbar_labels.append(tools.addWidget(QLabel("Method")))
    window.method_combo = QComboBox()
    for label, key in METHODS:
        window.method_combo.addItem(label, key)
    window.method_combo.setItemData(0, "Fast, even-sized groups (the default)", Qt.ItemDataRole.ToolTipRole)
    window.method_combo.setItemData(
        1, "Ward linkage: groups that follow the shape of the data", Qt.ItemDataRole.ToolTipRole
    )
    window.method_combo.setItemData(
        2, "Density based: photos that fit nowhere stay Unsorted", Qt.ItemDataRole.ToolTipRole
    )
    window.method_combo.setToolTip("How photos are grouped; changing it regroups at once, without re-analysing")
    tools.addWidget(window.method_combo)
    tools.addSeparator()
    tools.addAction(window.undo_action)
    tools.addAction(window.redo_action)
    for action in (window.undo_action, window.redo_action):
        button = tools.widgetForAction(action)
        if isinstance(button, QToolButton):
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    tools.addAction(window.new_cluster_action)
    tools.addAction(window.export_action)
    spacer = QWidget()
    spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    tools.addWidget(spacer)
    small = QLabel()
    small.setPixmap(icon("zoom-small").pixmap(16, 16))
    tools.addWidget(small)
    window.size_slider = QSlider(Qt.Orientation.Horizontal)
    window.size_slider.setRange(SIZES[0], SIZES[1])
    window.size_slider.setValue(SIZES[2])
    window.size_slider.setFixedWidth(140)
    window.size_slider.setToolTip("Thumbnail size")
    tools.addWidget(window.size_slider)
    large = QLabel()
    large.setPixmap(icon("zoom-large").pixmap(18, 18))
    tools.addWidget(large)
    window.toolbar = tools
    fit_toolbar(window)


def fit_toolbar(window: MainWindow) -> None:
    """Below COMPACT_BELOW pixels the toolbar shows icons only (text stays in the tooltips) and drops the two
    labels, so Export and the zoom slider stay on it rather than behind the overflow arrow."""
    compact = window.width() < COMPACT_BELOW
    tools = window.toolbar
    if tools.property("compact") == compact:
        return
    tools.setProperty("compact", compact)
    tools.setToolButtonStyle(
        Qt.ToolButtonStyle.ToolButtonIconOnly if compact else Qt.ToolButtonStyle.ToolButtonTextBesideIcon
    )
    for action, style in (
        (window.undo_action, Qt.ToolButtonStyle.ToolButtonIconOnly),
        (window.redo_action, Qt.ToolButtonStyle.ToolButtonIconOnly),
        (window.analyse_action, Qt.ToolButtonStyle.ToolButtonTextBesideIcon),  # the main step keeps its word
    ):
        button = tools.widgetForAction(action)
        if isinstance(button, QToolButton):
            button.setToolButtonStyle(style)
    for label in window.toolbar_labels:
        label.setVisible(not compact)
    window.size_slider.setFixedWidth(96 if compact else 140)


# ---- menus filled when they open ---------------------------------------------------------
def fill_move_menu(window: MainWindow, menu: QMenu) -> None:
    menu.clear()
    session = window.session
    if session is None:
        return
    has_selection = bool(window.grid.selectionModel().hasSelection())
    targets = window.clusters.sorting_targets()
    for cid in targets:
        key = window.clusters.key_of(cid)
        # the key is shown after a tab, not set as a shortcut: the grid's own key actions answer it, and a
        # second action with the same key would make Qt call the key ambiguous and answer neither
        action = menu.addAction(f"{session.name(cid)}\t{key}" if key else session.name(cid))
        action.setEnabled(has_selection and cid != window.images.cluster)
        action.triggered.connect(lambda _=False, c=cid: window.move_selection(c))
    if UNSORTED not in targets:
        action = menu.addAction("Unsorted\t0")
        action.setEnabled(has_selection)
        action.triggered.connect(lambda _=False: window.move_selection(UNSORTED))


def fill_merge_menu(window: MainWindow, menu: QMenu) -> None:
    menu.clear()
    cid = window.current_real_cluster()
    session = window.session
    if cid is None or session is None:
        return
    for target in sorted(session.names):
        if target != cid:
            action = menu.addAction(session.name(target))
            action.setData(target)
            action.triggered.connect(lambda _=False, t=target: window.merge_cluster_into(t))


def fill_recent_menu(window: MainWindow) -> None:
    menu = window.recent_menu
    menu.clear()
    folders = app_settings.recent_folders()
    for folder in folders:
        action = menu.addAction(folder)
        action.setData(folder)
        action.triggered.connect(lambda _=False, f=folder: window.open_folder(f))
    if folders:
        menu.addSeparator()
        menu.addAction("Clear Recent Folders", app_settings.clear_recent_folders)
    else:
        menu.addAction("No recent folders").setEnabled(False)


# ---- context menus -----------------------------------------------------------------------
def grid_menu(window: MainWindow, pos) -> None:
    session = window.session
    if session is None:
        return
    menu = QMenu(window)
    index = window.grid.indexAt(pos)
    if index.isValid():
        preview = menu.addAction("Preview")
        preview.triggered.connect(lambda: _preview_current(window))
        menu.addAction(window.feature_maps_action)
        menu.addSeparator()
    move = menu.addMenu("Move To")
    fill_move_menu(window, move)
    move.setEnabled(window.move_menu.isEnabled())
    menu.addAction(window.new_cluster_action)
    paths = window.selected_paths()
    if any(p in session.pinned for p in paths):
        unpin = menu.addAction(icon("unpin"), "Let the Clustering Place These Again")
        unpin.triggered.connect(lambda: window.editor.reset_pins(window.selected_paths()))
    menu.exec(window.grid.viewport().mapToGlobal(pos))


def _preview_current(window: MainWindow) -> None:
    index = window.grid.currentIndex()
    if index.isValid():
        window.show_preview(index.data(PathRole))


def cluster_menu(window: MainWindow, pos) -> None:
    index = window.cluster_view.indexAt(pos)
    session = window.session
    if not index.isValid() or session is None:
        return
    window.cluster_view.setCurrentIndex(index)
    menu = QMenu(window)
    menu.addAction(window.rename_action)
    merge = menu.addMenu(icon("merge"), "Merge Into")
    fill_merge_menu(window, merge)
    merge.setEnabled(window.merge_menu.isEnabled())
    menu.addMenu(window.split_menu)
    menu.addAction(window.delete_action)
    menu.exec(window.cluster_view.viewport().mapToGlobal(pos))
