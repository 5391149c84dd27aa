"""The global pooling before the Linear head: plain average pooling, or TAP, thresholded average pooling (Bae
et al., ECCV 2020), a training-time head that keeps each channel's values above tau times its maximum and
averages over those positions only, so a channel's weak spread over the object is not averaged away.

CAM stays sum_c w_c F_c on the unthresholded features; with TAP the logit is W . TAP(F) + b, and the map's mean
plus the bias is then no longer the logit (camcore.models.heads finds which pooling a model has from its modules).
"""
from __future__ import annotations

import torch
from torch import nn

from camcore.errors import ModelUnsupported

DEFAULT_TAU = 0.1
"""Bae et al.'s threshold: keep each channel's positions above 0.1 of its maximum."""
POOLINGS = ("avg", "tap")


class ThresholdedAvgPool2d(nn.Module):
    """(N, C, H, W) -> (N, C, 1, 1): per image and channel, the mean of the values above tau x the channel's
    maximum, over the number of kept positions (at least 1, so a channel with nothing kept pools to 0).

    The output keeps its 1x1 spatial size so that it stands where a network's AdaptiveAvgPool2d(1) stood."""

    def __init__(self, tau: float = DEFAULT_TAU) -> None:
        super().__init__()
        if not 0.0 <= tau < 1.0:
            raise ValueError(f"TAP's tau must be in [0, 1), not {tau}.")
        self.tau = tau

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        peak = x.amax(dim=(2, 3), keepdim=True)
        kept = (x > self.tau * peak).to(x.dtype)
        count = kept.sum(dim=(2, 3), keepdim=True).clamp_min(1)
        return (x * kept).sum(dim=(2, 3), keepdim=True) / count

    def extra_repr(self) -> str:
        return f"tau={self.tau}"


def parse_pooling(text: str) -> float | None:
    """"avg" -> None; "tap" or "tap:TAU" -> TAU (default DEFAULT_TAU); ValueError with the valid spellings else."""
    name, _, value = text.strip().partition(":")
    if name == "avg" and not value:
        return None
    if name == "tap":
        try:
            tau = float(value) if value else DEFAULT_TAU
        except ValueError:
            tau = -1.0
        if 0.0 <= tau < 1.0:
            return tau
    raise ValueError(f"Unknown pooling {text!r}. Valid: avg, tap, tap:TAU (0 <= TAU < 1).")


def pooling_name(tau: float | None) -> str:
    """The inverse of parse_pooling: "avg" or "tap:TAU" (what checkpoints and run configs record)."""
    return "avg" if tau is None else f"tap:{tau:g}"


def install_pooling(module: nn.Module, tau: float | None) -> None:
    """Puts TAP (tau not None) where the network's global average pooling is: torchvision's `avgpool` child
    (ResNet, EfficientNet, MobileNet), timm's `global_pool`. ModelUnsupported where there is none to replace
    (DenseNet pools in its forward function)."""
    if tau is None:
        return
    children = dict(module.named_children())
    if isinstance(children.get("avgpool"), nn.AdaptiveAvgPool2d):
        module.avgpool = ThresholdedAvgPool2d(tau)
    elif isinstance(flatten := getattr(children.get("global_pool"), "flatten", None), nn.Module):  # timm's
        module.global_pool = nn.Sequential(ThresholdedAvgPool2d(tau), flatten)
    else:
        raise ModelUnsupported(f"{type(module).__name__} has no global average pooling module to replace with "
                               "TAP. Pick resnet18, another ResNet, EfficientNet or MobileNet, or pooling avg.")


def tap_of(module: nn.Module) -> ThresholdedAvgPool2d | None:
    """The model's TAP module, found in its module tree; None for plain average pooling."""
    return next((m for m in module.modules() if isinstance(m, ThresholdedAvgPool2d)), None)
