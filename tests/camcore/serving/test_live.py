"""camcore.serving.live: a frame in, the overlaid frame out, checked pixel by pixel against the Explain engine's map
of the same image blended by hand; mirroring, a fixed class, the refusal without exact CAM, and LatestFrame."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps

from camcore.errors import UnsupportedMethod
from camcore.explain import explain
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from camcore.serving.live import LatestFrame, LiveSettings, as_shown, check_live, explain_frame
from tests.conftest import make_photo


def frame(seed: int = 0) -> np.ndarray:
    return np.asarray(make_photo(160, 120, seed))


def test_a_frame_gets_the_explain_engines_cam_blended_over_it(resnet18: LoadedModel) -> None:
    settings = LiveSettings(opacity=0.6, colormap="viridis", threshold_frac=0.3, mirror=False)
    camera = frame()
    result = explain_frame(resnet18, camera, settings)
    (expected,) = explain([make_photo(160, 120, 0)], resnet18, MapOptions(method="cam", top_k=1))
    assert result.prediction == expected.predictions[0]
    normalised = heatmap.normalise(heatmap.upsample(expected.maps[0], (120, 160)))
    inside = normalised > 0.3
    colours = colormaps["viridis"](normalised, bytes=True)[..., :3].astype(np.float64)
    blended = np.where(inside[..., None], camera * 0.4 + colours * 0.6, camera).round()
    x0, y0, x1, y1 = heatmap.threshold_box(normalised, 0.3)
    away = np.ones_like(inside)  # the box's outline, a few pixels wide, is drawn over the blend
    away[max(y0 - 3, 0):y1 + 3, max(x0 - 3, 0):x1 + 3] = False
    away[y0 + 3:y1 - 3, x0 + 3:x1 - 3] = True
    assert result.image.shape == camera.shape and result.image.dtype == np.uint8
    assert np.abs(result.image[away].astype(int) - blended[away]).max() <= 1
    assert 0 < inside.mean() < 1 and not np.array_equal(result.image, camera)


def test_mirroring_and_a_fixed_class(resnet18: LoadedModel) -> None:
    camera = frame(1)
    assert np.array_equal(as_shown(camera, LiveSettings(mirror=True)), camera[:, ::-1])
    assert as_shown(camera, LiveSettings(mirror=False)) is camera
    result = explain_frame(resnet18, camera, LiveSettings(class_index=207))
    (expected,) = explain([make_photo(160, 120, 1)], resnet18, MapOptions(method="cam"), per_photo_classes=[[207]])
    assert result.prediction == expected.predictions[0] and result.prediction.class_index == 207


def test_a_model_without_exact_cam_is_refused_for_the_video(resnet18: LoadedModel) -> None:
    import dataclasses

    no_cam = dataclasses.replace(resnet18, cam=None, cam_refusal="its head runs Linear → ReLU → Linear")
    with pytest.raises(UnsupportedMethod, match="Pause and explain") as info:
        check_live(no_cam)
    assert "Linear → ReLU → Linear" in str(info.value) and "\n" not in str(info.value)
    check_live(resnet18)


def test_latest_frame_keeps_only_the_newest(resnet18: LoadedModel) -> None:
    latest = LatestFrame()
    assert latest.frame() is None and latest.result() is None
    first, second = frame(0), frame(1)
    latest.record(first, None, skipped=0)
    result = explain_frame(resnet18, second, LiveSettings())
    latest.record(second, result, skipped=3)
    assert latest.frame() is second and latest.result() is result
    assert (latest.explained, latest.skipped) == (1, 3)
