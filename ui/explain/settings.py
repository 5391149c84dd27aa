"""What the Explain page's sidebar chose, in one value the page's view, faithfulness and sanity sections all take.

Its own module so that those sections import it without importing the view that imports them."""
from __future__ import annotations

from dataclasses import dataclass

from camcore.options import MapOptions
from ui.common.models import ModelChoice


@dataclass(frozen=True)
class Settings:
    """What the sidebar chose: the model, how to map with it, and whether to show CAM beside Grad-CAM."""

    model: ModelChoice
    options: MapOptions
    compare: bool = False

    def options_for(self, method: str) -> MapOptions:
        """The sidebar's options for `method`: its own as chosen; Compare's other method with NWC only where it
        applies and its own default layer where CAM maps the head's features (MapOptions.with_method)."""
        return self.options if method == self.options.method else self.options.with_method(method)
