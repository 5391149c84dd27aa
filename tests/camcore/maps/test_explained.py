"""The ExplainedPhoto protocol: camcore.explain's Explanation (and its Prediction) provide every member it names,
and the maps package needs nothing more: a stand-in holding only those members gives display and exports the same
results as an Explanation, the map upsampled as torch's own bilinear interpolation does."""
from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from camcore.explain import Explanation, Prediction
from camcore.maps import display, exports
from camcore.maps.explained import ExplainedPhoto, RankedClass
from camcore.options import MapOptions


def members(protocol: type) -> set[str]:
    """The properties a Protocol class declares itself."""
    return {name for name, value in vars(protocol).items() if isinstance(value, property)}


def test_the_protocol_names_what_a_photo_s_explanation_holds() -> None:
    assert members(ExplainedPhoto) == {"maps", "signed_maps", "image_size", "predictions"}
    assert members(RankedClass) == {"class_name", "probability"}
    assert members(ExplainedPhoto) <= {field.name for field in dataclasses.fields(Explanation)}
    assert members(RankedClass) <= {field.name for field in dataclasses.fields(Prediction)}


@dataclasses.dataclass(frozen=True)
class Ranked:
    class_name: str
    probability: float


@dataclasses.dataclass(frozen=True)
class OnlyTheProtocol:
    """Nothing but the protocol's members: no bias, method, layer or device."""

    maps: np.ndarray
    signed_maps: np.ndarray
    image_size: tuple[int, int]
    predictions: Sequence[Ranked]


def test_display_and_exports_need_nothing_beyond_the_protocol() -> None:
    rng = np.random.default_rng(0)
    signed = rng.uniform(-2, 5, size=(2, 3, 4)).astype(np.float32)
    maps = np.maximum(signed, 0)
    size = (40, 30)  # (width, height)
    stand_in = OnlyTheProtocol(maps, signed, size, (Ranked("tabby", 0.75), Ranked("lynx", 0.125)))
    full = Explanation(predictions=(Prediction(281, "tabby", 3.0, 0.75), Prediction(287, "lynx", 1.0, 0.125)),
                       signed_maps=signed, maps=maps, bias=(0.5, -0.5), image_size=size,
                       options=MapOptions(method="gradcam"), layer="layer4", device="cpu", elapsed_s=0.0)
    ours, theirs = display.slider_layers(stand_in), display.slider_layers(full)
    for name in ("thresholds", "maps", "levels", "boxes", "signed"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name))
    assert ours.labels == theirs.labels == ("1. tabby (75.0%)", "2. lynx (12.5%)")
    photo = Image.new("RGB", size)
    for rank in (0, 1):
        assert exports.map_npy(stand_in, rank) == exports.map_npy(full, rank)
        assert exports.export_class(photo, stand_in, rank) == exports.export_class(photo, full, rank)
    npy = np.load(io.BytesIO(exports.map_npy(stand_in, 1)))
    expected = F.interpolate(torch.from_numpy(maps[1])[None, None], size=(30, 40), mode="bilinear",
                             align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(npy, expected, rtol=1e-6)
