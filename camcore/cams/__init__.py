"""Map methods: importing this package registers each one in METHODS, in menu order (the CLI, pages and tests
read it); each method's `summary` says in one line what it weighs and when to pick it."""
from camcore.cams import cam, gradcam, gradcampp, layercam, scorecam  # noqa: F401, I001  (registration, menu order)
from camcore.cams import xgradcam, hirescam, finercam, eigencam  # noqa: F401
from camcore.cams.activations import layer_activations, stage_layers
from camcore.cams.base import (
    METHODS,
    MapBatch,
    MapSteps,
    check_applicable,
    class_probabilities,
    compute_maps,
    exact_method,
    get_method,
    map_steps,
    weighted_sum,
)
from camcore.cams.masking import Progress

__all__ = ["METHODS", "MapBatch", "MapSteps", "Progress", "check_applicable", "class_probabilities", "compute_maps",
           "exact_method", "get_method", "layer_activations", "map_steps", "stage_layers", "weighted_sum"]
