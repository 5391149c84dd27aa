"""The errors camcore raises for things a user can fix: one line saying what was wrong and what to do."""


class CamcoreError(Exception):
    """Base of every error whose message is meant for the user, not a traceback."""


class ImageError(CamcoreError, ValueError):
    """A file that cannot be used as a photo (not an image, truncated, empty, too large)."""


class CheckpointError(CamcoreError, ValueError):
    """A weights or checkpoint file that is unsafe, malformed or for another architecture."""


class WeightsUnavailable(CamcoreError, RuntimeError):
    """Pretrained weights are neither cached nor downloadable (typically: no internet)."""


class DataNotFound(CamcoreError, FileNotFoundError):
    """A data set is not where it was looked for."""


class UnsupportedMethod(CamcoreError, ValueError):
    """The chosen CAM method or layer does not apply to this model."""


class ModelUnsupported(CamcoreError, ValueError):
    """A model that loads but cannot be used here: its forward fails on a probe image, or it has no spatial layer."""


class RunExists(CamcoreError, FileExistsError):
    """A training run is about to be created in a folder that already holds one."""


class RunBusy(CamcoreError, RuntimeError):
    """A run or device is in use by a live job (deleting a running run, a second run on one GPU)."""


class PathRefused(CamcoreError, PermissionError):
    """A path typed in the app that lies outside the folders the server may open (the same for missing paths)."""


class SettingError(CamcoreError, ValueError):
    """A CAM_EXPLORER_* variable the operator set to a value it cannot hold."""
