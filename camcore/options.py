"""What a map needs besides the photo and the model, as one frozen value: explain, the scores, the serving code,
the CLI and every page's cache take it, so adding a map option is one field here and its widget."""
from __future__ import annotations

from dataclasses import dataclass, replace

from camcore.maps import heatmap


@dataclass(frozen=True)
class MapOptions:
    """How to map a photo. Frozen and hashable: the pages' caches key on (photo, model version, options).

    method: a key of camcore.cams.METHODS. layer: the mapped module, None for the method's default (CAM always
    maps the features feeding the head). classes: the classes to map, in that order, the same for every photo;
    None: each photo's top_k, best first. size_px: the input's shorter side, None for the model's own size.
    clamp_negative_weights: Bae et al.'s NWC, for methods mapping with the head's weights (CAM) only.
    threshold_standard: what a threshold's fraction is a fraction of (the maximum, or a percentile: PaS); it
    shapes boxes, masks and scores, never the map itself (see model_pass).
    """

    method: str = "cam"
    layer: str | None = None
    top_k: int = 5
    classes: tuple[int, ...] | None = None
    size_px: int | None = None
    clamp_negative_weights: bool = False
    threshold_standard: heatmap.ThresholdStandard = heatmap.MAXIMUM

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, not {self.top_k}")
        if self.classes is not None and not self.classes:
            raise ValueError("classes must name at least one class, or be None for the top_k")
        if self.size_px is not None and self.size_px < 1:
            raise ValueError(f"size_px must be a positive number of pixels or None, not {self.size_px}")

    def model_pass(self) -> MapOptions:
        """These options without what only shapes thresholds: what a model pass depends on, so that switching
        the threshold standard reuses the cached pass."""
        return replace(self, threshold_standard=heatmap.MAXIMUM)

    def with_method(self, method: str) -> MapOptions:
        """The same options for another method (Compare's Grad-CAM beside CAM): NWC stays only where it applies,
        to a method mapping with the head's weights, and the layer only where that method may pick one."""
        from camcore.cams import get_method

        head = get_method(method).needs_head
        return replace(self, method=method, clamp_negative_weights=self.clamp_negative_weights and head,
                       layer=None if head else self.layer)

    @property
    def explained(self) -> int:
        """How many classes each photo's maps hold."""
        return self.top_k if self.classes is None else len(self.classes)


DEFAULTS = MapOptions()
"""CAM of each photo's top 5 classes at the model's own input size."""
