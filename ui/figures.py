"""Plotly builders: arrays camcore computed in, go.Figure out; no maths, no Streamlit calls.

The Explain page's figures, then the Dataset page's: label counts, the trimap overlay, the confusion matrix and
the per-breed localisation scores beside their baselines.

The explanation figures carry every slider state precomputed (camcore.display.SliderLayers), so moving a
slider runs only in the browser. Each slider restyles its own trace attributes (opacity, colorscale, z and
the boxes' x/y, visible), which is why they compose in any order: two sliders writing one attribute would
overwrite each other.
"""
from __future__ import annotations

import base64
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from PIL import Image

from camcore import heatmap
from camcore.data import SPLITS, PetRecord
from camcore.display import SliderLayers
from camcore.evaluate import BASELINES, SCORE_NAMES, SCORES
from camcore.explain import Prediction

OPACITY_STEPS = tuple(round(step / 10, 1) for step in range(11))
BOX_COLOUR = "cyan"
"""As the exported PNG's box: stands out on photos and on magma."""
PLOT_HEIGHT_PX = 480
SLIDER_HEIGHT_PX = 80
DECIMALS = 2
"""Values sent to the browser: 1% of a map's maximum is finer than a colour step, and keeps the page light."""
TRIMAP_COLOURS = {1: ("1 pet", (40, 200, 70, 110)), 2: ("2 background", (60, 90, 220, 70)),
                  3: ("3 border", (255, 215, 0, 200))}
"""Oxford-IIIT Pet's trimap values -> (legend label, RGBA overlay colour)."""
MAP_NAMES = {"model": "this model", "gaussian": "centred Gaussian", "random": "random weights"}
"""camcore.evaluate.BASELINES' keys as the legends say them."""
MAP_COLOURS = {"model": "#d62728", "gaussian": "#7f7f7f", "random": "#1f77b4"}
SCORES_HELP = ("Pointing game: the map's peak lies on the pet (trimap 1 or 3). Mask IoU: overlap of the map's part "
               f"above {heatmap.DEFAULT_THRESHOLD} of its maximum with the pet. Relative energy: the map's share on "
               "the pet divided by the pet's share of the photo (1 = no better than a uniform map).")
"""What the score names mean, for captions beside the figures and tables that use them."""


def explanation_figure(photo: Image.Image, layers: SliderLayers, *, colormap: str = "magma", opacity: float = 0.5,
                       threshold_frac: float = heatmap.DEFAULT_THRESHOLD, title: str | None = None,
                       max_photo_px: int = 640) -> go.Figure:
    """The photo with one class's thresholded map and box; sliders for opacity, colormap, threshold and class.

    Traces: the photo, then K heatmaps, then K boxes (only class 0 visible).
    """
    step = int(np.argmin(np.abs(layers.thresholds - threshold_frac)))
    classes = len(layers.labels)
    heat, boxes = list(range(1, 1 + classes)), list(range(1 + classes, 1 + 2 * classes))
    traces = [_photo_trace(photo, layers.photo_size, max_photo_px),
              *_heatmap_traces(layers.maps[step], layers, colormap=colormap, opacity=opacity, zmin=0.0),
              *_box_traces(layers.boxes[step])]
    sliders = [_opacity_slider(heat, opacity),
               _colormap_slider(heat, heatmap.SEQUENTIAL_COLORMAPS, colormap),
               _threshold_slider(layers, heat, boxes, step),
               _class_slider(layers.labels, heat + boxes)]
    return _figure(traces, sliders, layers.photo_size, title)


def signed_figure(photo: Image.Image, layers: SliderLayers, *, colormap: str = "bwr", opacity: float = 0.6,
                  max_photo_px: int = 640) -> go.Figure:
    """The photo with one class's signed map (zero at the colormap's middle); class, opacity, colormap sliders.

    Traces: the photo, then K heatmaps (only class 0 visible).
    """
    heat = list(range(1, 1 + len(layers.labels)))
    traces = [_photo_trace(photo, layers.photo_size, max_photo_px),
              *_heatmap_traces(layers.signed, layers, colormap=colormap, opacity=opacity, zmin=-1.0)]
    sliders = [_opacity_slider(heat, opacity),
               _colormap_slider(heat, heatmap.DIVERGING_COLORMAPS, colormap),
               _class_slider(layers.labels, heat)]
    return _figure(traces, sliders, layers.photo_size, title=None)


def top_k_bar(predictions: Sequence[Prediction]) -> go.Figure:
    """Horizontal bars of the predicted probabilities, the best at the top."""
    names = [p.class_name for p in predictions]
    probabilities = [p.probability for p in predictions]
    bar = go.Bar(x=probabilities, y=names, orientation="h", text=[f"{p:.1%}" for p in probabilities],
                 textposition="auto", hovertemplate="%{y}: %{x:.2%}<extra></extra>")
    figure = go.Figure(bar)
    figure.update_layout(height=60 + 32 * len(names), margin=dict(l=10, r=10, t=10, b=30),
                         xaxis=dict(range=[0, 1], tickformat=".0%"), yaxis=dict(autorange="reversed"))
    return figure


def label_counts(records: Sequence[PetRecord]) -> go.Figure:
    """Images per species and per breed, one bar colour per split; the browser counts (histogram traces)."""
    figure = make_subplots(rows=1, cols=2, column_widths=[0.15, 0.85], subplot_titles=("Cat vs dog", "Breeds"))
    for split in SPLITS:
        chosen = [record for record in records if record.split == split]
        figure.add_trace(go.Histogram(x=[r.species for r in chosen], name=split, legendgroup=split,
                                      marker_color=_split_colour(split)), row=1, col=1)
        figure.add_trace(go.Histogram(x=[r.breed for r in chosen], name=split, legendgroup=split, showlegend=False,
                                      marker_color=_split_colour(split)), row=1, col=2)
    breeds = [breed for _, breed in sorted({(record.label, record.breed) for record in records})]
    figure.update_xaxes(categoryorder="array", categoryarray=breeds, tickangle=-45, row=1, col=2)
    figure.update_xaxes(categoryorder="array", categoryarray=["cat", "dog"], row=1, col=1)
    figure.update_layout(barmode="group", height=420, margin=dict(l=10, r=10, t=40, b=10),
                         legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))
    return figure


def trimap_figure(photo: Image.Image, trimap: np.ndarray | None, head_box: Sequence[int] | None, *,
                  max_photo_px: int = 640) -> go.Figure:
    """The photo, its (H, W) trimap as a coloured overlay (None: hidden) and the head box [x0, y0, x1, y1]."""
    traces: list[Any] = [_photo_trace(photo, photo.size, max_photo_px)]
    if trimap is not None:
        palette = np.zeros((256, 4), dtype=np.uint8)
        for value, (_, rgba) in TRIMAP_COLOURS.items():
            palette[value] = rgba
        overlay = Image.fromarray(palette[trimap], mode="RGBA")
        traces.append(_image_trace(overlay, photo.size, max_photo_px, "PNG", "trimap"))
        traces += [go.Scatter(x=[None], y=[None], mode="markers", name=label, showlegend=True,
                              marker=dict(symbol="square", size=12, color=f"rgba{(*rgba[:3], 0.8)}"))
                   for label, rgba in TRIMAP_COLOURS.values()]
    if head_box is not None:
        box = np.asarray(head_box, dtype=np.float64)
        traces.append(go.Scatter(x=_box_x(box), y=_box_y(box), mode="lines", name="head box", showlegend=True,
                                 line=dict(color=BOX_COLOUR, width=2), hoverinfo="skip"))
    figure = _figure(traces, [], photo.size, title=None)
    figure.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.02, yanchor="top", x=0))
    return figure


def confusion_figure(pairs: Sequence[tuple[str, str]]) -> go.Figure:
    """Counts of (true, predicted) label pairs as a heatmap; an invisible marker on each non-empty cell makes
    it clickable (Plotly selects scatter points, not heatmap cells)."""
    counts = Counter(pairs)
    trues, predicted_labels = sorted({true for true, _ in counts}), sorted({label for pair in counts for label in pair})
    z = [[counts.get((true, predicted), 0) for predicted in predicted_labels] for true in trues]
    cells = sorted(counts)
    heat = go.Heatmap(z=z, x=predicted_labels, y=trues, colorscale="Blues", texttemplate="%{z}", hoverinfo="skip",
                      showscale=False)
    markers = go.Scatter(x=[predicted for _, predicted in cells], y=[true for true, _ in cells], mode="markers",
                         customdata=[counts[cell] for cell in cells], marker=dict(size=28, opacity=0),
                         selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)),
                         hovertemplate="true %{y}, predicted %{x}: %{customdata} images<extra></extra>")
    figure = go.Figure([heat, markers])
    figure.update_layout(height=140 + 28 * len(trues), margin=dict(l=10, r=10, t=30, b=10), clickmode="event+select",
                         dragmode=False, xaxis=dict(title="predicted", side="top", type="category"),
                         yaxis=dict(title="true", autorange="reversed", type="category"))
    return figure


def localisation_by_breed(per_breed: Mapping[str, Mapping[str, Any]]) -> go.Figure:
    """camcore.evaluate.summarise()'s per_breed means: one panel per score, the model's bar beside the two
    baselines' (a dotted line at 1.0 in the energy panel: no better than a uniform map)."""
    breeds = list(per_breed)
    figure = make_subplots(rows=1, cols=len(SCORES), shared_yaxes=True,
                           subplot_titles=[SCORE_NAMES[score] for score in SCORES])
    for column, score in enumerate(SCORES, start=1):
        for map_name in BASELINES:
            figure.add_trace(go.Bar(x=[per_breed[breed][score][map_name] for breed in breeds], y=breeds,
                                    orientation="h", name=MAP_NAMES[map_name], legendgroup=map_name,
                                    showlegend=column == 1, marker_color=MAP_COLOURS[map_name],
                                    hovertemplate="%{y}: %{x:.2f}<extra>" + MAP_NAMES[map_name] + "</extra>"),
                             row=1, col=column)
    figure.add_vline(x=1.0, line_dash="dot", line_color="#333", row=1, col=SCORES.index("rel_energy") + 1)
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(barmode="group", height=120 + 48 * len(breeds), margin=dict(l=10, r=10, t=40, b=10))
    return figure


def _split_colour(split: str) -> str:
    return "#4c78a8" if split == SPLITS[0] else "#f58518"


def _photo_trace(photo: Image.Image, photo_size: tuple[int, int], max_photo_px: int) -> go.Image:
    """The photo as a JPEG of at most max_photo_px, stretched back so its coordinates are the original's pixels."""
    return _image_trace(photo.convert("RGB"), photo_size, max_photo_px, "JPEG", "photo")


def _image_trace(image: Image.Image, photo_size: tuple[int, int], max_photo_px: int, image_format: str,
                 name: str) -> go.Image:
    """`image` shrunk in place to at most max_photo_px, stretched back over the photo's pixel coordinates. PNG
    (for overlays) keeps the alpha channel and shrinks by nearest neighbour, so its colours stay exact."""
    exact = image_format == "PNG"
    image.thumbnail((max_photo_px, max_photo_px), Image.Resampling.NEAREST if exact else Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **({} if exact else {"quality": 85}))
    source = f"data:image/{image_format.lower()};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    (width, height), (small_w, small_h) = photo_size, image.size
    return go.Image(source=source, x0=width / small_w / 2, dx=width / small_w, y0=height / small_h / 2,
                    dy=height / small_h, hoverinfo="skip", name=name)


def _heatmap_traces(grids: np.ndarray, layers: SliderLayers, *, colormap: str, opacity: float,
                    zmin: float) -> list[go.Heatmap]:
    """(K, h, w) grids as heatmaps whose cells tile the photo (x0/dx, not x arrays, so no slider moves them)."""
    (width, height), (grid_h, grid_w) = layers.photo_size, grids.shape[-2:]
    return [go.Heatmap(z=_to_json(grid), x0=width / grid_w / 2, dx=width / grid_w, y0=height / grid_h / 2,
                       dy=height / grid_h, zmin=zmin, zmax=1.0, zmid=0.0 if zmin < 0 else None, zsmooth="best",
                       colorscale=heatmap.colorscale(colormap), opacity=opacity, visible=rank == 0, name=label,
                       colorbar=dict(thickness=12, len=0.8), hovertemplate="%{z:.2f}<extra>%{fullData.name}</extra>")
            for rank, (grid, label) in enumerate(zip(grids, layers.labels))]


def _box_traces(boxes: np.ndarray) -> list[go.Scatter]:
    """(K, 4) boxes as closed rectangles; a NaN box draws nothing."""
    return [go.Scatter(x=_box_x(box), y=_box_y(box), mode="lines", line=dict(color=BOX_COLOUR, width=2),
                       visible=rank == 0, hoverinfo="skip", showlegend=False)
            for rank, box in enumerate(boxes)]


def _box_x(box: np.ndarray) -> list[float | None]:
    x0, _, x1, _ = _to_json(box)
    return [x0, x1, x1, x0, x0]


def _box_y(box: np.ndarray) -> list[float | None]:
    _, y0, _, y1 = _to_json(box)
    return [y0, y0, y1, y1, y0]


def _to_json(values: np.ndarray) -> list:
    """Array -> nested lists rounded to DECIMALS with NaN as None: JSON null, a transparent cell or a line gap."""
    rounded = np.round(np.asarray(values, dtype=np.float64), DECIMALS).astype(object)
    rounded[np.isnan(values)] = None
    return rounded.tolist()


def _opacity_slider(heat: list[int], opacity: float) -> dict:
    active = int(np.argmin(np.abs(np.array(OPACITY_STEPS) - opacity)))
    steps = [_step(f"{value:.1f}", {"opacity": value}, heat) for value in OPACITY_STEPS]
    return _slider("Opacity: ", steps, active)


def _colormap_slider(heat: list[int], names: Sequence[str], colormap: str) -> dict:
    """colorscale is wrapped once per trace: a bare list of stops would be dealt out one stop per trace."""
    if colormap not in names:
        raise ValueError(f"Unknown colormap {colormap!r}. Valid: {', '.join(names)}.")
    steps = [_step(name, {"colorscale": [heatmap.colorscale(name)] * len(heat)}, heat) for name in names]
    return _slider("Colormap: ", steps, list(names).index(colormap))


def _threshold_slider(layers: SliderLayers, heat: list[int], boxes: list[int], active: int) -> dict:
    """One restyle sets the heatmaps' z and the boxes' x/y: None (null) leaves an attribute a trace lacks unset."""
    nothing = [None] * len(heat)
    steps = [_step(f"{threshold:.1f}",
                   {"z": [_to_json(grid) for grid in maps] + nothing,
                    "x": nothing + [_box_x(box) for box in box_row],
                    "y": nothing + [_box_y(box) for box in box_row]}, heat + boxes)
             for threshold, maps, box_row in zip(layers.thresholds, layers.maps, layers.boxes)]
    return _slider("Threshold: ", steps, active)


def _class_slider(labels: Sequence[str], traces: list[int]) -> dict:
    """Shows the chosen class's heatmap (and box): traces are K heatmaps then, optionally, K boxes."""
    per_class = len(traces) // len(labels)
    steps = [_step(label, {"visible": [rank == chosen for rank in range(len(labels))] * per_class}, traces)
             for chosen, label in enumerate(labels)]
    return _slider("Class: ", steps, 0, tick_labels=False)


def _step(label: str, restyle: dict, traces: list[int]) -> dict:
    return dict(label=label, method="restyle", args=[restyle, traces])


def _slider(prefix: str, steps: list[dict], active: int, *, tick_labels: bool = True) -> dict:
    """Class names can be long: their slider shows only the current one, not one label per tick."""
    font = dict(size=11) if tick_labels else dict(size=11, color="rgba(0,0,0,0)")
    return dict(active=active, steps=steps, currentvalue=dict(prefix=prefix, font=dict(size=13, color="#333")),
                font=font, pad=dict(t=0, b=10), len=1.0, x=0, xanchor="left", yanchor="top")


def _figure(traces: list, sliders: list[dict], photo_size: tuple[int, int], title: str | None) -> go.Figure:
    """Stacks the sliders under the photo, whose axes run over its pixels (y down, as images are)."""
    width, height = photo_size
    top_px, bottom_px = (40 if title else 10), SLIDER_HEIGHT_PX * len(sliders) + 10
    for index, slider in enumerate(sliders):
        slider["y"] = -(10 + index * SLIDER_HEIGHT_PX) / PLOT_HEIGHT_PX
    figure = go.Figure(traces)
    figure.update_layout(sliders=sliders, height=PLOT_HEIGHT_PX + top_px + bottom_px, title=title, showlegend=False,
                         margin=dict(l=10, r=10, t=top_px, b=bottom_px),
                         xaxis=dict(visible=False, range=[0, width], constrain="domain"),
                         yaxis=dict(visible=False, range=[height, 0], scaleanchor="x", constrain="domain"))
    return figure
