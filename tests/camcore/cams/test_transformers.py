"""Maps of transformers (random weights): Swin's channels-last features and a ViT's patch tokens become the
(C, h, w) maps every method weighs, checked against timm's own forward_intermediates; the layers offered, their
defaults, and the fixed input size they were built for."""
from __future__ import annotations

import pytest

from camcore import cams
from camcore.explain import explain
from camcore.models.layouts import Layout
from camcore.models.loading import LoadedModel
from tests.camcore.cams.conftest import DEIT, SWIN, assert_close_to, photos
from tests.conftest import make_photo


def test_swin_offers_its_stages_and_maps_norm_channels_last(zoo) -> None:
    swin: LoadedModel = zoo(SWIN)
    assert swin.cam is not None and swin.default_layer == "norm" and swin.layouts["norm"] == Layout("nhwc")
    assert cams.stage_layers(swin) == ("patch_embed", "layers.0", "layers.1", "layers.2", "layers.3", "norm")
    x = photos(swin)
    expected = swin.module.forward_intermediates(x, indices=[2], norm=False, output_fmt="NCHW",
                                                 intermediates_only=True)[0]
    assert_close_to(cams.layer_activations(swin, x, "layers.2"), expected)


def test_deit_maps_its_patch_tokens_on_their_grid_without_the_class_token(zoo) -> None:
    deit: LoadedModel = zoo(DEIT)
    assert deit.cam is None and deit.preprocessing.fixed_size == (224, 224)
    assert cams.stage_layers(deit) == (*(f"blocks.{i}" for i in range(12)), "norm")
    x = photos(deit)
    expected = deit.module.forward_intermediates(x, indices=[5], norm=False, output_fmt="NCHW",
                                                 intermediates_only=True)[0]
    acts = cams.layer_activations(deit, x, "blocks.5")
    assert acts.shape == (2, 192, 14, 14)
    assert_close_to(acts, expected)
    grad = cams.compute_maps(deit, x, method="gradcam", top_k=2)
    assert grad.layer == "blocks.11.norm1" and grad.maps.shape == (2, 2, 14, 14)


def test_deit_defaults_to_the_last_layer_whose_patches_reach_the_class_token(zoo) -> None:
    """After the last block's attention only the class token reaches the logits: Grad-CAM there is zero, at the
    default (the input of that attention) it is not."""
    deit: LoadedModel = zoo(DEIT)
    x = photos(deit)
    assert cams.compute_maps(deit, x, method="gradcam", layer="blocks.11").signed_maps.abs().max() == 0
    assert cams.compute_maps(deit, x, method="gradcam").signed_maps.abs().max() > 0


def test_a_fixed_size_model_squashes_the_photo_and_stretches_the_map_back(zoo) -> None:
    swin: LoadedModel = zoo(SWIN)
    pre = swin.preprocessing
    assert pre.input_size((500, 375)) == (224, 224) and pre.squashes((500, 375)) and not pre.squashes((300, 300))
    assert pre.with_size(224) is pre
    with pytest.raises(ValueError, match="224x224 inputs only"):
        pre.with_size(448)
    photo = make_photo(300, 200, seed=3)
    (result,) = explain([photo], swin, top_k=1)
    assert result.maps.shape == (1, 7, 7) and result.at_image_size().shape == (1, 200, 300)
