"""The Explain page's figures: the photo with one class's map, box and four in-figure sliders (opacity, colormap,
threshold, class), the signed map, and the top-k bars. Every slider state is precomputed
(camcore.maps.display.SliderLayers), so moving a slider runs only in the browser.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from camcore.explain import DISPLAY_PX, Prediction
from camcore.maps import heatmap
from camcore.maps.display import SliderLayers
from ui.common import plot_parts, threshold_scale
from ui.common.text import plot_text


def explanation_figure(photo: Image.Image, layers: SliderLayers, *, colormap: str = "magma", opacity: float = 0.5,
                       threshold_frac: float | None = None, title: str | None = None,
                       max_photo_px: int = DISPLAY_PX) -> go.Figure:
    """The photo with one class's thresholded map and box; sliders for opacity, colormap, threshold and class.
    The threshold starts at threshold_frac, by default the layers' standard's own (0.2 of the maximum, PaS's 0.35),
    and is cut in the browser (ui.common.threshold_scale).

    Traces: the photo, then K heatmaps, then K boxes (only class 0 visible), then the colour bar.
    """
    start = layers.standard.default_threshold if threshold_frac is None else threshold_frac
    step = int(np.argmin(np.abs(layers.thresholds - start)))
    classes = len(layers.labels)
    heat, boxes, bar = list(range(1, 1 + classes)), list(range(1 + classes, 1 + 2 * classes)), 1 + 2 * classes
    traces = [plot_parts.photo_trace(photo, layers.photo_size, max_photo_px),
              *threshold_scale.map_traces(layers, colormap=colormap, opacity=opacity, step=step),
              *plot_parts.box_traces(layers.boxes[step]), threshold_scale.colorbar_trace(colormap)]
    sliders = [plot_parts.opacity_slider(heat, opacity),
               threshold_scale.colormap_slider(layers, heat, bar, heatmap.SEQUENTIAL_COLORMAPS, colormap),
               threshold_scale.threshold_slider(layers, heat, boxes, step),
               plot_parts.class_slider(layers.labels, heat + boxes)]
    return plot_parts.PlainFigure(plot_parts.sliders_figure(traces, sliders, layers.photo_size, title))


def signed_figure(photo: Image.Image, layers: SliderLayers, *, colormap: str = "bwr", opacity: float = 0.6,
                  max_photo_px: int = DISPLAY_PX) -> go.Figure:
    """The photo with one class's signed map (zero at the colormap's middle); class, opacity, colormap sliders.

    Traces: the photo, then K heatmaps (only class 0 visible).
    """
    heat = list(range(1, 1 + len(layers.labels)))
    traces = [plot_parts.photo_trace(photo, layers.photo_size, max_photo_px),
              *plot_parts.heatmap_traces(layers.signed, layers, colormap=colormap, opacity=opacity, zmin=-1.0)]
    sliders = [plot_parts.opacity_slider(heat, opacity),
               plot_parts.colormap_slider(heat, heatmap.DIVERGING_COLORMAPS, colormap),
               plot_parts.class_slider(layers.labels, heat)]
    return plot_parts.PlainFigure(plot_parts.sliders_figure(traces, sliders, layers.photo_size, title=None))


def top_k_bar(predictions: Sequence[Prediction]) -> go.Figure:
    """Horizontal bars of the predicted probabilities, the best at the top."""
    names = [plot_text(p.class_name) for p in predictions]
    probabilities = [p.probability for p in predictions]
    bar = go.Bar(x=probabilities, y=names, orientation="h", text=[f"{p:.1%}" for p in probabilities],
                 textposition="auto", hovertemplate="%{y}: %{x:.2%}<extra></extra>")
    figure = go.Figure(bar)
    figure.update_layout(height=60 + 32 * len(names), margin=dict(l=10, r=10, t=10, b=30),
                         xaxis=dict(range=[0, 1], tickformat=".0%"), yaxis=dict(autorange="reversed"))
    return figure




def selection_figure(photo: Image.Image, raw_map: np.ndarray, *, colormap: str = "magma", opacity: float = 0.5,
                     max_photo_px: int = DISPLAY_PX) -> go.Figure:
    """The photo with the map blended over it (raw_map at the photo's pixels), in box-select mode: the box a
    student drags comes back in the photo's pixel coordinates (st.plotly_chart's on_select)."""
    blended = heatmap.map_overlay(photo, raw_map, colormap=colormap, opacity=opacity)
    trace = plot_parts.image_trace(blended, photo.size, max_photo_px, "JPEG", "photo and map")
    width, height = photo.size
    figure = go.Figure(trace)
    figure.update_layout(dragmode="select", height=plot_parts.PLOT_HEIGHT_PX, showlegend=False,
                         margin=dict(l=10, r=10, t=10, b=10),
                         xaxis=dict(visible=False, range=[0, width], constrain="domain"),
                         yaxis=dict(visible=False, range=[height, 0], scaleanchor="x", constrain="domain"))
    return figure
