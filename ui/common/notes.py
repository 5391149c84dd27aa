"""One-line notes on how a model sees a photo, in the words of the pages that show its maps."""
from __future__ import annotations

from camcore.explain import Explanation
from camcore.models.loading import LoadedModel
from ui.common.text import plain


def fixed_size_note(model: LoadedModel) -> str | None:
    """For a model built for one input size (a ViT, DeiT or Swin): that every photo is squashed to it."""
    if model.preprocessing.fixed_size is None:
        return None
    height, width = model.preprocessing.fixed_size
    return (f"{plain(model.spec)} takes {width}x{height} inputs only, the size it was built for: each photo is "
            "squashed to it (nothing cropped) and its map stretched back over the photo.")


def squashed_note(result: Explanation) -> str | None:
    """For one photo whose aspect a fixed-size model changed: by how much, and that the map still lines up."""
    if not result.squashed:
        return None
    width, height = result.image_size
    input_height, input_width = result.input_size
    return (f"This {width}x{height} photo was squashed to {input_width}x{input_height}, the only size this model "
            "takes; its map is stretched back, so it lines up with the photo.")
