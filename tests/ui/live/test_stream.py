"""ui.live.stream: the callback maps only the newest of the frames that queued up (the rest are dropped, counted),
keeps each frame's timestamp, shows a frame unmapped for a model without exact CAM, and reads the ICE servers (a
value of another form is one line naming the variable, never quoting it)."""
from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import av
import numpy as np
import pytest

from camcore.errors import SettingError
from camcore.models.loading import LoadedModel
from camcore.serving.live import LiveSettings, explain_frame
from tests.conftest import make_photo
from ui.live.stream import ICE_SERVERS_ENV, LiveStream, ice_servers, newest_frame


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


@pytest.mark.parametrize("value", [None, "", "  "])
def test_no_ice_servers_unless_the_operator_sets_them(value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv(ICE_SERVERS_ENV, raising=False)
    else:
        monkeypatch.setenv(ICE_SERVERS_ENV, value)
    assert ice_servers() == []


def test_the_operators_ice_servers_are_passed_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    servers = [{"urls": "stun:stun.school.example:3478"},
               {"urls": ["turn:turn.school.example:3478"], "username": "class", "credential": "s3cret"}]
    monkeypatch.setenv(ICE_SERVERS_ENV, json.dumps(servers))
    assert ice_servers() == servers


@pytest.mark.parametrize(("value", "wrong"), [
    ("stun:host:3478", "is not JSON (Expecting value at character 0)"),
    ('[{"urls": "stun:host:3478"', "is not JSON (Expecting ',' delimiter at character 26)"),
    ('{"urls": "stun:host:3478"}', "is not valid"),
    ('["stun:host:3478"]', "is not valid"),
    ('[{"url": "stun:host:3478", "credential": "s3cret"}]', "is not valid"),
])
def test_ice_servers_of_another_form_are_one_line_naming_the_variable(value: str, wrong: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ICE_SERVERS_ENV, value)
    with pytest.raises(SettingError) as raised:
        ice_servers()
    assert str(raised.value) == (f"$CAM_EXPLORER_ICE_SERVERS {wrong}: it must be a JSON list of {{\"urls\": ...}} "
                                 'objects, e.g. [{"urls": "stun:host:3478"}].')
    assert "s3cret" not in str(raised.value)
