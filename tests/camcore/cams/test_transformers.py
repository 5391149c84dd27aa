"""Maps of transformers (random weights): Swin's channels-last features and a ViT's patch tokens become the
(C, h, w) maps every method weighs, checked against timm's own forward_intermediates; the layers offered, their
defaults, and the fixed input size they were built for."""
from __future__ import annotations

import pytest
import torch

from camcore import cams
from camcore.cli.main import main
from camcore.explain import explain
from camcore.models.layouts import Layout, layout_of
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from tests.camcore.cams.conftest import DEIT, SWIN, assert_close_to, photos, random_weights
from tests.conftest import make_photo


def test_only_outputs_laid_out_over_the_photo_are_maps() -> None:
    """Swin's attention weights, (windows, heads, 49, 49), are no map: batched over windows, or (in its last
    stage, one window) a 49 x 49 grid that does not tile the 56 x 56 patch grid as the stages' 56, 28, 14, 7 do."""
    swin_grid = (56, 56)
    for side in (56, 28, 14, 7):
        assert layout_of(torch.Size([1, side, side, 96]), None, swin_grid) == Layout("nhwc")
    assert layout_of(torch.Size([64, 3, 49, 49]), None, swin_grid) is None
    assert layout_of(torch.Size([1, 24, 49, 49]), None, swin_grid) is None
    assert layout_of(torch.Size([2, 512, 4, 4]), None) is None  # batched: not the probe's one photo


def test_swin_offers_no_attention_weights_and_the_cli_refuses_them(zoo, tmp_path, capsys) -> None:
    swin: LoadedModel = zoo(SWIN)
    assert not [layer for layer in swin.layers if "softmax" in layer]
    assert "layers.3.blocks.1" in swin.layers and "norm" in swin.layers
    x = photos(swin)
    for layer in swin.layers[::8]:
        _, _, height, width = cams.layer_activations(swin, x, layer).shape
        assert 56 % height == 0 and 56 % width == 0, layer
    with pytest.raises(ValueError, match="has no map over the photo"):
        swin.layer("layers.3.blocks.1.attn.softmax")
    photo = tmp_path / "p.png"
    make_photo(64, 64).save(photo)
    weights = random_weights(SWIN, tmp_path)
    status = main(["explain", str(photo), "--model", SWIN, "--weights", str(weights), "--method", "gradcam",
                   "--layer", "layers.3.blocks.1.attn.softmax", "--device", "cpu", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and "has no map over the photo" in err[0]


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
    (result,) = explain([photo], swin, MapOptions(top_k=1))
    assert result.maps.shape == (1, 7, 7) and result.at_image_size().shape == (1, 200, 300)
