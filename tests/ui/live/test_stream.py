"""ui.live.stream: the callback maps only the newest of the frames that queued up (the rest are dropped, counted),
keeps each frame's timestamp, and shows a frame unmapped for a model without exact CAM (the ICE servers it passes
on: tests/camcore/test_settings.py)."""
from __future__ import annotations

import dataclasses
from fractions import Fraction

import av
import numpy as np

from camcore.models.loading import LoadedModel
from camcore.serving.live import LiveSettings, explain_frame
from tests.conftest import make_photo
from ui.live.stream import LiveStream, newest_frame


def video_frames(count: int) -> list[av.VideoFrame]:
    frames = []
    for index in range(count):
        frame = av.VideoFrame.from_ndarray(np.asarray(make_photo(160, 120, index)), format="rgb24")
        frame.pts, frame.time_base = 3000 * index, Fraction(1, 90000)
        frames.append(frame)
    return frames


def test_only_the_newest_queued_frame_is_mapped(resnet18: LoadedModel) -> None:
    settings = LiveSettings(mirror=False)
    stream = LiveStream(resnet18, settings)
    (out,) = newest_frame(stream, video_frames(3))
    newest = np.asarray(make_photo(160, 120, 2))
    expected = explain_frame(resnet18, newest, settings).image
    assert np.array_equal(out.to_ndarray(format="rgb24"), expected)
    assert (out.pts, out.time_base) == (6000, Fraction(1, 90000))
    assert (stream.latest.explained, stream.latest.skipped) == (1, 2)
    assert np.array_equal(stream.latest.frame(), newest)


def test_a_model_without_exact_cam_streams_its_frames_unmapped(resnet18: LoadedModel) -> None:
    stream = LiveStream(dataclasses.replace(resnet18, cam=None), LiveSettings(mirror=True))
    (out,) = newest_frame(stream, video_frames(1))
    assert np.array_equal(out.to_ndarray(format="rgb24"), np.asarray(make_photo(160, 120, 0))[:, ::-1])
    assert stream.latest.explained == 0 and stream.latest.result() is None
