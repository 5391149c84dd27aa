"""What the CLI's subcommands share: the model options and argparse value types."""
from __future__ import annotations

import argparse

from camcore.cams import METHODS
from camcore.device import DEVICE_CHOICES


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model, --weights, --method, --size and --device, as every subcommand that runs a model takes them."""
    parser.add_argument("--model", default=None,
                        help="lite0 (EfficientNet-Lite0, ships with the app), a torchvision name (resnet18), "
                        "timm:NAME, or a CAM Explorer checkpoint file (default: resnet18 when its weights are "
                        "cached, else lite0)")
    parser.add_argument("--weights", metavar="FILE", help="local state dict for a model name (offline use)")
    parser.add_argument("--method", choices=list(METHODS), default="cam")
    parser.add_argument("--size", type=positive_int, dest="size_px", metavar="PX",
                        help="input shorter side in pixels (default: the model's own)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
