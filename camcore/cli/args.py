"""What the CLI's subcommands share: the model, data-set, job, faithfulness and threshold options and argparse
value types."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from camcore import settings
from camcore.cams import METHODS
from camcore.maps import heatmap
from camcore.models.device import DEVICE_CHOICES
from camcore.models.pretrained import DEFAULT_MODEL_RULE
from camcore.options import MapOptions
from camcore.scores.faithfulness import DATASET_STEPS, forward_passes


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
                        f"timm:NAME, or a CAM Explorer checkpoint file (default: {DEFAULT_MODEL_RULE})")
    parser.add_argument("--weights", metavar="FILE", help="local state dict for a model name (offline use)")
    parser.add_argument("--method", choices=list(METHODS), default="cam", metavar="METHOD",
                        help="; ".join(f"{key}: {method.summary}" for key, method in METHODS.items())
                        + " (default: %(default)s)")
    parser.add_argument("--size", type=positive_int, dest="size_px", metavar="PX",
                        help="input shorter side in pixels (default: the model's own)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")


def add_data_option(parser: argparse.ArgumentParser, *, role: str = "holding") -> None:
    """--data ROOT, the folder of oxford-iiit-pet/ (`role`: "holding", or "to hold" for the download);
    read it with data_root_of, which applies the default."""
    parser.add_argument("--data", type=Path, default=None, metavar="ROOT",
                        help=f"folder {role} oxford-iiit-pet/ (default: ${settings.DATA_ENV}, else ./data)")


def data_root_of(args: argparse.Namespace) -> Path:
    """--data, else the environment's or ./data (camcore.settings.data_root), read when the command runs."""
    return args.data if args.data is not None else settings.data_root()


def add_job_option(parser: argparse.ArgumentParser, *, default_place: str) -> None:
    """--job JOB_DIR: the folder a page made for this background job to report its progress in."""
    parser.add_argument("--job", type=Path, metavar="JOB_DIR",
                        help=f"existing job folder to report in (default: a new one in {default_place})")


def add_faithfulness_option(parser: argparse.ArgumentParser, *, where: str = "") -> None:
    """--faithfulness [STEPS]: also the deletion / insertion scores of camcore.scores.faithfulness, `where` they go."""
    parser.add_argument("--faithfulness", type=positive_int, nargs="?", const=DATASET_STEPS, metavar="STEPS",
                        help="also deletion / insertion AUC and the drop / increase in confidence of the map beside "
                             "a random map and the Gaussian (curves of STEPS steps, default %(const)s: "
                             f"{forward_passes(DATASET_STEPS)} extra forward passes per photo){where}")


def add_threshold_options(parser: argparse.ArgumentParser, *, what: str) -> None:
    """--threshold T and the options of add_fix_options; `what` the threshold decides. Read the threshold with
    threshold_of, which applies the standard's default."""
    parser.add_argument("--threshold", type=fraction, default=None, metavar="T",
                        help=f"{what} keep map values >= T of the standard (0..1, default "
                             f"{heatmap.DEFAULT_THRESHOLD} of the maximum, {heatmap.PAS_THRESHOLD} of a percentile)")
    add_fix_options(parser)


def add_fix_options(parser: argparse.ArgumentParser) -> None:
    """--threshold-standard max|percentile[:P] and --clamp-negative-weights: Bae et al., 2020's PaS and NWC."""
    parser.add_argument("--threshold-standard", type=_standard, default=heatmap.MAXIMUM,
                        metavar="max|percentile[:P]",
                        help="what a threshold is a fraction of: the map's maximum (the CAM paper, default) or its "
                             f"P-th percentile (PaS, Bae et al., 2020; P default {heatmap.PAS_PERCENTILE:g})")
    parser.add_argument("--clamp-negative-weights", action="store_true",
                        help="CAM only: the map uses max(w, 0) of the head's weights (NWC, Bae et al., 2020), so "
                             "mean + bias is no longer the logit")


def threshold_of(args: argparse.Namespace) -> float:
    """--threshold, else the default of --threshold-standard (0.2 of the maximum, 0.35 of a percentile)."""
    return args.threshold if args.threshold is not None else args.threshold_standard.default_threshold


def map_options_of(args: argparse.Namespace, **fixed: Any) -> MapOptions:
    """The map options a subcommand's arguments give (those it does not define keep MapOptions' defaults);
    `fixed` overrides, e.g. top_k=1 where only the top class is scored."""
    given: dict[str, Any] = {field.name: getattr(args, field.name) for field in dataclasses.fields(MapOptions)
                             if getattr(args, field.name, None) is not None}
    return MapOptions(**{**given, **fixed})


def _standard(text: str) -> heatmap.ThresholdStandard:
    try:
        return heatmap.threshold_standard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
