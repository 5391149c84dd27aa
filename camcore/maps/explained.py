"""What the map steps need of an explained photo, as a Protocol: camcore.explain.Explanation is one, and the maps
package reads it without importing the floor above (display and exports take any value of this shape)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class RankedClass(Protocol):
    """One explained class: its name and the model's probability for it."""

    @property
    def class_name(self) -> str: ...

    @property
    def probability(self) -> float: ...


class ExplainedPhoto(Protocol):
    """K classes' maps of one photo: maps and signed_maps (K, h, w) on the layer's grid, the photo's (width,
    height), and the classes, best first."""

    @property
    def maps(self) -> np.ndarray: ...

    @property
    def signed_maps(self) -> np.ndarray: ...

    @property
    def image_size(self) -> tuple[int, int]: ...

    @property
    def predictions(self) -> Sequence[RankedClass]: ...
