"""Our checkpoint format (a fine-tuned model with everything needed to use it) and safe weight loading.

A checkpoint is a plain dict of tensors, strings and numbers, so `torch.load(weights_only=True)` reads it
and nothing in it can run code:
    format        "cam-explorer-checkpoint"        version      1
    arch          "resnet18" or "timm:NAME"         head         "binary" (one logit) or "multiclass"
    class_names   ["cat", "dog"] for binary heads: (negative, positive), the logit is the positive class
    preprocessing Preprocessing.to_dict()           state_dict   the model's state dict
    training      summary of how it was trained (epochs, lr, accuracy...), free-form JSON-like values
    pooling       "avg" (absent in older files) or "tap:TAU": the global pooling it was trained with
"""
from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from camcore.errors import CheckpointError
from camcore.files import write_atomic
from camcore.models.pooling import parse_pooling, pooling_name
from camcore.models.preprocessing import Preprocessing

FORMAT = "cam-explorer-checkpoint"
VERSION = 1
HEADS = ("binary", "multiclass")
_REQUIRED = ("format", "version", "arch", "head", "class_names", "preprocessing", "state_dict")


@dataclass(frozen=True)
class Checkpoint:
    """A fine-tuned classifier: architecture, weights, class names, preprocessing and training summary."""

    arch: str
    head: str
    class_names: tuple[str, ...]
    preprocessing: Preprocessing
    state_dict: dict[str, torch.Tensor]
    training: dict[str, Any] = field(default_factory=dict)
    pooling: str = "avg"  # camcore.models.pooling's names: TAP has no weights, so the file must say so

    @property
    def num_outputs(self) -> int:
        """Width of the final Linear layer: one logit for a binary head."""
        return 1 if self.head == "binary" else len(self.class_names)


def load_tensors(path: str | os.PathLike) -> Any:
    """torch.load with weights_only=True, turning every failure into one CheckpointError line."""
    name = Path(path).name
    if not Path(path).is_file():
        raise CheckpointError(f"{name}: no such file ({path}).")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" not in str(exc):
            raise CheckpointError(f"{name}: not a PyTorch weights file.") from exc
        raise CheckpointError(f"{name}: refused: it holds Python objects beyond tensors, which could run code "
                              "when loaded. Save a plain state dict or a CAM Explorer checkpoint.") from exc
    except (RuntimeError, EOFError, ValueError, OSError, KeyError) as exc:  # KeyError: a text file
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]  # an empty file's EOFError has no text
        raise CheckpointError(f"{name}: not a readable PyTorch file ({detail}).") from exc


def load_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A plain state dict (e.g. ImageNet weights saved offline); also accepts our checkpoint's."""
    data = load_tensors(path)
    if isinstance(data, dict) and data.get("format") == FORMAT:
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{Path(path).name}: not a state dict (a mapping of names to tensors).")
    return data


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Reads and validates a CAM Explorer checkpoint; anything else is refused with what was missing."""
    name = Path(path).name
    data = load_tensors(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{name}: not a CAM Explorer checkpoint. A plain state dict of ImageNet weights "
                              "goes with a model name: --model ARCH --weights FILE.")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"{name}: checkpoint lacks {', '.join(missing)}.")
    if data["version"] != VERSION:
        raise CheckpointError(f"{name}: checkpoint version {data['version']}; this CAM Explorer reads {VERSION}.")
    if data["head"] not in HEADS:
        raise CheckpointError(f"{name}: unknown head {data['head']!r}. Valid: {', '.join(HEADS)}.")
    class_names = _class_names(name, data["class_names"])
    if data["head"] == "binary" and len(class_names) != 2:
        raise CheckpointError(f"{name}: a binary head needs two class names (negative, positive).")
    return Checkpoint(arch=_typed(name, "arch", data["arch"], str), head=data["head"], class_names=class_names,
                      preprocessing=_preprocessing(name, data["preprocessing"]),
                      state_dict=_tensors(name, data["state_dict"]),
                      training=dict(_typed(name, "training", data.get("training", {}), dict)),
                      pooling=_pooling(name, data.get("pooling", "avg")))


def _typed(name: str, key: str, value: Any, kind: type) -> Any:
    """`value` if it is a `kind`, else one CheckpointError line naming the field."""
    if not isinstance(value, kind):
        raise CheckpointError(f"{name}: checkpoint field {key} is a {type(value).__name__}, not a {kind.__name__}.")
    return value


def _pooling(name: str, value: Any) -> str:
    """A pooling camcore.models.pooling knows, in its own spelling."""
    try:
        return pooling_name(parse_pooling(_typed(name, "pooling", value, str)))
    except ValueError as exc:
        raise CheckpointError(f"{name}: {exc}") from exc


def _class_names(name: str, value: Any) -> tuple[str, ...]:
    """A list of strings (a bare string would otherwise become one class per letter)."""
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
        raise CheckpointError(f"{name}: class_names must be a non-empty list of strings; "
                              f"it is {type(value).__name__} {str(value)[:60]!r}.")
    return tuple(value)


def _preprocessing(name: str, value: Any) -> Preprocessing:
    """Preprocessing.from_dict, its KeyError/TypeError/ValueError made one CheckpointError line."""
    if not isinstance(value, dict):
        raise CheckpointError(f"{name}: preprocessing must be a dict, not a {type(value).__name__}.")
    try:
        return Preprocessing.from_dict(value)
    except KeyError as exc:
        raise CheckpointError(f"{name}: preprocessing lacks {exc.args[0]!r}.") from exc
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{name}: preprocessing is malformed ({exc}).") from exc


def _tensors(name: str, value: Any) -> dict[str, torch.Tensor]:
    """A state dict: a mapping of str names to tensors, as load_state_dict expects."""
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in value.items()):
        raise CheckpointError(f"{name}: state_dict is not a mapping of names to tensors.")
    return value


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike) -> None:
    """Writes atomically (temp file + os.replace): a crash never leaves half a checkpoint."""
    path = Path(path)
    payload = {"format": FORMAT, "version": VERSION, "arch": checkpoint.arch, "head": checkpoint.head,
               "class_names": list(checkpoint.class_names), "preprocessing": checkpoint.preprocessing.to_dict(),
               "state_dict": checkpoint.state_dict, "training": checkpoint.training, "pooling": checkpoint.pooling}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_atomic(path, buffer.getvalue())
