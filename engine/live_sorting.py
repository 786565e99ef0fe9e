"""The groups so far, put into the person's Session while the analysis runs, without undoing their edits.

``LiveSorting.update`` turns each ``progressive.Groups`` snapshot into one Session ``Change``:

- after a new fit, every analysed photo that is not pinned is regrouped, and the fit's clusters take
  the ids (so the names) of the Session clusters they overlap most, as ``Session.apply_clustering`` does;
- between fits only the photos placed since the last snapshot change, so whatever the person did
  meanwhile (moves, renames, merges, deletes) stays; newcomers of a cluster the person merged away or
  deleted go where that cluster's photos went.

Pinned photos are never touched. These changes are not the person's edits, so they are not for the
undo stack; the final clustering at the end is (``Session.apply_clustering``).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .cluster import UNSORTED
from .progressive import Groups
from .session import Change, Session, _NameSource

NOT_GIVEN = -2  # not a cluster label (UNSORTED is -1)


class LiveSorting:
    def __init__(self, session: Session, paths: list[str]):
        self.session = session
        self.paths = paths  # what ``Groups.rows`` index
        self.fit: int | None = None
        self.ids: dict[int, int] = {}  # fit label -> Session cluster id
        self.given = np.full(len(paths), NOT_GIVEN, np.int32)  # per row: the fit label it was last given

    def update(self, groups: Groups) -> Change:
        """Apply ``groups`` to the Session; returns the Change it committed."""
        s = self.session
        refit = groups.fit != self.fit
        rows, labels, confidence = groups.rows, groups.labels, groups.confidence
        if not refit:  # only what is new since the last snapshot: numpy, so it stays quick at 100,000 photos
            new = self.given[rows] != labels
            rows, labels, confidence = rows[new], labels[new], confidence[new]
        placed = [
            (r, self.paths[r], label, c)
            for r, label, c in zip(rows.tolist(), labels.tolist(), confidence.tolist())
            if self.paths[r] in s.labels and self.paths[r] not in s.pinned
        ]
        if refit:
            self.fit = groups.fit
            self.given[:] = NOT_GIVEN
            old = np.fromiter((s.labels[p] for _, p, _, _ in placed), np.int64, len(placed))
            self.ids = _match(old, np.fromiter((lbl for _, _, lbl, _ in placed), np.int64, len(placed)), s.names)
        else:
            self._follow_edits()
        change = Change("Place the photos analysed so far")
        names = _NameSource(s.names)
        best: dict[int, tuple[float, str]] = {}  # per cluster: its most typical photo in this update
        for r, p, label, c in placed:
            after = self._id(label)
            if after != UNSORTED and after not in s.names and after not in change.names:
                change.names[after] = (None, names())
            if s.labels[p] != after:
                change.labels[p] = (s.labels[p], after)
            self.given[r] = label
            s.confidence[p] = c
            if after != UNSORTED and c > best.get(after, (-1.0, ""))[0]:
                best[after] = (c, p)
        if refit:
            self._drop_emptied(change)
        self._keep_representatives(change, best)
        return s.commit(change)

    def _keep_representatives(self, change: Change, best: dict[int, tuple[float, str]]) -> None:
        """A cluster's thumbnail in the side list stays while its photo stays in it (no reload with every batch
        or refit); the final grouping picks the most typical photo."""
        s = self.session
        for cid, (_, path) in best.items():
            rep = s.representatives.get(cid)
            still_there = rep is not None and (change.labels[rep][1] if rep in change.labels else s.labels[rep]) == cid
            if not still_there:
                s.representatives[cid] = path

    def _id(self, label: int) -> int:
        if label not in self.ids:  # a fit label the matching never saw: a cluster of its own
            self.ids[label] = max([*self.session.names, *self.ids.values(), -1]) + 1
        return self.ids[label]

    def _follow_edits(self) -> None:
        """A cluster the person merged or deleted: its newcomers go where most of its photos are now."""
        s = self.session
        for label, cid in self.ids.items():
            if cid == UNSORTED or cid in s.names:
                continue
            members = (self.paths[r] for r in np.flatnonzero(self.given == label).tolist())
            now = Counter(s.labels[p] for p in members if p in s.labels)
            self.ids[label] = next((c for c, _ in now.most_common() if c in s.names), UNSORTED)

    def _drop_emptied(self, change: Change) -> None:
        """After a refit, clusters left with no photos and matched by no new cluster go (as in a regroup)."""
        s = self.session
        counts = Counter(s.labels.values())
        for before, after in change.labels.values():
            counts[before] -= 1
            counts[after] += 1
        kept = set(self.ids.values())
        for cid in s.names:
            if cid not in kept and counts[cid] <= 0:
                change.names[cid] = (s.names[cid], None)


def _match(old: np.ndarray, new: np.ndarray, names: dict[int, str]) -> dict[int, int]:
    """Each new label -> the Session cluster it overlaps most (one to one), else a fresh id: the rule of
    ``Session.apply_clustering``, counted with numpy (a Python loop is 20 ms of the window's time at 3,000)."""
    from scipy.optimize import linear_sum_assignment

    mapping = {UNSORTED: UNSORTED}
    new_labels, old_labels = np.unique(new[new != UNSORTED]), np.unique(old[old != UNSORTED])
    if len(new_labels) and len(old_labels):
        both = (old != UNSORTED) & (new != UNSORTED)
        overlap = np.zeros((len(new_labels), len(old_labels)))
        np.add.at(overlap, (np.searchsorted(new_labels, new[both]), np.searchsorted(old_labels, old[both])), 1)
        for i, j in zip(*linear_sum_assignment(-overlap)):
            if overlap[i, j] > 0:
                mapping[int(new_labels[i])] = int(old_labels[j])
    next_id = max([*names, *old_labels.tolist(), -1]) + 1
    for label in new_labels.tolist():
        if label not in mapping:
            mapping[label], next_id = next_id, next_id + 1
    return mapping
