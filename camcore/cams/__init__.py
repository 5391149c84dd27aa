"""Map methods: importing this package registers each one in METHODS (the CLI, pages and tests read it)."""
from camcore.cams import cam, gradcam, gradcampp, layercam  # noqa: F401  (registration)
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

__all__ = ["METHODS", "MapBatch", "MapSteps", "check_applicable", "class_probabilities", "compute_maps",
           "exact_method", "get_method", "layer_activations", "map_steps", "stage_layers", "weighted_sum"]
