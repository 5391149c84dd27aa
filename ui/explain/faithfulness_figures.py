"""The faithfulness figure: deletion and insertion curves of a method's map beside a random map and the centred
Gaussian, side by side, each curve's area under it in the legend."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from camcore.scores.faithfulness import FaithfulnessReport

MAP_STYLES = {"method": dict(color="#d62728"), "random_map": dict(color="#7f7f7f", dash="dot"),
              "gaussian_map": dict(color="#1f77b4", dash="dash")}
"""The method's map stands out; the two baselines are quieter, dotted and dashed."""


def curves_figure(report: FaithfulnessReport, *, method_label: str) -> go.Figure:
    """Two panels (deletion, insertion): x the fraction of pixels removed / put back, y the class's probability."""
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                           subplot_titles=("Deletion: lower area is better", "Insertion: higher area is better"))
    names = {"method": method_label, "random_map": "Random map", "gaussian_map": "Centred Gaussian"}
    for column, kind in enumerate(("deletion", "insertion"), start=1):
        for key, label in names.items():
            curve = getattr(getattr(report, key), kind)
            figure.add_trace(go.Scatter(x=curve.fractions, y=curve.probabilities, mode="lines+markers",
                                        name=f"{label}: AUC {curve.auc:.3f}", line=MAP_STYLES[key],
                                        marker=dict(size=4), legendgroup=kind, legendgrouptitle_text=kind.title(),
                                        hovertemplate="%{x:.0%} of pixels: p = %{y:.3f}<extra></extra>"),
                             row=1, col=column)
        figure.update_xaxes(title_text=f"fraction of pixels {'removed' if kind == 'deletion' else 'put back'}",
                            tickformat=".0%", range=[0, 1], row=1, col=column)
    figure.update_yaxes(title_text="probability of the class", rangemode="tozero", row=1, col=1)
    figure.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), legend=dict(groupclick="toggleitem"))
    return figure
