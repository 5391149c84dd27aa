"""Map methods: importing this package registers each one in METHODS (the CLI, pages and tests read it)."""
from camcore.cams import cam, gradcam, gradcampp, layercam  # noqa: F401  (registration)
from camcore.cams.base import METHODS, MapBatch, check_applicable, compute_maps, get_method

__all__ = ["METHODS", "MapBatch", "check_applicable", "compute_maps", "get_method"]
