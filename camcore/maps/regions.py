"""Every connected region of a map at many threshold levels in one pass (nested_region_boxes): what the WSOL
sweeps (camcore.scores.wsol) need at a hundred levels per map, with the same regions as heatmap.region_boxes
level by level at a fraction of the labellings."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from camcore.maps.heatmap import EIGHT_NEIGHBOURS


@dataclass(frozen=True, eq=False)
class LevelRegions:
    """region_boxes at many levels at once. Row i is a region kept at levels[level_index[i]]: boxes (M, 4)
    [x0, y0, x1, y1] (x1/y1 exclusive), sizes (M,) in pixels. Rows come grouped by level_index, ascending, each
    level's largest region first (threshold_box's: of equal sizes, the first in row-major order); a level that
    keeps nothing has no row."""

    level_index: np.ndarray
    boxes: np.ndarray
    sizes: np.ndarray


def nested_region_boxes(normalised: np.ndarray, levels: np.ndarray) -> LevelRegions:
    """Every region of region_boxes(normalised, level) of an (H, W) map, for each of (T,) levels in any order.

    The kept sets nest: as the level falls, a region grows, appears (at a regional maximum) or merges with
    another, nothing else. So a stretch of levels without appearing or merging regions needs one labelling, at
    its lowest level: it names the region each pixel joins at its own level, and boxes and sizes accumulate down
    the stretch. A smooth map needs a few labellings where region_boxes level by level needs T.
    """
    normalised = np.asarray(normalised)
    compared_in = normalised.dtype if np.issubdtype(normalised.dtype, np.floating) else np.float64  # as numpy compares
    levels = np.asarray(levels).astype(compared_in, copy=False).reshape(-1)  # region_boxes' float(level) with the map
    order = np.argsort(levels, kind="stable")
    rank = np.searchsorted(levels[order], normalised, side="right").astype(np.min_scalar_type(len(levels)))
    rank[~(normalised > 0)] = 0  # how many levels keep the pixel: kept at the s-th lowest level iff rank > s
    if not rank.any():
        return LevelRegions(np.zeros(0, dtype=np.intp), np.zeros((0, 4), dtype=np.int64), np.zeros(0, dtype=np.int64))
    labelling = _Labelling(rank)
    rows = _region_rows(labelling, _stretches(labelling, _appearances(rank)))
    rows = rows[np.lexsort((rows[:, 6], -rows[:, 5], order[rows[:, 0]]))]
    return LevelRegions(order[rows[:, 0]], rows[:, 1:5], rows[:, 5])


class _Labelling:
    """The 8-connected regions of rank > s (kept at the s-th lowest level), labelled once per s inside the box of
    what is kept: (labels, count, the box's top row and left column)."""

    def __init__(self, rank: np.ndarray) -> None:
        self.rank, self._row_top, self._column_top = rank, rank.max(axis=1), rank.max(axis=0)
        self._done: dict[int, tuple[np.ndarray, int, int, int]] = {}

    def __call__(self, level: int) -> tuple[np.ndarray, int, int, int]:
        if level not in self._done:
            rows, columns = np.flatnonzero(self._row_top > level), np.flatnonzero(self._column_top > level)
            kept = self.rank[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1] > level
            labels, count = ndimage.label(kept, structure=EIGHT_NEIGHBOURS)
            self._done[level] = labels, int(count), int(rows[0]), int(columns[0])
        return self._done[level]

    def count(self, level: int) -> int:
        return self(level)[1]

    def regions_at(self, level: int, pixels: np.ndarray) -> np.ndarray:
        """The 0-based region at `level` of each of (n,) row-major pixel indices, all of them kept there."""
        labels, _, row0, column0 = self(level)
        rows = pixels // self.rank.shape[1]
        return labels[rows - row0, pixels - rows * self.rank.shape[1] - column0].astype(np.intp) - 1


def _appearances(rank: np.ndarray) -> np.ndarray:
    """The levels s at which a region appears (kept at s, none of it at s + 1): regional maxima of rank s + 1,
    plateaus that no neighbour tops. Their pixels equal their neighbours' maximum, and no pixel of the same rank
    touching them fails to (the plateau would go on past it and up)."""
    peak = (rank == _neighbours_max(rank)) & (rank > 0)
    labels, count = ndimage.label(peak, structure=EIGHT_NEIGHBOURS)
    spoilt = np.zeros(count + 1, dtype=bool)
    spoilt[labels[peak & (_neighbours_max(np.where(peak, 0, rank)) == rank)]] = True
    rank_of = np.zeros(count + 1, dtype=np.intp)
    rank_of[labels[peak]] = rank[peak]
    return np.unique(rank_of[1:][~spoilt[1:]]) - 1


def _neighbours_max(grid: np.ndarray) -> np.ndarray:
    """Each pixel's maximum over itself and its 8 neighbours, 0 outside the grid."""
    padded = np.pad(grid, 1)
    rows = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
    return np.maximum(np.maximum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def _stretches(labelling: _Labelling, appearances: np.ndarray) -> list[tuple[int, int]]:
    """The levels cut into stretches (bottom, top), highest first, over which no region appears or merges. Below
    a stretch's top, down to the next appearance, the region count can only fall as the level does: the stretch
    ends at the last level with its top's count, found by galloping down from the top, then bisection."""
    stretches, top = [], int(labelling.rank.max()) - 1
    while top >= 0:
        count, below = labelling.count(top), appearances[appearances < top]
        floor = int(below[-1]) + 1 if len(below) else 0
        high, step = (floor, 0) if labelling.count(floor) == count else (top, 1)
        while high > floor:  # galloping down to the merge: levels near the top keep less, so label faster
            low = max(high - step, floor)
            if labelling.count(low) < count:
                break
            high, step = low, 2 * step
        else:
            low = high
        while high - low > 1:  # count(low) < count == count(high)
            middle = (low + high) // 2
            low, high = (low, middle) if labelling.count(middle) == count else (middle, high)
        stretches.append((high, top))
        top = high - 1
    return stretches


def _region_rows(labelling: _Labelling, stretches: list[tuple[int, int]]) -> np.ndarray:
    """(M, 7) int64 rows [level, x0, y0, x1, y1, size, first pixel's row-major index], one per region and level.
    A region of a stretch's lowest level holds, at each level of the stretch, its own pixels kept there (those
    joining in the stretch, _joining_keys) and the whole regions of the stretch above that lie in it."""
    width = labelling.rank.shape[1]
    pixels, keys, blocks = _joining_keys(labelling, stretches)
    columns = pixels % width
    last = blocks[-1]
    stats = _grouped(keys, last[0] + last[1] * last[2], (pixels, columns, pixels, columns, 1))
    grown_rows, levels, above = [], [], None
    for (bottom, top), (first, count, depth) in zip(stretches, blocks):
        # (5, count, depth), reversed so that column k is level top - k and accumulating adds the lower levels
        own = stats[:, first:first + count * depth].reshape(5, count, depth)[..., ::-1]
        grown = np.concatenate([np.minimum.accumulate(own[:2], axis=2), np.maximum.accumulate(own[2:4], axis=2),
                                own[4:].cumsum(axis=2)])
        if above is not None:  # each region above lies in the region of its first pixel
            home = labelling.regions_at(bottom, above[0])
            grown = _combined(grown, _grouped(home, count, above)[..., None])
        above = grown[..., -1]
        grown_rows.append(grown.reshape(5, -1))
        levels.append(np.tile(top - np.arange(depth), count))
    first_pixel, x0, last_pixel, x1, size = np.concatenate(grown_rows, axis=1)
    return np.column_stack([np.concatenate(levels), x0, first_pixel // width, x1 + 1, last_pixel // width + 1, size,
                            first_pixel])


def _joining_keys(labelling: _Labelling, stretches: list[tuple[int, int]]
                  ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """The kept pixels' row-major indices, each one's key: (stretch, region of the stretch's lowest level, level
    it joins at) as one number, and per stretch (first key, regions, levels). A pixel joins at its rank - 1."""
    flat = labelling.rank.ravel()
    counts = np.bincount(flat)
    pixels = np.argsort(flat, kind="stable")[counts[0]:]  # by rank: the pixels joining in a stretch are one slice
    starts = np.concatenate([[0, 0], counts[1:].cumsum()])  # [r]: the first of rank >= r
    keys, blocks, total = np.empty(len(pixels), dtype=np.intp), [], 0
    for bottom, top in stretches:
        count = labelling.count(bottom)
        part, depth = slice(starts[bottom + 1], starts[top + 2]), top - bottom + 1
        region = labelling.regions_at(bottom, pixels[part])
        keys[part] = total + region * depth + np.repeat(np.arange(depth), counts[bottom + 1:top + 2])
        blocks.append((total, count, depth))
        total += count * depth
    return pixels, keys, blocks


def _grouped(keys: np.ndarray, count: int, values: np.ndarray | Sequence[np.ndarray | int]) -> np.ndarray:
    """(n,) keys in [0, count), five (n,) values [first pixel, x0, last pixel, x1, size] -> (5, count): minima of
    the first two, maxima of the next two, sums of sizes."""
    stats = np.zeros((5, count), dtype=np.intp)
    stats[:2], stats[2:4] = np.iinfo(np.intp).max, -1
    for row, reduce in enumerate((np.minimum, np.minimum, np.maximum, np.maximum, np.add)):
        reduce.at(stats[row], keys, values[row])  # one 1-D row at a time: numpy's fast path
    return stats


def _combined(stats: np.ndarray, more: np.ndarray) -> np.ndarray:
    """Two (5, ...) stats of _grouped joined: the region holding both pixel sets."""
    return np.concatenate([np.minimum(stats[:2], more[:2]), np.maximum(stats[2:4], more[2:4]), stats[4:] + more[4:]])
