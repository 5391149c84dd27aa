"""Plotly pieces the pages' figures share: the photo as a trace in its own pixel coordinates, maps and boxes over
it, and in-figure sliders (each restyles its own trace attributes, which is why they compose in any order: two
sliders writing one attribute would overwrite each other). No maths and no Streamlit here. Class names become
Plotly text through ui.common.text.plot_text (a checkpoint's class may be named "<a href=...>").
"""
from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from camcore.maps import heatmap
from camcore.maps.display import SliderLayers
from ui.common.text import plot_text

OPACITY_STEPS = tuple(round(step / 10, 1) for step in range(11))
BOX_COLOUR = "cyan"
"""As the exported PNG's box: stands out on photos and on magma."""
PLOT_HEIGHT_PX = 480
SLIDER_HEIGHT_PX = 80
DECIMALS = 2
"""Values sent to the browser: 1% of a map's maximum is finer than a colour step, and keeps the page light."""


class PlainFigure(go.Figure):
    """A figure made of plain dicts, handed out as they are. A go.Figure validates and deep-copies every slider
    step's arrays when built and again in st.plotly_chart's to_dict(): 150 ms of 170 for one explanation figure
    (bench/bench_figures.py). Every dict here already is what plotly's validation would make of it
    (tests/ui/explain/test_figures.py checks), so the browser gets the same JSON. Read-only: the dict is shared."""

    def __init__(self, figure: dict) -> None:
        super().__init__()
        self._plain = figure

    def to_dict(self) -> dict:
        return self._plain


def default_template() -> dict:
    """The layout template plotly would add (Streamlit's when it is loaded), as a plain dict."""
    return go.Figure().to_dict()["layout"].get("template", {})


def photo_trace(photo: Image.Image, photo_size: tuple[int, int], max_photo_px: int) -> dict:
    """The photo as a JPEG of at most max_photo_px, stretched back so its coordinates are the original's pixels."""
    return image_trace(photo.convert("RGB"), photo_size, max_photo_px, "JPEG", "photo")


def image_trace(image: Image.Image, photo_size: tuple[int, int], max_photo_px: int, image_format: str,
                 name: str) -> dict:
    """`image` shrunk in place to at most max_photo_px, stretched back over the photo's pixel coordinates. PNG
    (for overlays) keeps the alpha channel and shrinks by nearest neighbour, so its colours stay exact."""
    exact = image_format == "PNG"
    image.thumbnail((max_photo_px, max_photo_px), Image.Resampling.NEAREST if exact else Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **({} if exact else {"quality": 85}))
    source = f"data:image/{image_format.lower()};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    (width, height), (small_w, small_h) = photo_size, image.size
    return dict(type="image", source=source, x0=width / small_w / 2, dx=width / small_w, y0=height / small_h / 2,
                dy=height / small_h, hoverinfo="skip", name=name)


def heatmap_traces(grids: np.ndarray, layers: SliderLayers, *, colormap: str, opacity: float, zmin: float,
                   decimals: int = DECIMALS) -> list[dict]:
    """(K, h, w) grids of one explanation's classes (see grid_traces)."""
    return grid_traces(grids, layers.photo_size, layers.labels, colormap=colormap, opacity=opacity, zmin=zmin,
                       decimals=decimals)


def grid_traces(grids: np.ndarray, photo_size: tuple[int, int], labels: Sequence[str], *, colormap: str,
                opacity: float, zmin: float, decimals: int = DECIMALS) -> list[dict]:
    """(K, h, w) grids as heatmaps whose cells tile the photo (x0/dx, not x arrays, so no slider moves them);
    only the first is visible."""
    (width, height), (grid_h, grid_w) = photo_size, grids.shape[-2:]
    centred = {"zmid": 0.0} if zmin < 0 else {}
    return [dict(type="heatmap", z=to_json(grid, decimals), x0=width / grid_w / 2, dx=width / grid_w,
                 y0=height / grid_h / 2, dy=height / grid_h, zmin=zmin, zmax=1.0, **centred, zsmooth="best",
                 colorscale=heatmap.colorscale(colormap), opacity=opacity, visible=rank == 0, name=plot_text(label),
                 colorbar=dict(thickness=12, len=0.8), hovertemplate="%{z:.2f}<extra>%{fullData.name}</extra>")
            for rank, (grid, label) in enumerate(zip(grids, labels))]


def box_traces(boxes: np.ndarray) -> list[dict]:
    """(K, 4) boxes as closed rectangles; a NaN box draws nothing."""
    return [dict(type="scatter", x=box_x(box), y=box_y(box), mode="lines", line=dict(color=BOX_COLOUR, width=2),
                 visible=rank == 0, hoverinfo="skip", showlegend=False)
            for rank, box in enumerate(boxes)]


def box_x(box: np.ndarray) -> list[float | None]:
    x0, _, x1, _ = to_json(box)
    return [x0, x1, x1, x0, x0]


def box_y(box: np.ndarray) -> list[float | None]:
    _, y0, _, y1 = to_json(box)
    return [y0, y0, y1, y1, y0]


def to_json(values: np.ndarray, decimals: int = DECIMALS) -> list:
    """Array -> nested lists rounded to `decimals` with NaN as None: JSON null, a transparent cell or a line gap."""
    rounded = np.round(np.asarray(values, dtype=np.float64), decimals).astype(object)
    rounded[np.isnan(values)] = None
    return rounded.tolist()


def opacity_slider(heat: list[int], opacity: float) -> dict:
    active = int(np.argmin(np.abs(np.array(OPACITY_STEPS) - opacity)))
    steps = [restyle_step(f"{value:.1f}", {"opacity": value}, heat) for value in OPACITY_STEPS]
    return make_slider("Opacity: ", steps, active)


def colormap_slider(heat: list[int], names: Sequence[str], colormap: str) -> dict:
    """colorscale is wrapped once per trace: a bare list of stops would be dealt out one stop per trace."""
    steps = [restyle_step(name, {"colorscale": [heatmap.colorscale(name)] * len(heat)}, heat) for name in names]
    return make_slider("Colormap: ", steps, colormap_index(names, colormap))


def colormap_index(names: Sequence[str], colormap: str) -> int:
    """Where `colormap` is among a slider's names; ValueError naming the valid ones if it is not."""
    if colormap not in names:
        raise ValueError(f"Unknown colormap {colormap!r}. Valid: {', '.join(names)}.")
    return list(names).index(colormap)


def class_slider(labels: Sequence[str], traces: list[int]) -> dict:
    """Shows the chosen class's heatmap (and box): traces are K heatmaps then, optionally, K boxes."""
    per_class = len(traces) // len(labels)
    steps = [restyle_step(plot_text(label), {"visible": [rank == chosen for rank in range(len(labels))] * per_class},
                          traces)
             for chosen, label in enumerate(labels)]
    return make_slider("Class: ", steps, 0, tick_labels=False)


def restyle_step(label: str, restyle: dict, traces: list[int]) -> dict:
    return dict(label=label, method="restyle", args=[restyle, traces])


def make_slider(prefix: str, steps: list[dict], active: int, *, tick_labels: bool = True) -> dict:
    """Class names can be long: their slider shows only the current one, not one label per tick."""
    font = dict(size=11) if tick_labels else dict(size=11, color="rgba(0,0,0,0)")
    return dict(active=active, steps=steps, currentvalue=dict(prefix=prefix, font=dict(size=13, color="#333")),
                font=font, pad=dict(t=0, b=10), len=1.0, x=0, xanchor="left", yanchor="top")


def sliders_figure(traces: list, sliders: list[dict], photo_size: tuple[int, int], title: str | None) -> dict:
    """Stacks the sliders under the photo, whose axes run over its pixels (y down, as images are): the figure as
    a plain dict (PlainFigure shows it as is; go.Figure(it) to add to it)."""
    width, height = photo_size
    top_px, bottom_px = (40 if title else 10), SLIDER_HEIGHT_PX * len(sliders) + 10
    for index, slider in enumerate(sliders):
        slider["y"] = -(10 + index * SLIDER_HEIGHT_PX) / PLOT_HEIGHT_PX
    layout = dict(sliders=sliders, height=PLOT_HEIGHT_PX + top_px + bottom_px, showlegend=False,
                  margin=dict(l=10, r=10, t=top_px, b=bottom_px),
                  xaxis=dict(visible=False, range=[0, width], constrain="domain"),
                  yaxis=dict(visible=False, range=[height, 0], scaleanchor="x", constrain="domain"),
                  template=default_template(), **({"title": {"text": title}} if title else {}))
    return {"data": traces, "layout": layout}
