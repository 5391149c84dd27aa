"""The Training page's figures: loss and accuracy curves (one or several runs), the confusion matrix, and the
probe photos' CAMs with an in-figure epoch slider (watch the maps move as accuracy rises, with no rerun)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from camcore.maps import heatmap
from ui.common import plot_parts
from ui.common.text import plot_text

CURVES = (("loss", "loss", "train_loss", "test_loss"), ("accuracy", "accuracy", "train_accuracy", "test_accuracy"))
"""(panel, per-step key, per-epoch train key, per-epoch test key) in metrics.jsonl (camcore.jobs.runs)."""
PROBE_COLUMNS = 3
PROBE_PANEL_PX = 220


def curves_figure(runs: Mapping[str, Sequence[dict]]) -> go.Figure:
    """Per-step loss and accuracy (thin lines) and per-epoch train and test values (markers), by step; one colour
    per run, so several runs overlay for comparison."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=[panel for panel, *_ in CURVES])
    for index, (run_name, records) in enumerate(runs.items()):
        name = plot_text(run_name)
        colour = qualitative.Plotly[index % len(qualitative.Plotly)]
        steps = [r for r in records if r.get("kind") == "step"]
        epochs = [r for r in records if r.get("kind") == "epoch"]
        for column, (panel, step_key, train_key, test_key) in enumerate(CURVES, start=1):
            figure.add_trace(go.Scatter(x=[r["step"] for r in steps], y=[r[step_key] for r in steps], mode="lines",
                                        line=dict(color=colour, width=1), opacity=0.5, legendgroup=name,
                                        name=f"{name}: {panel} per step", showlegend=False), row=1, col=column)
            for key, symbol, label in ((train_key, "circle-open", "train"), (test_key, "circle", "test")):
                figure.add_trace(go.Scatter(x=[r["step"] for r in epochs], y=[r.get(key) for r in epochs],
                                            mode="lines+markers", marker=dict(symbol=symbol, size=9, color=colour),
                                            line=dict(color=colour, dash="dot" if label == "train" else "solid"),
                                            legendgroup=name, name=f"{name}: {label} per epoch",
                                            showlegend=column == 1,
                                            hovertemplate=f"{label} {panel} %{{y:.3f}} at step %{{x}}"
                                                          "<extra>%{fullData.name}</extra>"), row=1, col=column)
    figure.update_xaxes(title_text="step")
    figure.update_yaxes(range=[0, 1.02], row=1, col=2)
    figure.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10),
                         legend=dict(orientation="h", y=-0.2, x=0))
    return figure


def confusion_matrix_figure(labels: Sequence[str], matrix: Sequence[Sequence[int]], title: str) -> go.Figure:
    """Counts of true (rows) against predicted (columns) classes."""
    shown = [plot_text(label) for label in labels]
    heat = go.Heatmap(z=matrix, x=shown, y=shown, colorscale="Blues", texttemplate="%{z}",
                      showscale=False, hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>")
    figure = go.Figure(heat)
    side_px = 160 + 22 * len(labels)
    figure.update_layout(title=title, height=side_px, margin=dict(l=10, r=10, t=40, b=10),
                         xaxis=dict(title="predicted", side="bottom", type="category"),
                         yaxis=dict(title="true", autorange="reversed", type="category"))
    return figure


def probes_figure(photos: Sequence[Image.Image], epochs: Sequence[int], grids: Sequence[Sequence[np.ndarray]],
                  captions: Sequence[Sequence[str]], *, opacity: float = 0.5) -> go.Figure:
    """P probe photos, each with its CAM after every epoch (only the chosen epoch's visible) and an epoch slider.

    grids[e][p]: (gh, gw) map of epoch epochs[e] on photo p's display grid (camcore.maps.display.display_grids),
    captions[e][p]: e.g. "dog 0.97 (true dog)". The slider updates trace visibility and the panel titles together.
    """
    count, columns = len(photos), min(PROBE_COLUMNS, len(photos))
    rows = -(-count // columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=list(captions[-1]), horizontal_spacing=0.02,
                           vertical_spacing=0.08)
    for index, photo in enumerate(photos):
        row, col = index // columns + 1, index % columns + 1
        figure.add_trace(plot_parts.photo_trace(photo, photo.size, PROBE_PANEL_PX * 2), row=row, col=col)
        for epoch_index, grid in enumerate(grids):
            (width, height), (grid_h, grid_w) = photo.size, grid[index].shape
            figure.add_trace(go.Heatmap(z=plot_parts.to_json(grid[index]), x0=width / grid_w / 2, dx=width / grid_w,
                                        y0=height / grid_h / 2, dy=height / grid_h, zmin=0.0, zmax=1.0,
                                        zsmooth="best", colorscale=heatmap.colorscale("magma"), opacity=opacity,
                                        showscale=False, visible=epoch_index == len(grids) - 1, hoverinfo="skip"),
                             row=row, col=col)
        figure.update_xaxes(visible=False, range=[0, photo.width], row=row, col=col)
        figure.update_yaxes(visible=False, range=[photo.height, 0], scaleanchor=f"x{index + 1 if index else ''}",
                            row=row, col=col)
    titles = list(figure.layout.annotations)
    steps = [dict(label=str(epoch), method="update",
                  args=[{"visible": _visible(count, len(grids), epoch_index)},
                        {"annotations": [{**title.to_plotly_json(), "text": text}
                                         for title, text in zip(titles, captions[epoch_index])]}])
             for epoch_index, epoch in enumerate(epochs)]
    figure.update_layout(sliders=[dict(active=len(epochs) - 1, steps=steps, pad=dict(t=30),
                                       currentvalue=dict(prefix="After epoch: "))],
                         height=rows * PROBE_PANEL_PX + 140, margin=dict(l=10, r=10, t=30, b=10), showlegend=False)
    return figure


def _visible(photos: int, epochs: int, shown: int) -> list[bool]:
    """Per trace, in the order added: each photo, then its `epochs` heatmaps; the photo and epoch `shown` only."""
    return [flag for _ in range(photos) for flag in (True, *(index == shown for index in range(epochs)))]
