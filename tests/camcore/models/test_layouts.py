"""Layouts: hand-made channels-last and token outputs become the (N, C, h, w) maps, the probe's shapes say which
layout a layer has, and a ViT's token grid is read from its module tree (checked against timm's own maps)."""
from __future__ import annotations

import timm
import torch
import torchvision
from torch import nn

from camcore.models.layouts import NCHW, Layout, layout_of, token_grid


def test_layouts_turn_hand_made_outputs_into_channel_first_maps() -> None:
    maps = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)  # (N, C, h, w)
    channels_last = maps.permute(0, 2, 3, 1)
    tokens = torch.cat([torch.full((2, 1, 3), -1.0), channels_last.flatten(1, 2)], dim=1)  # a class token first
    assert torch.equal(Layout("nhwc").to_maps(channels_last), maps)
    assert torch.equal(Layout("tokens", 1, (2, 2)).to_maps(tokens), maps)
    assert torch.equal(NCHW.to_maps(maps), maps)
    batched = torch.stack([tokens, 2 * tokens], dim=1)  # (N, K, T, C): a batch of classes' gradients
    assert torch.equal(Layout("tokens", 1, (2, 2)).to_maps(batched)[:, 1], 2 * maps)


def test_a_non_square_token_grid_is_read_row_by_row() -> None:
    """Two prefix tokens, then a 2 x 3 grid whose token t holds the value t in every channel: row-major, as a
    ViT's patch embedding flattens its grid."""
    grid = torch.arange(6, dtype=torch.float32).view(1, 6, 1).expand(1, 6, 4)
    tokens = torch.cat([torch.full((1, 2, 4), 99.0), grid], dim=1)  # (1, 2 + 6, C=4)
    maps = Layout("tokens", 2, (2, 3)).to_maps(tokens)
    assert maps.shape == (1, 4, 2, 3)
    assert torch.equal(maps[0, 0], torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]))
    assert torch.equal(maps[0, 3], maps[0, 0])  # every channel alike, the prefix tokens' 99 dropped


def test_layout_of_reads_the_probe_shapes() -> None:
    grid = Layout("tokens", 1, (14, 14))
    assert layout_of(torch.Size([1, 512, 4, 4]), None) == NCHW
    assert layout_of(torch.Size([1, 7, 7, 768]), None) == Layout("nhwc")
    assert layout_of(torch.Size([1, 7, 7, 7]), None) == NCHW  # ambiguous: a CNN's convention
    assert layout_of(torch.Size([1, 512, 1, 1]), None) is None  # pooled: one position is no map
    assert layout_of(torch.Size([1, 197, 192]), grid) == grid
    assert layout_of(torch.Size([1, 196, 192]), grid) is None  # the patch embedding, before the class token
    assert layout_of(torch.Size([64, 49, 96]), None) is None  # Swin's windows: no image-wide grid


def test_layout_of_refuses_token_outputs_without_a_grid_or_of_one_position() -> None:
    assert layout_of(torch.Size([1, 197, 192]), None) is None  # tokens, but the model has no token grid
    assert layout_of(torch.Size([1, 2, 192]), Layout("tokens", 1, (1, 1))) is None  # one patch is no map
    assert layout_of(torch.Size([1, 512]), None) is None  # a pooled vector


class _Patches(nn.Module):
    def __init__(self, grid_size: tuple[int, int] | None) -> None:
        super().__init__()
        if grid_size is not None:
            self.grid_size = grid_size


class _TokenModel(nn.Module):
    """A stand-in with timm's attribute names, and only those."""

    def __init__(self, prefix: int | None, grid_size: tuple[int, int] | None) -> None:
        super().__init__()
        if prefix is not None:
            self.num_prefix_tokens = prefix
        self.patch_embed = _Patches(grid_size)


def test_token_grid_needs_both_timm_attributes() -> None:
    assert token_grid(_TokenModel(1, (3, 4))) == Layout("tokens", 1, (3, 4))
    assert token_grid(_TokenModel(None, (56, 56))) is None  # Swin: a patch grid, but windows, no prefix count
    assert token_grid(_TokenModel(1, None)) is None
    assert token_grid(torchvision.models.resnet18()) is None


def test_token_grid_of_a_distilled_deit_matches_timm_s_own_maps() -> None:
    """DeiT with a class and a distillation token, built for 32 x 48 inputs (a 2 x 3 grid of 16 px patches, so that
    rows and columns cannot be swapped unseen): the layout drops both tokens and turns forward_features' tokens
    into exactly the map timm's forward_intermediates gives of its last block, normalised as forward_features is."""
    torch.manual_seed(0)
    deit = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False, img_size=(32, 48)).eval()
    layout = token_grid(deit)
    assert layout == Layout("tokens", 2, (2, 3))
    x = torch.randn(1, 3, 32, 48)
    with torch.inference_mode():
        tokens = deit.forward_features(x)
        expected = deit.forward_intermediates(x, indices=[11], norm=True, intermediates_only=True)[0]
    assert expected.shape == (1, 192, 2, 3) and layout_of(tokens.shape, layout) == layout
    torch.testing.assert_close(layout.to_maps(tokens), expected)
