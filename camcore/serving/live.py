"""One camera frame in, the same frame with its CAM and box drawn over it out: what the Live page runs for every
student's stream, on the one shared model.

CAM comes from the forward pass that makes the prediction (camcore.explain with method "cam"), so a frame costs
about one forward; the Grad-CAM family runs on a paused frame instead, on the Explain page's path. Each stream
keeps only its newest frame (LatestFrame): a stream that falls behind skips frames and never queues them.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from camcore.errors import UnsupportedMethod
from camcore.explain import Prediction, explain
from camcore.maps import heatmap
from camcore.maps.exports import boxed_frame
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions


@dataclass(frozen=True)
class LiveSettings:
    """What the Live page's controls chose. class_index None: each frame's top-1 class. threshold_frac: the CAM
    paper's, a fraction of the map's maximum, whose largest region is boxed."""

    class_index: int | None = None
    opacity: float = 0.5
    colormap: str = "magma"
    threshold_frac: float = heatmap.DEFAULT_THRESHOLD
    mirror: bool = True

    @property
    def options(self) -> MapOptions:
        """The map each frame gets: CAM of the chosen class, or of the frame's top-1."""
        return MapOptions(top_k=1, classes=None if self.class_index is None else (self.class_index,))


@dataclass(frozen=True)
class LiveFrame:
    """A frame's result: the overlaid (H, W, 3) uint8 RGB frame, the class it maps, and where the time went."""

    image: np.ndarray
    prediction: Prediction
    explain_s: float  # preprocessing, forward and CAM
    overlay_s: float  # upsampling, colouring, blending and the box


def check_live(model: LoadedModel) -> None:
    """UnsupportedMethod now, in the user's words, for a model whose CAM is not exact: its maps need gradients,
    which the Live page runs on a paused frame only."""
    if model.cam is None:
        raise UnsupportedMethod(f"{model.spec}: {model.cam_refusal}, so the video cannot show a map on every "
                                "frame. Press Pause and explain to map a frame with Grad-CAM.")


def as_shown(frame: np.ndarray, settings: LiveSettings) -> np.ndarray:
    """The camera's (H, W, 3) frame as the page shows it: mirrored when asked, as a selfie camera shows a face."""
    return np.ascontiguousarray(frame[:, ::-1]) if settings.mirror else frame


def explain_frame(model: LoadedModel, frame: np.ndarray, settings: LiveSettings) -> LiveFrame:
    """(H, W, 3) uint8 RGB frame, as shown -> the frame with the class's CAM and box over it."""
    check_live(model)
    start = time.perf_counter()
    photo = Image.fromarray(frame)
    (result,) = explain([photo], model, settings.options)
    explained = time.perf_counter()
    normalised = heatmap.normalise(heatmap.upsample(result.maps[0], frame.shape[:2]))
    box = heatmap.threshold_box(normalised, settings.threshold_frac)
    drawn = boxed_frame(frame, normalised, box, colormap=settings.colormap, opacity=settings.opacity,
                        threshold_frac=settings.threshold_frac)
    return LiveFrame(drawn, result.predictions[0], explained - start, time.perf_counter() - explained)


class LatestFrame:
    """One stream's newest frame and result, shared between the thread that explains its frames and the page
    that shows them (Pause and explain, the frame counter); older frames are simply replaced."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: np.ndarray | None = None
        self._result: LiveFrame | None = None
        self.explained = 0
        self.skipped = 0

    def record(self, frame: np.ndarray, result: LiveFrame | None, *, skipped: int) -> None:
        """Keeps `frame` (as shown, before any overlay) and its result (None: not mapped); `skipped`: the older
        frames that arrived meanwhile and were dropped."""
        with self._lock:
            self._frame, self._result = frame, result
            self.explained += result is not None
            self.skipped += skipped

    def frame(self) -> np.ndarray | None:
        """The newest camera frame, for Pause and explain."""
        with self._lock:
            return self._frame

    def result(self) -> LiveFrame | None:
        with self._lock:
            return self._result
