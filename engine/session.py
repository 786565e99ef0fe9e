"""The person's sorting: which photo is in which cluster, cluster names, and manual moves.

``Session`` is the single source of truth that the window and the command line
edit. Every edit returns a ``Change`` (before/after of just what it touched),
tells its listeners, and can be applied backwards, which is all an undo stack
needs. Photos the person moved are *pinned*: re-clustering leaves them where
they were put. Re-clustering also keeps cluster ids and names stable by
matching new clusters to old ones by overlap.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from operator import itemgetter
from pathlib import Path

import numpy as np
import platformdirs

from .atomic import atomic_write_text
from .cluster import UNSORTED, Clustering, prepare

UNSORTED_NAME = "Unsorted"
SESSION_VERSION = 2  # 2: photos as columns; 1 (a record per photo) still loads
DUMP_SLICE = 2000  # photos per slice of the work a thread does beside the window (saving, planning a regroup)


class SessionError(Exception):
    """A session file could not be read; the message says which and why."""


def _no_pause() -> None:
    pass


def _paused(items: Iterable, pause: Callable[[], object]) -> Iterator:
    """``items``, calling ``pause()`` after each one."""
    for item in items:
        yield item
        pause()


@dataclass
class Change:
    """What one edit did, as (before, after) pairs; ``None`` for a cluster name means "did not exist".

    ``paths`` renames photos (old -> new: they were moved on disk); ``images`` says the list of photos
    itself changed (a scan, an analysis, a rename), so views rebuild rather than update rows.
    """

    text: str
    labels: dict[str, tuple[int, int]] = field(default_factory=dict)
    names: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)
    pinned: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    images: bool = False
    settings: dict[str, tuple] = field(default_factory=dict)  # clustering settings (a regroup's method and k)

    def reversed(self) -> Change:
        flip = lambda d: {k: (after, before) for k, (before, after) in d.items()}
        back = {new: old for old, new in self.paths.items()}
        return Change(
            self.text, flip(self.labels), flip(self.names), flip(self.pinned), back, self.images, flip(self.settings)
        )

    def renamed(self, paths: dict[str, str]) -> Change:
        """The same edit of photos that now have other paths (``paths``: old -> new)."""
        return Change(
            self.text,
            {paths.get(p, p): v for p, v in self.labels.items()},
            dict(self.names),
            {paths.get(p, p): v for p, v in self.pinned.items()},
            dict(self.paths),
            self.images,
            dict(self.settings),
        )

    def __bool__(self) -> bool:
        return bool(self.labels or self.names or self.pinned or self.paths or self.images or self.settings)


@dataclass
class Regroup:
    """A fresh clustering worked out on the session at ``revision`` (``Session.plan_clustering``), to apply."""

    revision: int
    images: list[str]  # the session's photo list it was worked out on
    settings: dict
    change: Change
    confidence: dict[str, float]
    k_choice: tuple[dict[int, float], int, bool]
    representatives: dict[int, str]
    grouped: tuple[dict[int, list[str]], dict[int, str | None]]  # members and most confident, for ``_emit``


class Session:
    def __init__(self, root: str | os.PathLike, images: Iterable[str] = ()):
        self.root = Path(root)
        self.images: list[str] = list(images)
        self.labels: dict[str, int] = {p: UNSORTED for p in self.images}
        self.names: dict[int, str] = {}
        self.pinned: set[str] = set()
        # the last automatic choice of k: (score per k, k, clear); shown in the window, not saved
        self.k_choice: tuple[dict[int, float], int, bool] = ({}, 0, True)
        self.confidence: dict[str, float] = {}
        self.representatives: dict[int, str] = {}
        self.settings: dict = {"clusters": "auto", "method": "kmeans"}
        self.features: np.ndarray | None = None  # rows match self.images; not saved (the cache has them)
        self._listeners: list[Callable[[Change], None]] = []
        self._members: dict[int, list[str]] | None = None
        self.revision = 0  # changes told so far: what a ``Regroup`` was worked out on
        self._pinned_counts: Counter | None = None  # pinned_count(); per revision
        self._most_confident: dict[int, str | None] = {}  # representative() when none is stored; per revision

    # ---- observing -------------------------------------------------------
    def subscribe(self, listener: Callable[[Change], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Change], None]) -> None:
        self._listeners.remove(listener)

    def _emit(
        self, change: Change, grouped: tuple[dict[int, list[str]], dict[int, str | None]] | None = None
    ) -> Change:
        """Tell the listeners; ``grouped`` is ``members`` and the most confident member of each cluster
        when the caller has them already (a regroup), else they are worked out again when asked."""
        self._members, self._most_confident = grouped if grouped is not None else (None, {})
        self._pinned_counts = None
        self.revision += 1
        for listener in list(self._listeners):
            listener(change)
        return change

    # ---- reading ---------------------------------------------------------
    def cluster_ids(self) -> list[int]:
        """Clusters in display order: by id, with Unsorted last when it has photos."""
        ids = sorted(self.names)
        if self.members(UNSORTED):
            ids.append(UNSORTED)
        return ids

    def name(self, cluster: int) -> str:
        return UNSORTED_NAME if cluster == UNSORTED else self.names[cluster]

    def members(self, cluster: int) -> list[str]:
        """The photos of ``cluster`` in image order; all clusters are grouped at once, once per edit (numpy:
        a Python pass was 35-70 ms of the window's thread at 100,000 photos)."""
        if self._members is None:
            images = self.images
            labels = np.fromiter(map(self.labels.__getitem__, images), np.int64, len(images))
            self._members = {cid: list(map(images.__getitem__, run.tolist())) for cid, run in _runs(labels)}
        return self._members.get(cluster, [])

    def by_doubt(self, paths: list[str]) -> list[str]:
        """``paths`` most doubtful first: those not placed by hand before those placed, then the least
        confident, ties in the given order. In numpy: a Python sort of 100,000 photos by this key (a sort
        proxy's ``lessThan``) froze the window for 27 s."""
        n = len(paths)
        confidence = np.fromiter(map(self.confidence.get, paths, repeat(0.0)), np.float64, n)
        pinned = np.fromiter(map(self.pinned.__contains__, paths), bool, n)
        order = np.lexsort((confidence, pinned))  # stable; the last key sorts first
        return list(map(paths.__getitem__, order.tolist()))

    def pinned_count(self, cluster: int) -> int:
        """How many photos of ``cluster`` were placed by hand; counted once per edit (the cluster list asks
        for each row at each paint, and a pass over a cluster's photos was 15 ms at 100,000)."""
        if self._pinned_counts is None:
            self._pinned_counts = Counter(map(self.labels.__getitem__, self.pinned))
        return self._pinned_counts[cluster]

    def counts(self) -> Counter:
        return Counter(self.labels.values())

    def representative(self, cluster: int) -> str | None:
        rep = self.representatives.get(cluster)
        if rep is not None and self.labels.get(rep) == cluster:
            return rep
        if cluster not in self._most_confident:  # every model asks after each edit: 0.25 s at 100,000 photos
            members, confidence = self.members(cluster), self.confidence
            self._most_confident[cluster] = max(members, key=lambda p: confidence.get(p, 0.0)) if members else None
        return self._most_confident[cluster]

    def assignments(self) -> list[tuple[str, str]]:
        """(relative path, cluster name) for every photo, in image order."""
        return [(p, self.name(self.labels[p])) for p in self.images]

    # ---- clustering --------------------------------------------------------
    def set_analysis(self, images: list[str], features: np.ndarray | None) -> None:
        """Adopt a new image list (after a scan); photos no longer present drop out."""
        old_labels, old_pinned = self.labels, self.pinned
        self.images = list(images)
        self.features = features
        self.labels = {p: old_labels.get(p, UNSORTED) for p in self.images}
        self.pinned = {p for p in old_pinned if p in self.labels}
        self._emit(Change("Update the photos", images=True))

    def set_features(self, features: np.ndarray) -> None:
        """The features of the photos as they are (read back from the cache): the sorting and the photo list do
        not change, so views keep their rows, selection and scroll place; the listeners still hear of it."""
        if len(features) != len(self.images):
            raise ValueError("features must have one row per photo")
        self.features = features
        self._emit(Change("Features from the cache"))

    def relocate(self, paths: dict[str, str]) -> Change:
        """Photos were moved on disk (``paths``: old -> new, relative to ``root``): they keep clusters and pins."""
        paths = {old: new for old, new in paths.items() if old in self.labels and old != new}
        return self.commit(Change(f"Move {len(paths)} photos on disk", paths=paths, images=True))

    def apply_clustering(self, clustering: Clustering, settings: dict | None = None) -> Change:
        """Take a fresh clustering of ``self.images``; pinned photos stay put, ids and names carry over."""
        return self.apply_regroup(self.plan_clustering(clustering, settings))

    def plan_clustering(
        self, clustering: Clustering, settings: dict | None = None, pause: Callable[[], object] = _no_pause
    ) -> Regroup:
        """``apply_clustering``'s work, leaving the session as it is: 60-150 ms at 100,000 photos that the
        window does in a worker thread, on a ``snapshot``, and then only applies. The work over every photo
        goes a slice at a time with ``pause()`` between (see ``dumps``): in one go, a thread beside it waited
        up to 29 ms for each take of the GIL, and a paint takes it dozens of times."""
        if len(clustering.labels) != len(self.images):
            raise ValueError("clustering does not match the session's images")
        images, n = self.images, len(self.images)
        # numpy over the photos, not Python: map has no Python frame per photo
        # no count for fromiter: it then reads to the end, so the pause after the last slice runs too
        old = np.fromiter(_sliced_map(self.labels.__getitem__, images, pause), np.int64)
        free = np.flatnonzero(~np.fromiter(_sliced_map(self.pinned.__contains__, images, pause), bool))
        new = np.asarray(clustering.labels, dtype=np.int64)[free]
        new_ids = _match_ids(
            old[free], new, self.names, {label: cid for label, cid in clustering.fixed.items() if cid in self.names}
        )
        final = old.copy()
        final[free] = _lookup(new_ids, new, UNSORTED)
        change = Change("Re-cluster")
        kept = {self.labels[p] for p in self.pinned} | set(new_ids.values())
        next_name = _NameSource(self.names)
        for cid in list(self.names):
            if cid not in kept:
                change.names[cid] = (self.names[cid], None)
        for cid in sorted(set(new_ids.values()) - {UNSORTED}):
            if cid not in self.names:
                change.names[cid] = (None, next_name())
        confidence = np.asarray(clustering.confidence, dtype=np.float64)
        for key, value in (settings or {}).items():  # part of the edit: an undo brings the old method back
            if self.settings.get(key) != value:
                change.settings[key] = (self.settings.get(key), value)
        ids = self._renumber(change)
        if ids:
            final = _lookup(ids, final)
        moved = np.flatnonzero(final != old)
        for s in range(0, len(moved), DUMP_SLICE):
            rows = moved[s : s + DUMP_SLICE]
            change.labels.update(
                zip(map(images.__getitem__, rows.tolist()), zip(old[rows].tolist(), final[rows].tolist()))
            )
            pause()
        by_photo: dict[str, float] = {}
        for s in range(0, n, DUMP_SLICE):
            by_photo.update(zip(images[s : s + DUMP_SLICE], confidence[s : s + DUMP_SLICE].tolist()))
            pause()
        representatives = {new_ids[c]: images[i] for c, i in clustering.representatives.items() if c in new_ids}
        return Regroup(
            self.revision,
            images,
            dict(self.settings),
            change,
            by_photo,
            (dict(clustering.k_scores), clustering.k, clustering.k_clear),
            {ids.get(c, c): p for c, p in representatives.items()},
            _grouped(images, final, confidence, pause),
        )

    def apply_regroup(self, regroup: Regroup) -> Change:
        """Take a ``plan_clustering`` result; one planned on another state of the session is refused."""
        if not self.can_apply(regroup):
            raise ValueError("the regroup was worked out on an earlier state of the session")
        self.confidence, self.k_choice = regroup.confidence, regroup.k_choice
        self._apply(regroup.change)
        self.representatives = dict(regroup.representatives)
        return self._emit(regroup.change, regroup.grouped)

    def can_apply(self, regroup: Regroup) -> bool:
        """Whether the session is still as ``regroup`` found it (no edit since, the same photos and settings)."""
        return regroup.revision == self.revision and regroup.images is self.images and regroup.settings == self.settings

    def snapshot(self) -> Session:
        """A copy to read in another thread (``plan_clustering``) while this one goes on being edited. C-level
        copies, a few ms at 100,000 photos; the photo list is shared (it is replaced, never changed in place)."""
        copy = Session(self.root)
        copy.images, copy.labels, copy.pinned = self.images, dict(self.labels), set(self.pinned)
        copy.names, copy.settings, copy.revision = dict(self.names), dict(self.settings), self.revision
        return copy

    def _renumber(self, change: Change) -> dict[int, int]:
        """Fold into a regroup's ``change`` the names for ids 0..N-1 in list order: default names "Cluster 1"..
        "Cluster N" to match (names the person gave are kept), so the list reads 1..N with no gaps and key n is
        "Cluster n". Returns the id mapping (old -> new) the photos' labels are to follow."""
        names = dict(self.names)  # the names as they will be after ``change``
        for cid, (_, after) in change.names.items():
            if after is None:
                names.pop(cid, None)
            else:
                names[cid] = after
        ids = sorted(names)
        moved = {cid: i for i, cid in enumerate(ids) if cid != i}
        given = {moved.get(cid, cid): n for cid, n in names.items() if not DEFAULT_NAME.fullmatch(n)}
        taken = {n.casefold() for n in given.values()}
        wanted: dict[int, str] = {}
        for i in range(len(ids)):
            name = given.get(i)
            if name is None:
                name, n = f"Cluster {i + 1}", 2
                while name.casefold() in taken:
                    name, n = f"Cluster {i + 1} ({n})", n + 1
                taken.add(name.casefold())
            wanted[i] = name
        change.names = {
            cid: (self.names.get(cid), wanted.get(cid))
            for cid in self.names.keys() | wanted.keys()
            if self.names.get(cid) != wanted.get(cid)
        }
        return moved

    # ---- edits (each returns the Change it made) -----------------------------
    def move(self, paths: Iterable[str], cluster: int) -> Change:
        paths = [p for p in paths if p in self.labels]
        if cluster != UNSORTED and cluster not in self.names:
            raise KeyError(f"no cluster {cluster}")
        n = len(paths)
        change = Change(f"Move {n} photo{'s' if n != 1 else ''} to {self.name(cluster)}")
        for p in paths:
            if self.labels[p] != cluster:
                change.labels[p] = (self.labels[p], cluster)
            if p not in self.pinned:
                change.pinned[p] = (False, True)
        return self.commit(change)

    def new_cluster(self, paths: Iterable[str], name: str | None = None) -> tuple[int, Change]:
        cid = max(self.names, default=-1) + 1
        name = self._unique_name(name or _NameSource(self.names)())
        paths = [p for p in paths if p in self.labels]
        change = Change(f"New cluster {name}", names={cid: (None, name)})
        for p in paths:
            change.labels[p] = (self.labels[p], cid)
            if p not in self.pinned:
                change.pinned[p] = (False, True)
        return cid, self.commit(change)

    def rename(self, cluster: int, name: str) -> Change:
        name = " ".join(name.split())
        if not name:
            raise ValueError("a cluster name cannot be empty")
        if name == self.names[cluster]:
            return Change("Rename")
        name = self._unique_name(name, ignore=cluster)
        return self.commit(
            Change(f"Rename {self.names[cluster]} to {name}", names={cluster: (self.names[cluster], name)})
        )

    def merge(self, sources: Iterable[int], target: int) -> Change:
        sources = [s for s in sources if s != target and s in self.names]
        change = Change(f"Merge {', '.join(self.names[s] for s in sources)} into {self.names[target]}")
        for s in sources:
            change.names[s] = (self.names[s], None)
            for p in self.members(s):
                change.labels[p] = (s, target)
        return self.commit(change)

    def delete_cluster(self, cluster: int) -> Change:
        """Remove a cluster; its photos go to Unsorted."""
        change = Change(f"Delete cluster {self.names[cluster]}", names={cluster: (self.names[cluster], None)})
        for p in self.members(cluster):
            change.labels[p] = (cluster, UNSORTED)
        return self.commit(change)

    def split(self, cluster: int, parts: int = 2, seed: int = 0) -> Change:
        """Split a cluster in ``parts`` by k-means on its photos' features."""
        from sklearn.cluster import KMeans

        if self.features is None:
            raise RuntimeError("splitting needs the photos' features; analyse the folder first")
        members = self.members(cluster)
        if len(members) < parts:
            raise ValueError(f"{self.name(cluster)} has fewer than {parts} photos")
        index = {p: i for i, p in enumerate(self.images)}
        x = prepare(self.features[[index[p] for p in members]], seed)
        labels = KMeans(parts, n_init=10, random_state=seed).fit_predict(x)
        change = Change(f"Split {self.name(cluster)} in {parts}")
        names = _NameSource(self.names)
        next_id = max(self.names, default=-1) + 1
        for part in range(1, parts):
            cid = next_id + part - 1
            change.names[cid] = (
                None,
                self._unique_name(f"{self.name(cluster)} ({part + 1})" if cluster != UNSORTED else names()),
            )
            for p, lbl in zip(members, labels):
                if lbl == part:
                    change.labels[p] = (cluster, cid)
        return self.commit(change)

    def reset_pins(self, paths: Iterable[str] | None = None) -> Change:
        targets = self.pinned if paths is None else self.pinned.intersection(paths)
        return self.commit(Change("Reset manual moves", pinned={p: (True, False) for p in targets}))

    def commit(self, change: Change) -> Change:
        """Apply ``change`` forwards and tell the listeners."""
        if change:
            self._apply(change)
            self._emit(change)
        return change

    def undo(self, change: Change) -> Change:
        return self.commit(change.reversed())

    def _apply(self, change: Change) -> None:
        if change.paths:
            ren = change.paths
            self.images = [ren.get(p, p) for p in self.images]
            self.labels = {ren.get(p, p): c for p, c in self.labels.items()}
            self.pinned = {ren.get(p, p) for p in self.pinned}
            self.confidence = {ren.get(p, p): c for p, c in self.confidence.items()}
            self.representatives = {c: ren.get(p, p) for c, p in self.representatives.items()}
        for cid, (_, after) in change.names.items():
            if after is None:
                self.names.pop(cid, None)
            else:
                self.names[cid] = after
        self.labels.update(zip(change.labels, map(itemgetter(1), change.labels.values())))
        for p, (_, pinned) in change.pinned.items():
            (self.pinned.add if pinned else self.pinned.discard)(p)
        for key, (_, value) in change.settings.items():
            self.settings[key] = value

    def _unique_name(self, name: str, ignore: int | None = None) -> str:
        taken = {n.casefold() for c, n in self.names.items() if c != ignore} | {UNSORTED_NAME.casefold()}
        candidate, n = name, 2
        while candidate.casefold() in taken:
            candidate, n = f"{name} ({n})", n + 1
        return candidate

    # ---- saving --------------------------------------------------------------
    def to_dict(self) -> dict:
        return self.frozen_dict()()

    def frozen_dict(self) -> Callable[..., dict]:
        """``to_dict`` made later from copies taken now. The copies are C-level (a few ms at 100,000
        photos); the callable turns them into columns a slice at a time, also C-level, calling
        ``pause`` between slices (see ``dumps``)."""
        root, settings, names = str(self.root), dict(self.settings), sorted(self.names.items())
        images, labels, pinned = list(self.images), dict(self.labels), set(self.pinned)
        confidence, reps = dict(self.confidence), {str(c): p for c, p in self.representatives.items()}

        def build(pause: Callable[[], object] = _no_pause) -> dict:
            def column(lookup: Callable, *more: Iterable) -> list:
                return list(_sliced_map(lookup, images, pause, *more))

            rounded = np.round(np.array(column(confidence.get, repeat(0.0)), dtype=float), 4)
            return {
                "version": SESSION_VERSION,
                "root": root,
                "settings": settings,
                "clusters": [{"id": c, "name": n} for c, n in names],
                "images": {
                    "path": images,
                    "cluster": column(labels.__getitem__),
                    "pinned": column(pinned.__contains__),
                    "confidence": rounded.tolist(),
                },
                "representatives": reps,
            }

        return build

    @classmethod
    def from_dict(cls, data: dict) -> Session:
        """Rebuild a session from ``to_dict``'s form, or the one photo per record form that version 1
        wrote; anything else (checked as a whole first) is a ``SessionError`` naming the first field
        that is wrong."""
        if not isinstance(data, dict) or type(data.get("version")) is not int or data["version"] not in (1, 2):
            raise SessionError("unknown session format")
        _validate(data)
        columns = data["images"] if data["version"] == 2 else _records_to_columns(data["images"])
        try:
            paths = columns["path"]
            session = cls(data["root"], paths)
            session.names = {int(c["id"]): str(c["name"]) for c in data["clusters"]}
            known = session.names.keys()
            session.labels = {p: c if c in known else UNSORTED for p, c in zip(paths, columns["cluster"])}
            session.pinned = set(compress(paths, columns["pinned"]))
            session.confidence = dict(zip(paths, map(float, columns["confidence"])))
            session.settings.update(data.get("settings", {}))
            session.representatives = {int(c): p for c, p in data.get("representatives", {}).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionError(f"session data is incomplete or damaged ({exc!r})") from None
        return session

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically: a crash leaves the previous file or the new one, never half of one."""
        atomic_write_text(Path(path), dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Session:
        try:
            text = Path(path).read_text(encoding="utf-8")
            return cls.from_dict(json.loads(text))
        except RecursionError:
            raise SessionError(f"session file {path}: nested too deeply to be a session") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SessionError(f"cannot read session file {path}: {exc}") from None
        except SessionError as exc:
            raise SessionError(f"session file {path}: {exc}") from None


def load_or_set_aside(path: str | os.PathLike) -> tuple[Session | None, str | None]:
    """The autosaved session at ``path``, if any; a damaged one is moved aside (never deleted) and reported.

    Returns (session or None, warning or None).
    """
    path = Path(path)
    if not path.exists():
        return None, None
    try:
        return Session.load(path), None
    except Exception as exc:
        if not isinstance(exc, SessionError):
            exc = SessionError(f"session file {path}: {type(exc).__name__}: {exc}")
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(path, aside)
        except OSError as move_error:
            return None, f"{exc}. It could not be moved aside ({move_error}); it is left as it was."
        return None, f"{exc}. It was kept as {aside.name} and a new session starts from the photos."


def _finite(v) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


_COLUMNS: dict[str, tuple[Callable[[object], bool], str]] = {  # version 2's photo columns: test, what it should be
    "path": (lambda v: type(v) is str, "a text path"),
    "cluster": (lambda v: type(v) is int, "a whole-number cluster id"),
    "pinned": (lambda v: type(v) is bool, "true or false"),
    "confidence": (_finite, "a finite number"),
}


def _records_to_columns(records: list[dict]) -> dict[str, list]:
    """Version 1's photo records (validated) as version 2's columns."""
    return {
        "path": [r["path"] for r in records],
        "cluster": [r["cluster"] for r in records],
        "pinned": [r.get("pinned", False) for r in records],
        "confidence": [r.get("confidence", 0.0) for r in records],
    }


def _validate(data: dict) -> None:
    """The whole file against the session format (what ``to_dict`` writes); raises ``SessionError``."""

    def need(ok: bool, where: str, what: str) -> None:
        if not ok:
            raise SessionError(f"{where} should be {what}")

    def is_int(v) -> bool:
        return type(v) is int

    need(isinstance(data.get("root"), str), "root", "a folder path")
    need(isinstance(data.get("settings", {}), dict), "settings", "an object")
    for key, value in data.get("settings", {}).items():
        need(value is None or type(value) in (str, int, float, bool), f"settings.{key}", "a plain value")
    need(isinstance(data.get("clusters"), list), "clusters", "a list")
    for i, c in enumerate(data["clusters"]):
        need(
            isinstance(c, dict) and is_int(c.get("id")) and isinstance(c.get("name"), str),
            f"clusters[{i}]",
            'an object with a whole-number "id" and a text "name"',
        )
    if data["version"] == 1:
        need(isinstance(data.get("images"), list), "images", "a list")
        for i, img in enumerate(data["images"]):
            need(
                isinstance(img, dict) and isinstance(img.get("path"), str) and is_int(img.get("cluster")),
                f"images[{i}]",
                'an object with a text "path" and a whole-number "cluster"',
            )
            need(type(img.get("pinned", False)) is bool, f"images[{i}].pinned", "true or false")
            need(_finite(img.get("confidence", 0.0)), f"images[{i}].confidence", "a finite number")
    else:
        columns = data.get("images")
        if not isinstance(columns, dict):
            raise SessionError("images should be an object of columns")
        for key, (ok, what) in _COLUMNS.items():
            column = columns.get(key)
            if not isinstance(column, list):
                raise SessionError(f"images.{key} should be a list")
            need(len(column) == len(columns["path"]), f"images.{key}", "as long as images.path")
            bad = next((i for i, v in enumerate(column) if not ok(v)), None)
            need(bad is None, f"images.{key}[{bad}]", what)
    reps = data.get("representatives", {})
    need(isinstance(reps, dict), "representatives", "an object")
    for key, value in reps.items():
        need(
            key.lstrip("-").isdigit() and isinstance(value, str),
            f"representatives.{key}",
            "a photo path under a cluster id",
        )


def session_path_for(root: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> Path:
    """Where the window autosaves the session of a folder (never inside the photo folder)."""
    base = (
        Path(data_dir)
        if data_dir
        else Path(
            os.environ.get("PHOTOCLUSTER_DATA_DIR") or platformdirs.user_data_dir("photocluster", appauthor=False)
        )
    )
    key = hashlib.blake2b(os.fsencode(Path(root).resolve()), digest_size=10).hexdigest()
    return base / "sessions" / f"{Path(root).name or 'root'}-{key}.json"


def dumps(data: dict, pause: Callable[[], object] = _no_pause) -> str:
    """A session as compact ASCII JSON. ASCII: a file name that is not valid UTF-8 (surrogate escapes) is kept as
    \\udcXX and reads back exactly. Compact: ``indent`` would make ``json`` fall back from its C encoder to pure
    Python, 5x slower at 100,000 photos (bench/scale.py). Each photo column is encoded in slices with ``pause()``
    between them: a worker thread writing beside the window passes a short sleep, which hands the GIL over
    at once. Else the window, which takes the GIL for each of its Python calls, waits up to Python's switch
    interval (5 ms) each time: 50 takes cost 200 ms during a save at 100,000 photos, 40 ms with columns alone."""
    compact = (",", ":")
    columns = data.get("images")
    if not isinstance(columns, dict):
        return json.dumps(data, separators=compact)
    head = json.dumps({k: v for k, v in data.items() if k != "images"}, separators=compact)
    body = ",".join(
        json.dumps(key)
        + ":["
        + ",".join(
            _paused(
                (json.dumps(col[s : s + DUMP_SLICE], separators=compact)[1:-1] for s in range(0, len(col), DUMP_SLICE)),
                pause,
            )
        )
        + "]"
        for key, col in columns.items()
    )
    return f'{head[:-1]}{"," if len(head) > 2 else ""}"images":{{{body}}}}}'


DEFAULT_NAME = re.compile(r"Cluster \d+( \(\d+\))?")  # a name PhotoCluster gave, not the person


class _NameSource:
    """Default names "Cluster 1", "Cluster 2", ... skipping names in use."""

    def __init__(self, names: dict[int, str]):
        self.taken = {n.casefold() for n in names.values()}
        self.n = 0

    def __call__(self) -> str:
        while True:
            self.n += 1
            name = f"Cluster {self.n}"
            if name.casefold() not in self.taken:
                self.taken.add(name.casefold())
                return name


def _match_ids(
    old: np.ndarray, new: np.ndarray, names: dict[int, str], fixed: dict[int, int] | None = None
) -> dict[int, int]:
    """Map each new cluster label to an id: ``fixed`` ones as given (pinned groups), others the old
    cluster they overlap most, else a fresh id."""
    from scipy.optimize import linear_sum_assignment

    fixed = fixed or {}
    old, new = np.asarray(old, dtype=np.int64), np.asarray(new, dtype=np.int64)
    new_labels = sorted(set(np.unique(new).tolist()) - {UNSORTED} - set(fixed))
    old_labels = sorted(set(np.unique(old).tolist()) - {UNSORTED} - set(fixed.values()))
    mapping: dict[int, int] = {UNSORTED: UNSORTED, **fixed}
    if old_labels and new_labels:
        both = np.isin(new, new_labels) & np.isin(old, old_labels)
        overlap = np.zeros((len(new_labels), len(old_labels)))
        np.add.at(overlap, (np.searchsorted(new_labels, new[both]), np.searchsorted(old_labels, old[both])), 1)
        rows, cols = linear_sum_assignment(-overlap)
        for r, c in zip(rows, cols):
            if overlap[r, c] > 0:
                mapping[new_labels[r]] = old_labels[c]
    next_id = max(list(names) + old_labels + list(fixed.values()), default=-1) + 1
    for n in new_labels:
        if n not in mapping:
            mapping[n] = next_id
            next_id += 1
    return mapping


def _grouped(
    images: list[str], labels: np.ndarray, confidence: np.ndarray, pause: Callable[[], object] = _no_pause
) -> tuple[dict[int, list[str]], dict[int, str | None]]:
    """``members`` and the most confident member of each cluster, from arrays in image order. The Python
    pass that ``members`` and ``representative`` make was 60-90 ms of the window's thread after each
    regroup at 100,000 photos (bench/scale.py); a stable sort keeps image order and the first maximum."""
    members: dict[int, list[str]] = {}
    best: dict[int, str | None] = {}
    for cid, run in _runs(labels):
        members[cid] = list(map(images.__getitem__, run.tolist()))
        best[cid] = images[int(run[np.argmax(confidence[run])])]
        pause()
    return members, best


def _sliced_map(lookup: Callable, items: list, pause: Callable[[], object], *more: Iterable) -> Iterator:
    """``map(lookup, items, *more)`` a slice at a time, with ``pause()`` between slices (see ``dumps``)."""
    slices = (map(lookup, items[s : s + DUMP_SLICE], *more) for s in range(0, len(items), DUMP_SLICE))
    return chain.from_iterable(_paused(slices, pause))


def _runs(labels: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(label, its rows in order) for each label there is, smallest first: a stable sort, split where it changes."""
    order = np.argsort(labels, kind="stable")
    return [
        (int(labels[run[0]]), run) for run in np.split(order, np.flatnonzero(np.diff(labels[order])) + 1) if len(run)
    ]


def _lookup(mapping: dict[int, int], labels: np.ndarray, missing: int | None = None) -> np.ndarray:
    """``mapping`` applied to every label (labels it lacks become ``missing``, or stay as they are)."""
    if len(labels) == 0:
        return np.asarray(labels, dtype=np.int64)
    values, inverse = np.unique(labels, return_inverse=True)
    mapped = [mapping.get(v, v if missing is None else missing) for v in values.tolist()]
    return np.asarray(mapped, dtype=np.int64)[inverse.reshape(-1)]
