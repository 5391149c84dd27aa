"""ui.common.threshold_scale: the colour scale that cuts a map in the browser, read as plotly.js reads it."""
from __future__ import annotations

import bisect
import re

import numpy as np
import pytest

from camcore.maps import heatmap
from ui.common.threshold_scale import CLEAR, cut_colorscale, segment_range

STEPS = 10


def rgba(colour: str) -> np.ndarray:
    """'rgb(r,g,b)' or 'rgba(r,g,b,a)' -> [r, g, b, a] with a in [0, 1]."""
    values = [float(v) for v in re.fullmatch(r"rgba?\(([^)]*)\)", colour).group(1).split(",")]
    return np.array(values + [1.0] * (4 - len(values)))


def colours_at(scale: list, positions: np.ndarray) -> np.ndarray:
    """(...) positions in [0, 1] -> (..., 4) RGBA as plotly.js's colour scale gives them: d3's polylinear scale,
    which finds a value's segment by bisecting right (at two stops on one position, the second wins) and
    interpolates linearly within it."""
    stops = [position for position, _ in scale]
    colours = [rgba(colour) for _, colour in scale]
    flat = np.clip(np.asarray(positions, dtype=float).ravel(), 0, 1)
    out = np.empty((flat.size, 4))
    for index, position in enumerate(flat):
        low = min(max(bisect.bisect_right(stops, position, 1, len(stops) - 1) - 1, 0), len(stops) - 2)
        width = stops[low + 1] - stops[low]
        frac = (position - stops[low]) / width if width else 0.0
        out[index] = colours[low] + frac * (colours[low + 1] - colours[low])
    return out.reshape(*np.shape(positions), 4)


def shown_colours(values: np.ndarray, scale: list, zmin: float, zmax: float) -> np.ndarray:
    """What a heatmap with this scale and zmin/zmax paints for each value: (..., 4) RGBA."""
    return colours_at(scale, (np.asarray(values, dtype=float) - zmin) / (zmax - zmin))


def test_each_segment_clears_exactly_the_values_below_its_level() -> None:
    """Hand-picked levels: 0 (keeps what is > 0), the maximum's steps as float32 (a sent value can equal them),
    a percentile's arbitrary ones, 1 and above 1 (keeps nothing). Every sent value (3 decimals) of a ramp is clear
    exactly where threshold_mask drops it, and the next segment's stops never leak in."""
    levels = np.array([0.0, 0.1, 0.2, 0.35, 0.4, 0.05 * 0.8123, 0.6174, 0.35 * 0.9, 1.0, 1.5], dtype=np.float32)
    scale = cut_colorscale("magma", levels)
    ramp = np.round(np.linspace(0, 1, 1001), 3).astype(np.float32)
    for step, level in enumerate(levels):
        alpha = shown_colours(ramp.astype(float), scale, *segment_range(step, STEPS))[:, 3]
        kept = (ramp >= level) & (ramp > 0)  # float32 against float32, as camcore compares
        np.testing.assert_array_equal(alpha > 0, kept, err_msg=f"level {level}")
        assert np.all((alpha == 0) | (alpha == 1))


@pytest.mark.parametrize("colormap", heatmap.SEQUENTIAL_COLORMAPS)
def test_kept_values_take_the_plain_colormaps_colours(colormap: str) -> None:
    levels = np.linspace(0.05, 0.95, STEPS)
    scale = cut_colorscale(colormap, levels)
    values = np.linspace(0.001, 1, 500)
    plain = colours_at(heatmap.colorscale(colormap), values)
    for step, level in enumerate(levels):
        kept = values >= level
        shown = shown_colours(values, scale, *segment_range(step, STEPS))
        np.testing.assert_allclose(shown[kept, :3], plain[kept, :3], atol=1.0)


def test_scale_is_one_plotly_js_accepts() -> None:
    """plotly.js's isValidScale: at least two stops, the first at 0, the last at 1, positions never decreasing
    (equal ones allowed: the sharp edge)."""
    rng = np.random.default_rng(0)
    for levels in (rng.uniform(0, 1, STEPS), np.zeros(STEPS), np.full(STEPS, 2.0)):
        positions = [position for position, _ in cut_colorscale("viridis", levels)]
        assert positions[0] == 0 and positions[-1] == 1 and np.all(np.diff(positions) >= 0)
    assert {colour for _, colour in cut_colorscale("viridis", np.full(STEPS, 2.0))} == {CLEAR}
    assert all(type(position) is float for position, _ in cut_colorscale("viridis", rng.uniform(0, 1, STEPS)))
