"""The sanity check's figure: the map after each cumulative randomisation stage over the photo, beside Spearman and
SSIM against the stages, with one in-figure slider over the stages (no rerun: every stage's map is in the figure).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from camcore.explain import DISPLAY_PX
from camcore.scores.sanity import SanityCheck
from ui.common import plot_parts
from ui.common.text import plot_text

PHOTO_DOMAIN, CHART_DOMAIN = (0.0, 0.56), (0.66, 1.0)
"""Horizontal shares of the figure: the photo with the map on the left, the line chart on the right."""
SCORES = (("spearman", "Spearman", "#1f77b4"), ("ssim", "SSIM", "#ff7f0e"))
"""SanityCheck's score field, its name in the legend, its line colour."""


def stage_title(check: SanityCheck, stage: int) -> str:
    """What one slider step shows above the map: how far the cascade went and how like the original the map is."""
    where = "Original model" if stage == 0 else f"Randomised down to {plot_text(check.stages[stage])}"
    return f"{where}: Spearman {_score(check.spearman[stage])}, SSIM {_score(check.ssim[stage])}"


def _score(value: float) -> str:
    return "n/a (flat map)" if np.isnan(value) else f"{value:.2f}"


def sanity_figure(photo: Image.Image, check: SanityCheck, *, colormap: str = "magma", opacity: float = 0.6,
                  max_photo_px: int = DISPLAY_PX) -> plot_parts.PlainFigure:
    """Traces: the photo, one heatmap per stage (stage 0 visible), then the Spearman and SSIM lines. The slider's
    steps "update" the heatmaps' visibility and, in the layout, the title and the chart's stage marker."""
    stages = len(check.stages)
    heat = list(range(1, 1 + stages))
    maps = plot_parts.grid_traces(check.maps, photo.size, check.stages, colormap=colormap, opacity=opacity,
                                  zmin=0.0)
    for trace in maps:
        trace["showscale"] = False
    lines = [dict(type="scatter", x=list(check.stages), y=plot_parts.to_json(getattr(check, field)), name=name,
                  mode="lines+markers", line=dict(color=colour), xaxis="x2", yaxis="y2",
                  hovertemplate=f"{name} %{{y:.2f}}<extra>%{{x}}</extra>")
             for field, name, colour in SCORES]
    steps = [dict(label=name, method="update",
                  args=[{"visible": [rank == stage for rank in range(stages)]},
                        {"title.text": stage_title(check, stage), "shapes[0].x0": stage, "shapes[0].x1": stage},
                        heat])
             for stage, name in enumerate(check.stages)]
    slider = dict(active=0, steps=steps, currentvalue=dict(prefix="Stage: ", font=dict(size=13, color="#333")),
                  font=dict(size=10), pad=dict(t=0, b=10), len=1.0, x=0, xanchor="left", yanchor="top", y=-0.12)
    return plot_parts.PlainFigure({"data": [plot_parts.photo_trace(photo, photo.size, max_photo_px), *maps, *lines],
                                   "layout": _layout(photo.size, slider, stage_title(check, 0))})


def _layout(photo_size: tuple[int, int], slider: dict, title: str) -> dict:
    width, height = photo_size
    marker = dict(type="line", xref="x2", yref="y2 domain", x0=0, x1=0, y0=0, y1=1,
                  line=dict(color="#888", dash="dot", width=2))
    return dict(sliders=[slider], shapes=[marker], height=520, title=dict(text=title),
                margin=dict(l=10, r=10, t=50, b=110), template=plot_parts.default_template(),
                legend=dict(x=CHART_DOMAIN[0], y=1.0, xanchor="left", yanchor="bottom", orientation="h"),
                xaxis=dict(visible=False, range=[0, width], domain=list(PHOTO_DOMAIN), constrain="domain"),
                yaxis=dict(visible=False, range=[height, 0], scaleanchor="x", constrain="domain"),
                xaxis2=dict(domain=list(CHART_DOMAIN), anchor="y2", type="category", tickangle=-45,
                            tickfont=dict(size=10)),
                yaxis2=dict(domain=[0.3, 1.0], anchor="x2", range=[-1.05, 1.05], zeroline=True,
                            title=dict(text="similarity to the original map")))
