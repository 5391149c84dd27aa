"""What a training run is asked to do: TrainConfig, stored as the run folder's config.json."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from camcore.errors import CamcoreError
from camcore.models.device import DEVICE_CHOICES
from camcore.models.pooling import parse_pooling

TASKS = ("binary", "breeds")
"""binary: cat vs dog, one logit, BCEWithLogits, dog = 1 (the lesson's); breeds: 37 classes, cross-entropy."""


class ConfigError(CamcoreError, ValueError):
    """A training configuration (options or a run's config.json) that cannot be used."""


@dataclass(frozen=True)
class TrainConfig:
    """A run's settings; the defaults are the lesson's (about 99.5% test accuracy after 3 epochs on the full data).

    `arch` is a camcore.models.loading spec (`lite0`, `resnet18`, `timm:NAME`, or a checkpoint file to fine-tune
    further); `weights` a local ImageNet state dict for it (offline). `pooling`: "avg", or "tap[:TAU]" (Bae et
    al.'s thresholded average pooling, camcore.models.pooling). `limit` caps the photos of each split, spread
    evenly over it. Values are checked here, so a bad config.json fails before any photo is decoded.
    """

    data_root: str
    task: str = "binary"
    arch: str = "lite0"
    weights: str | None = None
    epochs: int = 3
    image_size_px: int = 512
    batch_size: int = 32
    lr: float = 1e-5
    freeze_backbone: bool = False
    limit: int | None = None
    seed: int = 43052
    device: str = "auto"
    probes: int = 6
    pooling: str = "avg"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"Unknown task {self.task!r}. Valid: {', '.join(TASKS)}.")
        if self.device not in DEVICE_CHOICES:
            raise ConfigError(f"Unknown device {self.device!r}. Valid: {', '.join(DEVICE_CHOICES)}.")
        for name in ("epochs", "image_size_px", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a whole number of at least 1, not {getattr(self, name)!r}.")
        if self.image_size_px < 32:
            raise ConfigError(f"image_size_px must be at least 32 (one stride of the CNN), not {self.image_size_px}.")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise ConfigError(f"limit must be at least 1 photo or None (all), not {self.limit!r}.")
        if not isinstance(self.probes, int) or self.probes < 0:
            raise ConfigError(f"probes must be 0 or more photos, not {self.probes!r}.")
        if not isinstance(self.lr, (int, float)) or not 0 < self.lr < 1:
            raise ConfigError(f"lr must be between 0 and 1, not {self.lr!r}.")
        if not isinstance(self.pooling, str):
            raise ConfigError(f"pooling must be a string such as avg or tap:0.1, not {self.pooling!r}.")
        try:
            parse_pooling(self.pooling)
        except ValueError as exc:
            raise ConfigError(f"pooling: {exc}") from exc

    @property
    def num_outputs(self) -> int:
        """Width of the new head: one logit for cat vs dog, 37 for the breeds."""
        return 1 if self.task == "binary" else 37

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The inverse of to_dict; unknown or missing keys are a ConfigError naming them (a config.json from
        another version, or edited by hand)."""
        if not isinstance(data, dict):
            raise ConfigError(f"A training config must be a JSON object, not {type(data).__name__}.")
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        missing = sorted(name for name, field in fields.items() if name not in data
                         and field.default is dataclasses.MISSING)
        if unknown or missing:
            parts = ([f"unknown keys {', '.join(unknown)}"] if unknown else []) + (
                [f"missing keys {', '.join(missing)}"] if missing else [])
            raise ConfigError(f"Training config has {' and '.join(parts)}. Start a new run with this version.")
        return cls(**data)


LESSON = TrainConfig(data_root="data")
"""The lesson's settings; the caller picks arch (camcore.models.pretrained.default_model()) and data_root."""
QUICK_DEMO: dict[str, Any] = dict(image_size_px=224, epochs=1, lr=1e-3, limit=480, batch_size=32)
"""Overrides for a classroom run of about a minute on a laptop CPU: on the 480 pets of ../shared/data, Lite0 reaches
about 1.00 held-out accuracy after this one epoch."""
