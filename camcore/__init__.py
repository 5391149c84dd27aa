"""CAM Explorer's engine: models, CAM and the Grad-CAM family, heatmaps, images and the CLI.

Importing the package is cheap (no torch): submodules are imported where they are used, so that the
dashboard's first page paints before torch has loaded.
"""
from camcore.errors import (
    CamcoreError,
    CheckpointError,
    DataNotFound,
    ImageError,
    ModelUnsupported,
    UnsupportedMethod,
    WeightsUnavailable,
)

__all__ = [
    "CamcoreError",
    "CheckpointError",
    "DataNotFound",
    "ImageError",
    "ModelUnsupported",
    "UnsupportedMethod",
    "WeightsUnavailable",
]
