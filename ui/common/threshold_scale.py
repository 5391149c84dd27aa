"""The explanation figure's maps, threshold and colormap as Plotly pieces: the threshold is cut in the browser, by
the colour scale, where plotly.js interpolates the map (zsmooth), so the kept region's edge follows the map at
the figure's own resolution rather than the display grid's cells.

Each class's heatmap holds its map once and a colour scale of T segments, one per threshold step: segment t is
clear (alpha 0) below that class's level at step t and the colormap from it on. A threshold step sets zmin/zmax
so that the map's [0, 1] falls on its segment; the colormap slider swaps the whole scale. The two sliders restyle
different attributes, so they compose in any order. The heatmaps draw no colour bar (it would show all T
segments): a dataless trace draws the plain colormap's.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from camcore.maps import heatmap
from camcore.maps.display import SliderLayers
from ui.common import plot_parts

CLEAR = "rgba(0,0,0,0)"
SEGMENT_Z = 1.25
"""z units per segment: the map's [0, 1], then a gap, so a map's maximum stays clear of the next segment."""
MAP_DECIMALS = 3
"""The maps' values sent to the browser: the cut happens on them, so a finer step than a colour needs."""
POSITION_DECIMALS = 6
COLORBAR = dict(thickness=12, len=0.8)


def segment_range(step: int, steps: int) -> tuple[float, float]:
    """(zmin, zmax) that lay a map's value v on segment `step` of `steps`, at (step * SEGMENT_Z + v) / (steps *
    SEGMENT_Z) of the colour scale."""
    return -SEGMENT_Z * step, SEGMENT_Z * (steps - step)


def cut_value(level: float) -> float:
    """Where the scale cuts for a level: halfway between the sent values (multiples of 10^-MAP_DECIMALS) below
    the level and at or above it, so a sent value is clear exactly where threshold_mask drops it (below the
    level, or at or below 0), whatever the rounding of the colour stops' positions. A level a float32 hair above
    a sent value (0.1 is 0.10000000149) counts as that value, as threshold_mask compares float32 with float32."""
    sent_step = 10.0 ** -MAP_DECIMALS
    lowest_kept = max(math.ceil(level / sent_step - 1e-3), 1) * sent_step
    return lowest_kept - sent_step / 2


def cut_colorscale(colormap: str, levels: np.ndarray) -> list[list[float | str]]:
    """(T,) one class's levels -> Plotly colour stops: per segment, clear up to the cut (two stops at one
    position: a sharp edge), then heatmap.colorscale's colours from there on; a level above 1 keeps nothing."""
    positions, colours = heatmap.colour_stops(colormap)
    stops: list[list[float | str]] = []
    for step, level in enumerate(levels):
        cut = cut_value(float(level))
        start, end = _position(step, 0.0, len(levels)), _position(step, min(cut, 1.0), len(levels))
        stops += [[start, CLEAR], [end, CLEAR]]
        if cut < 1.0:
            edge = [round(float(np.interp(cut, positions, channel))) for channel in colours.T]
            above = positions > cut
            stops += [[end, _rgb(edge)], *([_position(step, p, len(levels)), _rgb(c)]
                                           for p, c in zip(positions[above], colours[above]))]
    return stops + [[1.0, CLEAR]]


def map_traces(layers: SliderLayers, *, colormap: str, opacity: float, step: int) -> list[dict]:
    """The K classes' heatmaps (only the first visible), cut at threshold step `step`."""
    zmin, zmax = segment_range(step, len(layers.thresholds))
    traces = plot_parts.heatmap_traces(layers.maps, layers, colormap=colormap, opacity=opacity, zmin=0.0,
                                       decimals=MAP_DECIMALS)
    for trace, levels in zip(traces, layers.levels.T):
        trace.update(zmin=zmin, zmax=zmax, colorscale=cut_colorscale(colormap, levels), showscale=False)
        del trace["colorbar"]
    return traces


def colorbar_trace(colormap: str) -> dict:
    """No data, only the colormap's bar over the map's [0, 1], as a heatmap's own bar would be."""
    return dict(type="scatter", x=[None], y=[None], mode="markers", visible=True, hoverinfo="skip", showlegend=False,
                marker=dict(color=[0.0], cmin=0.0, cmax=1.0, colorscale=heatmap.colorscale(colormap),
                            showscale=True, colorbar=COLORBAR))


def threshold_slider(layers: SliderLayers, heat: list[int], boxes: list[int], active: int) -> dict:
    """Each step sets the heatmaps' zmin/zmax (their segment) and the boxes' x/y: None (null) leaves an attribute
    a trace lacks unset."""
    nothing = [None] * len(heat)
    digits = 1 if layers.standard.percentile is None else 2
    steps = []
    for step, (threshold, box_row) in enumerate(zip(layers.thresholds, layers.boxes)):
        zmin, zmax = segment_range(step, len(layers.thresholds))
        restyle = {"zmin": [zmin] * len(heat) + nothing, "zmax": [zmax] * len(heat) + nothing,
                   "x": nothing + [plot_parts.box_x(box) for box in box_row],
                   "y": nothing + [plot_parts.box_y(box) for box in box_row]}
        steps.append(plot_parts.restyle_step(f"{threshold:.{digits}f}", restyle, heat + boxes))
    prefix = "Threshold: " if layers.standard.percentile is None else \
        f"Threshold ({layers.standard.percentile:g}th percentile x): "
    return plot_parts.make_slider(prefix, steps, active)


def colormap_slider(layers: SliderLayers, heat: list[int], bar: int, names: Sequence[str], colormap: str) -> dict:
    """Each step gives every heatmap its cut scale in that colormap and the colour bar the plain one."""
    steps = []
    for name in names:
        restyle = {"colorscale": [cut_colorscale(name, levels) for levels in layers.levels.T] + [None],
                   "marker.colorscale": [None] * len(heat) + [heatmap.colorscale(name)]}
        steps.append(plot_parts.restyle_step(name, restyle, heat + [bar]))
    return plot_parts.make_slider("Colormap: ", steps, plot_parts.colormap_index(names, colormap))


def _position(step: int, value: float, steps: int) -> float:
    """Where segment `step` of `steps` puts a map's value on the colour scale (see segment_range)."""
    return round((step * SEGMENT_Z + float(value)) / (steps * SEGMENT_Z), POSITION_DECIMALS)


def _rgb(colour: Sequence[int]) -> str:
    """As heatmap.colorscale writes its colours."""
    red, green, blue = (int(channel) for channel in colour)
    return f"rgb({red},{green},{blue})"
