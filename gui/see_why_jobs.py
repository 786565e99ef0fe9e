"""The "see why" views' heavy work, run like the analysis: in a spawned child process, never in the window's.

Importing TensorFlow and SciPy/scikit-learn's LAPACK calls hold the GIL for up
to seconds (see ``gui.jobs``), so the feature maps (VGG16) and the similarity
map's layout (PCA + t-SNE) run in a child process of their own, which keeps
its VGG16 and the last photos' activations between requests. It is a second
``jobs.EngineProcess``: an analysis running at the same time is neither
slowed by a queue nor disturbed (one ``EngineProcess`` serves one job at a
time, so ours are serialised with a lock).

The generators below are run by a ``GeneratorWorker``; with ``in_process=True``
they call the engine directly in the worker thread instead (tests and scripts,
where a stall does not matter and the model is already loaded). No Qt in here:
the child imports this module.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass

import numpy as np

from engine import activations, duplicates, embedding
from engine.pipeline import Progress
from engine.weights import WeightsSource

from .jobs import EngineProcess, child_cancel_event

PROCESS = EngineProcess("see-why")
atexit.register(PROCESS.shutdown)
_one_at_a_time = threading.Lock()

MAPS_PER_PAGE = 64
HEAT_SIDE = 448  # the heat-map overlay's longer side


@dataclass
class MapsPage:
    path: str
    layer: str
    first: int  # position of the first map on this page, in the chosen order
    maps: np.ndarray  # count x H x W uint8, contrast-scaled per map
    strength: np.ndarray  # count floats: mean activation of each map (unscaled)
    channels: int  # maps in the whole layer
    index: np.ndarray  # count ints: the channel number of each map on the page
    order: str = "channel"


@dataclass
class HeatOverlay:
    path: str
    photo: np.ndarray  # H x W x 3 uint8
    blended: np.ndarray  # H x W x 3 uint8
    heat: np.ndarray  # H x W float32 in [0, 1]


def _run(call, args: tuple, cancel: threading.Event | None, in_process: bool):
    if in_process:
        return call(*args)
    with _one_at_a_time:
        return (yield from PROCESS.run(call, args, cancel or threading.Event()))


# ---- window side: generators for GeneratorWorker ------------------------------------------------
def maps_job(
    weights: WeightsSource,
    path: str,
    layer: str,
    first: int,
    count: int,
    scaling: str,
    order: str = "channel",
    in_process: bool = False,
    cancel: threading.Event | None = None,
):
    yield Progress("maps", 0, 0, message="Running the photo through VGG16")
    return (yield from _run(maps_page, (weights, path, layer, first, count, scaling, order), cancel, in_process))


def heat_job(weights: WeightsSource, path: str, in_process: bool = False, cancel: threading.Event | None = None):
    yield Progress("maps", 0, 0, message="Finding where the deepest layer fires")
    return (yield from _run(heat_overlay, (weights, path), cancel, in_process))


def layout_job(features: np.ndarray, method: str, in_process: bool = False, cancel: threading.Event | None = None):
    yield Progress("layout", 0, 0, message=f"Laying out {len(features):,} photos")
    return (yield from _run(layout, (features, method), cancel, in_process))


def duplicates_job(paths: list[str], root, features: np.ndarray | None, cancel: threading.Event | None = None):
    """Runs in the worker thread: decoding (Pillow) and faiss release the GIL, nothing here holds it for long."""
    return (yield from duplicates.find_duplicates(paths, root, features, cancel=cancel))


# ---- child side (also called directly with in_process) ---------------------------------------------
def maps_page(
    weights: WeightsSource, path: str, layer: str, first: int, count: int, scaling: str, order: str = "channel"
) -> MapsPage:
    """One page of a layer's maps; ``order`` "strength" pages through the most active maps first."""
    maps = activations.shared(weights).maps(path, layer)
    channels = maps.shape[-1]
    first = max(0, min(first, channels - 1))
    strength = activations.strength(maps)
    order_index = np.argsort(-strength, kind="stable") if order == "strength" else np.arange(channels)
    index = order_index[first : first + count]
    chosen = maps[..., index]
    return MapsPage(
        path, layer, first, activations.scale_maps(chosen, scaling), strength[index], channels, index, order
    )


def heat_overlay(weights: WeightsSource, path: str) -> HeatOverlay:
    photo, heat, blended = activations.overlay(activations.shared(weights), path, HEAT_SIDE)
    return HeatOverlay(path, photo, blended, heat)


def layout(features: np.ndarray, method: str) -> embedding.Embedding:
    result = embedding.embed(features, method, cancel=child_cancel_event())
    result.prepared = None  # not needed by the window: do not ship it back
    return result
