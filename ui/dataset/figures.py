"""The Dataset page's figures: label counts per split, the trimap overlay with the head box, the clickable
confusion matrix, the per-breed localisation and faithfulness scores and the WSOL scores beside their baselines.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from camcore.data.pets import SPLITS, PetRecord
from camcore.explain import DISPLAY_PX
from camcore.maps import heatmap
from camcore.scores.record import BASELINES, FAITHFULNESS_BASELINES, FAITHFULNESS_NAMES, SCORE_NAMES, SCORES
from camcore.scores.wsol import SCORE_NAMES as WSOL_NAMES
from camcore.scores.wsol import calibrated_key
from ui.common import plot_parts
from ui.common.text import plot_text

TRIMAP_COLOURS = {1: ("1 pet", (40, 200, 70, 110)), 2: ("2 background", (60, 90, 220, 70)),
                  3: ("3 border", (255, 215, 0, 200))}
"""Oxford-IIIT Pet's trimap values -> (legend label, RGBA overlay colour)."""
MAP_NAMES = {"model": "this model", "gaussian": "centred Gaussian", "random": "random weights",
             "random_map": "random map"}
"""camcore.scores.record.BASELINES' and FAITHFULNESS_BASELINES' names as the legends say them."""
MAP_COLOURS = {"model": "#d62728", "gaussian": "#7f7f7f", "random": "#1f77b4", "random_map": "#2ca02c"}
CURVE_TITLES = {"deletion_auc": f"{FAITHFULNESS_NAMES['deletion_auc']} (lower is better)",
                "insertion_auc": f"{FAITHFULNESS_NAMES['insertion_auc']} (higher is better)"}
"""The faithfulness scores drawn per breed: the areas under the deletion and insertion curves."""
SCORES_HELP = ("Pointing game: the map's peak lies on the pet (trimap 1 or 3). Mask IoU: overlap of the map's part "
               f"at or above {heatmap.DEFAULT_THRESHOLD} of its maximum with the pet. Relative energy: the map's share "
               "on the pet divided by the pet's share of the photo (1 = no better than a uniform map). Box IoU>=0.5: "
               "the CAM paper's localisation: the box around the largest kept region overlaps the pet's box by at "
               "least half. Head pointing: the peak lies in the head box (only photos with a head annotation).")
"""What the score names mean, for captions beside the figures and tables that use them."""
WSOL_HELP = ("The WSOL field's scores (Choe et al., 2020). MaxBoxAccV2: the share of photos where a box around some "
             "region of the map above a threshold overlaps the true box by at least 0.3, 0.5 and 0.7 (averaged); "
             "MaxBoxAcc: the largest region's box, at least 0.5. One threshold serves every photo: bars take the one "
             "best for these photos, as the paper defines the scores; diamonds, when only test photos are shown, "
             "the one best for the trainval photos (calibrated: what a fixed threshold in use would get). PxAP: "
             "the area under the pixel precision-recall curve against the pet, border left out; no threshold.")
FAITHFULNESS_HELP = ("How to read: pixels are blurred away (deletion) or put back onto a blurred photo (insertion) "
                     "in the order the map ranks them; the AUC is the area under the model's probability of its top "
                     "class along the way. A faithful map has a lower deletion and a higher insertion AUC than the "
                     "random map and the centred Gaussian, which know nothing of the model.")


def label_counts(records: Sequence[PetRecord]) -> go.Figure:
    """Images per species and per breed, one bar colour per split; the browser counts (histogram traces)."""
    figure = make_subplots(rows=1, cols=2, column_widths=[0.15, 0.85], subplot_titles=("Cat vs dog", "Breeds"))
    for split in SPLITS:
        chosen = [record for record in records if record.split == split]
        figure.add_trace(go.Histogram(x=[r.species for r in chosen], name=split, legendgroup=split,
                                      marker_color=_split_colour(split)), row=1, col=1)
        figure.add_trace(go.Histogram(x=[plot_text(r.breed) for r in chosen], name=split, legendgroup=split,
                                      showlegend=False,
                                      marker_color=_split_colour(split)), row=1, col=2)
    breeds = [plot_text(breed) for _, breed in sorted({(record.label, record.breed) for record in records})]
    figure.update_xaxes(categoryorder="array", categoryarray=breeds, tickangle=-45, row=1, col=2)
    figure.update_xaxes(categoryorder="array", categoryarray=["cat", "dog"], row=1, col=1)
    figure.update_layout(barmode="group", height=420, margin=dict(l=10, r=10, t=40, b=10),
                         legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))
    return figure


def trimap_figure(photo: Image.Image, trimap: np.ndarray | None, head_box: Sequence[int] | None, *,
                  max_photo_px: int = DISPLAY_PX) -> go.Figure:
    """The photo, its (H, W) trimap as a coloured overlay (None: hidden) and the head box [x0, y0, x1, y1]."""
    traces: list[Any] = [plot_parts.photo_trace(photo, photo.size, max_photo_px)]
    if trimap is not None:
        palette = np.zeros((256, 4), dtype=np.uint8)
        for value, (_, rgba) in TRIMAP_COLOURS.items():
            palette[value] = rgba
        overlay = Image.fromarray(palette[trimap], mode="RGBA")
        traces.append(plot_parts.image_trace(overlay, photo.size, max_photo_px, "PNG", "trimap"))
        traces += [go.Scatter(x=[None], y=[None], mode="markers", name=label, showlegend=True,
                              marker=dict(symbol="square", size=12, color=f"rgba{(*rgba[:3], 0.8)}"))
                   for label, rgba in TRIMAP_COLOURS.values()]
    if head_box is not None:
        box = np.asarray(head_box, dtype=np.float64)
        traces.append(go.Scatter(x=plot_parts.box_x(box), y=plot_parts.box_y(box), mode="lines", name="head box",
                                 showlegend=True, line=dict(color=plot_parts.BOX_COLOUR, width=2), hoverinfo="skip"))
    figure = go.Figure(plot_parts.sliders_figure(traces, [], photo.size, title=None))
    figure.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.02, yanchor="top", x=0))
    return figure


def confusion_figure(pairs: Sequence[tuple[str, str]]) -> go.Figure:
    """Counts of (true, predicted) label pairs as a heatmap; an invisible marker on each non-empty cell makes
    it clickable (Plotly selects scatter points, not heatmap cells). The cells keep the raw labels, which a click
    hands back; what Plotly draws of them (ticks, hover) is their plot_text."""
    counts = Counter(pairs)
    trues, predicted_labels = sorted({true for true, _ in counts}), sorted({label for pair in counts for label in pair})
    z = [[counts.get((true, predicted), 0) for predicted in predicted_labels] for true in trues]
    cells = sorted(counts)
    heat = go.Heatmap(z=z, x=predicted_labels, y=trues, colorscale="Blues", texttemplate="%{z}", hoverinfo="skip",
                      showscale=False)
    markers = go.Scatter(x=[predicted for _, predicted in cells], y=[true for true, _ in cells], mode="markers",
                         customdata=[[counts[cell], *map(plot_text, cell)] for cell in cells],
                         marker=dict(size=28, opacity=0),
                         selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)),
                         hovertemplate="true %{customdata[1]}, predicted %{customdata[2]}: %{customdata[0]} images"
                                       "<extra></extra>")
    figure = go.Figure([heat, markers])
    figure.update_layout(height=140 + 28 * len(trues), margin=dict(l=10, r=10, t=30, b=10), clickmode="event+select",
                         dragmode=False,
                         xaxis=dict(title="predicted", side="top", type="category", tickmode="array",
                                    tickvals=predicted_labels, ticktext=[plot_text(x) for x in predicted_labels]),
                         yaxis=dict(title="true", autorange="reversed", type="category", tickmode="array",
                                    tickvals=trues, ticktext=[plot_text(y) for y in trues]))
    return figure


def localisation_by_breed(per_breed: Mapping[str, Mapping[str, Any]]) -> go.Figure:
    """camcore.scores.summary.summarise()'s per_breed means: one panel per localisation score, the model's bar
    beside the two baselines' (a dotted line at 1.0 in the energy panel: no better than a uniform map)."""
    figure = _scores_by_breed(per_breed, SCORE_NAMES, BASELINES)
    figure.add_vline(x=1.0, line_dash="dot", line_color="#333", row=1, col=SCORES.index("rel_energy") + 1)
    return figure


def wsol_scores(summary: Mapping[str, Any], *, calibrated: bool) -> go.Figure:
    """summarise()'s WSOL scores of the model's map beside the baselines': bars as Choe et al. define them (at
    these photos' best threshold), diamonds at the threshold calibrated on other photos when `calibrated`."""
    figure = go.Figure()
    names = list(WSOL_NAMES.values())
    for map_name in BASELINES:
        values = [summary[key][map_name] for key in WSOL_NAMES]
        figure.add_trace(go.Bar(x=names, y=values, name=MAP_NAMES[map_name], marker_color=MAP_COLOURS[map_name],
                                offsetgroup=map_name, legendgroup=map_name,
                                hovertemplate="%{x}: %{y:.2f}<extra>" + MAP_NAMES[map_name] + "</extra>"))
        if calibrated:
            at_calibration = [summary[key if key == "pxap" else calibrated_key(key)][map_name] for key in WSOL_NAMES]
            figure.add_trace(go.Scatter(x=names, y=at_calibration, mode="markers", offsetgroup=map_name,
                                        legendgroup=map_name, showlegend=False,
                                        name=f"{MAP_NAMES[map_name]} (calibrated)",
                                        marker=dict(symbol="diamond", size=11, color=MAP_COLOURS[map_name],
                                                    line=dict(color="#111", width=1)),
                                        hovertemplate="%{x} (calibrated): %{y:.2f}<extra></extra>"))
    figure.update_layout(barmode="group", scattermode="group", height=320, yaxis=dict(range=[0, 1], title="fraction"),
                         margin=dict(l=10, r=10, t=30, b=10))
    return figure


def faithfulness_by_breed(per_breed: Mapping[str, Mapping[str, Any]]) -> go.Figure:
    """summarise()'s per_breed deletion and insertion AUC means, the model's map beside the centred Gaussian and
    the random map (present when the predictions were asked for faithfulness)."""
    return _scores_by_breed(per_breed, CURVE_TITLES, FAITHFULNESS_BASELINES)


def _scores_by_breed(per_breed: Mapping[str, Mapping[str, Any]], titles: Mapping[str, str],
                     maps: Collection[str]) -> go.Figure:
    """One panel per score of `titles` (summary key -> panel title), a horizontal bar per breed for each of `maps`
    (summary map names, keys of MAP_NAMES), grouped."""
    breeds = list(per_breed)
    shown = [plot_text(breed) for breed in breeds]
    figure = make_subplots(rows=1, cols=len(titles), shared_yaxes=True, subplot_titles=list(titles.values()))
    for column, score in enumerate(titles, start=1):
        for map_name in maps:
            figure.add_trace(go.Bar(x=[per_breed[breed][score][map_name] for breed in breeds], y=shown,
                                    orientation="h", name=MAP_NAMES[map_name], legendgroup=map_name,
                                    showlegend=column == 1, marker_color=MAP_COLOURS[map_name],
                                    hovertemplate="%{y}: %{x:.2f}<extra>" + MAP_NAMES[map_name] + "</extra>"),
                             row=1, col=column)
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(barmode="group", height=120 + 48 * len(breeds), margin=dict(l=10, r=10, t=40, b=10))
    return figure


def _split_colour(split: str) -> str:
    return "#4c78a8" if split == SPLITS[0] else "#f58518"


