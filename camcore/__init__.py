"""CAM Explorer's engine: photos -> predictions and maps (explain.py), with one subpackage per job.

- models/: names, weights, checkpoints, heads and pooling, preprocessing, device, hooks (the shared model, left
  as found)
- cams/: CAM and the Grad-CAM family, one file per method over base.py; the Lesson's step-by-step numbers
- maps/: upsample, normalise, threshold, box, colour, overlay, the figure's slider layers, exports
- data/: images (any upload -> RGB), Oxford-IIIT Pet, samples, thumbnails, the Dataset page's orders
- scores/: localisation, the WSOL papers' scores, faithfulness, the sanity check, evaluate
- train/: fine-tuning into a run folder; jobs/: the job process, run folders, predict and download jobs
- cli/: `python -m camcore ...`; serving/: what the server shares between sessions (warmup, batching, paths,
  live frames)
- At the top: explain.py, errors.py (one CamcoreError family) and files.py (all-or-nothing writes, used by all).

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
