"""What the Explain page's sidebar chose, in one value the page's view, faithfulness and sanity sections all take.

Its own module so that those sections import it without importing the view that imports them."""
from __future__ import annotations

from dataclasses import dataclass

from camcore.cams import METHODS
from camcore.maps import heatmap


@dataclass(frozen=True)
class Settings:
    """What the sidebar chose: the model and how to explain with it."""

    spec: str
    weights_path: str | None
    device: str
    method: str
    layer: str | None
    top_k: int
    size_px: int | None  # None: the model's own input size
    compare: bool
    min_side_px: int  # a large JPEG decodes at reduced scale down to this (camcore.explain.decode_side_px)
    clamp_negative_weights: bool = False  # CAM's NWC (ui.common.wsol_inputs)
    threshold_standard: heatmap.ThresholdStandard = heatmap.MAXIMUM  # what the threshold is a fraction of (PaS)

    def clamps(self, method: str) -> bool:
        """NWC for `method`: a method with the head's weights only (CAM), so compare's Grad-CAM stays as it is."""
        return self.clamp_negative_weights and METHODS[method].needs_head
