"""camcore.maps.regions: the one pass labels again exactly where a new region appears. Its regions at every level
are checked against scipy labelling level by level through the WSOL curves they feed, in
tests/camcore/scores/test_wsol.py (hand-made, random and real maps)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from camcore.maps import regions
from camcore.scores import wsol
from tests.camcore.scores.test_wsol import hand_made_maps, random_map


def test_regions_appear_exactly_where_labelling_finds_one_with_nothing_kept_a_level_higher() -> None:
    """The one pass labels again where a region appears: regions._appearances must name those levels and no
    others (a plateau on a slope, as in "terraces", is no peak), or it labels more than it needs."""
    rng = np.random.default_rng(7)
    maps = [*hand_made_maps().values(), *(random_map(rng, index % 4) for index in range(24))]
    for normalised in maps:
        rank = ((normalised[None] >= wsol.THRESHOLDS[:, None, None].astype(np.float32)).sum(axis=0)
                * (normalised > 0)).astype(np.uint8)
        expected = []
        for level in range(len(wsol.THRESHOLDS)):
            labels, count = ndimage.label(rank > level, structure=np.ones((3, 3)))
            higher = np.unique(labels[rank > level + 1])
            if count > len(higher):
                expected.append(level)
        np.testing.assert_array_equal(regions._appearances(rank), expected)
