"""Map methods: importing this package registers each one in METHODS (the CLI, pages and tests read it).

- cam: the Linear head's weights on the features it pools; exact (mean + bias = logit), GAP+Linear heads only.
- gradcam: spatially averaged gradients; any CNN and layer, the usual first choice.
- gradcam++: positive gradients with per-pixel alphas; several objects of one class.
- layercam: each pixel's positive gradient; sharp maps at early layers.
- xgradcam: gradients averaged with the activations as weights (two axioms); close to gradcam at the last block.
- hirescam: gradient times activation per pixel; faithful to the score for any head (CAM / cells on GAP+Linear).
- finercam: Grad-CAM of the class's score minus its 3 nearest-scored look-alikes'; what tells similar classes apart.
- eigencam: the activations' first principal component; no gradients, any head, the same map for every class.
"""
from camcore.cams import cam, gradcam, gradcampp, layercam, scorecam  # noqa: F401, I001  (registration, menu order)  # noqa: F401, I001  (registration, menu order)
from camcore.cams import xgradcam, hirescam, finercam, eigencam  # noqa: F401  # noqa: F401
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
