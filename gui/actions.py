"""The window's actions as one table: text, shortcut, icon, tip, the slot, and when each is enabled.

``ACTIONS`` is read once to make the ``QAction``s (``window.<name>_action``);
``update_enabled`` asks every row's predicate about a ``State`` snapshot, so
the rule for when an action may run is written next to the action, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence

from .icons import icon


@dataclass(frozen=True)
class State:
    """What enablement depends on, read from the window in one place."""

    has_session: bool
    writable: bool  # a session is open and this window holds the folder (not read-only)
    analysing: bool
    cancelling: bool
    has_images: bool
    has_clusters: bool
    n_clusters: int
    has_selection: bool
    real_cluster: bool  # a named cluster (not All Photos, not Unsorted) is chosen
    can_split: bool
    has_pins: bool
    has_skipped: bool


Key = str | QKeySequence.StandardKey | None


@dataclass(frozen=True)
class Spec:
    name: str  # the window attribute is ``<name>_action``
    text: str
    slot: str  # a window method
    shortcut: Key = None
    icon: str | None = None
    tip: str | None = None
    enabled: Callable[[State], bool] | None = None  # None: always
    icon_text: str | None = None


ACTIONS: tuple[Spec, ...] = (
    Spec(
        "open",
        "&Open Folder…",
        "choose_folder",
        QKeySequence.StandardKey.Open,
        "folder-open",
        "Open a folder of photos",
        icon_text="Open",
    ),
    Spec(
        "analyse",
        "&Analyse",
        "analyse",
        "Ctrl+R",
        "analyse",
        "Find what is in each photo and group similar ones",
        lambda s: s.writable and not s.analysing and s.has_images,
    ),
    Spec(
        "cancel",
        "&Cancel Analysis",
        "cancel_analysis",
        "Esc",
        "stop",
        "Stop the analysis after the current batch",
        lambda s: s.analysing and not s.cancelling,
    ),
    Spec(
        "export",
        "&Export…",
        "show_export",
        "Ctrl+E",
        "export",
        "Copy, move or link the photos into one folder per cluster",
        lambda s: s.has_session and s.has_clusters,
    ),
    Spec("quit", "&Quit", "close", QKeySequence.StandardKey.Quit),
    Spec(
        "new_cluster",
        "&New Cluster from Selection",
        "new_cluster_from_selection",
        "Ctrl+N",
        "new-cluster",
        "Put the selected photos in a new cluster",
        lambda s: s.has_selection,
        icon_text="New cluster",
    ),
    Spec(
        "rename",
        "&Rename Cluster",
        "rename_cluster",
        "F2",
        "rename",
        "Rename the chosen cluster",
        lambda s: s.real_cluster,
    ),
    Spec(
        "delete",
        "&Delete Cluster",
        "delete_cluster",
        "Ctrl+Backspace",
        "delete",
        "Remove the chosen cluster; its photos go to Unsorted",
        lambda s: s.real_cluster,
    ),
    Spec(
        "regroup_rest",
        "Re&group the Rest",
        "regroup_rest",
        "Ctrl+G",
        None,
        "Group the other photos again, steered by the ones you placed by hand",
        lambda s: s.writable and s.has_pins and not s.analysing,
    ),
    Spec(
        "reset_pins",
        "Reset &Manual Moves",
        "reset_manual_moves",
        None,
        "unpin",
        "Let the clustering place photos you moved by hand again",
        lambda s: s.has_session and s.has_pins,
    ),
    Spec(
        "skipped",
        "&Skipped Files…",
        "show_skipped",
        None,
        "skipped",
        "List the files that were left out, and why",
        lambda s: s.has_skipped,
    ),
    Spec("show_all", "Show &All Photos", "show_all", "Ctrl+0", "photos"),
    Spec("zoom_in", "&Larger Thumbnails", "zoom_in", QKeySequence.StandardKey.ZoomIn),
    Spec("zoom_out", "&Smaller Thumbnails", "zoom_out", QKeySequence.StandardKey.ZoomOut),
    Spec("about", "&About PhotoCluster", "show_about"),
    Spec(
        "guide",
        "PhotoCluster &Guide",
        "show_guide",
        QKeySequence.StandardKey.HelpContents,
        None,
        "How every part of the window works",
    ),
    Spec("shortcuts", "&Keyboard Shortcuts", "show_shortcuts", "Ctrl+/", None, "Every key PhotoCluster answers"),
    Spec(
        "duplicates",
        "Find &Near-Duplicates…",
        "show_duplicates",
        None,
        None,
        "Find copies of the same picture; nothing is deleted",
    ),
    Spec(
        "feature_maps",
        "What the &Network Sees…",
        "show_feature_maps",
        "Ctrl+I",
        None,
        "The selected photo's feature maps, layer by layer, and a heat-map",
    ),
)


def make_action(owner, spec: Spec) -> QAction:
    action = QAction(spec.text, owner)
    if spec.icon:
        action.setIcon(icon(spec.icon))
    if spec.shortcut:
        action.setShortcut(QKeySequence(spec.shortcut))
    if spec.tip:
        action.setStatusTip(spec.tip)
        action.setToolTip(
            f"{spec.tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
            if spec.shortcut
            else spec.tip
        )
    if spec.icon_text:
        action.setIconText(spec.icon_text)
    action.triggered.connect(getattr(owner, spec.slot))
    owner.addAction(action)
    return action


def build_actions(owner) -> dict[str, QAction]:
    """Make every action of ``ACTIONS`` on ``owner`` and set it as ``owner.<name>_action``."""
    made = {}
    for spec in ACTIONS:
        made[spec.name] = action = make_action(owner, spec)
        setattr(owner, f"{spec.name}_action", action)
    return made


def update_enabled(actions: dict[str, QAction], state: State) -> None:
    for spec in ACTIONS:
        if spec.enabled is not None:
            actions[spec.name].setEnabled(spec.enabled(state))
