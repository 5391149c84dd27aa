"""The Live page in AppTest: it draws the stream, the camera's one-line help and the snapshot path; a frame the
stream recorded is paused and explained on the Explain page's path; a model without exact CAM says why; ICE servers
of the wrong form are one line, and the snapshot path stays."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import streamlit_webrtc
import torch
from streamlit.testing.v1 import AppTest
from torchvision.models import mobilenet_v3_small

from camcore.models.loading import LoadedModel
from camcore.serving.live import LiveSettings
from camcore.settings import DATA_ENV, ICE_SERVERS_ENV, ICE_SERVERS_FORM, MODEL_ENV, WEIGHTS_ENV
from tests.conftest import make_photo
from ui.common.text import read_back
from ui.live.stream import LiveStream

LIVE = str(Path(__file__).resolve().parents[2] / "app_pages" / "5_Live.py")
TIMEOUT_S = 120


@pytest.fixture(autouse=True)
def preset(resnet18_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """resnet18 with random weights; streamlit-webrtc's component replaced by a recorder of how it was called
    (it needs a real server's session manager, which AppTest mocks: tests/browser/test_live.py runs the real one)."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "no-data"))
    monkeypatch.setenv(MODEL_ENV, "resnet18")
    monkeypatch.setenv(WEIGHTS_ENV, str(resnet18_weights))
    calls: list[dict] = []
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", lambda **kwargs: calls.append(kwargs))
    return calls


def live_page(stream: LiveStream | None = None) -> AppTest:
    at = AppTest.from_file(LIVE, default_timeout=TIMEOUT_S)
    at.session_state["live.device"] = "cpu"
    if stream is not None:
        at.session_state["live.stream"] = stream
    at.run()
    assert not at.exception and not at.error
    return at


def text(at: AppTest) -> str:
    return "\n".join(read_back(element.value) for kind in ("markdown", "caption", "info") for element in at.get(kind))


def test_the_page_offers_the_stream_its_controls_and_the_snapshot_path(preset: list[dict]) -> None:
    at = live_page()
    assert "only on localhost or over HTTPS" in text(at) and "Press START" in text(at)
    assert at.selectbox(key="live.class").value == -1 and at.toggle(key="live.mirror").value
    assert at.get("camera_input") and isinstance(at.session_state["live.stream"], LiveStream)
    (call,) = preset
    assert call["rtc_configuration"] == {"iceServers": []} and call["async_processing"]
    assert call["queued_video_frames_callback"] is not None and call["key"] == "live.camera"
    at.slider(key="live.opacity").set_value(0.8).run()
    at.selectbox(key="live.class").set_value(207).run()
    stream = at.session_state["live.stream"]
    assert stream.settings.opacity == 0.8 and stream.settings.class_index == 207  # what the stream thread reads


def test_a_recorded_frame_is_paused_and_explained_with_any_method(resnet18: LoadedModel) -> None:
    stream = LiveStream(resnet18, LiveSettings())
    stream.latest.record(np.asarray(make_photo(160, 120, 4)), None, skipped=0)
    at = live_page(stream)
    at.selectbox(key="live.method").set_value("gradcam").run()
    at.button(key="live.pause").click().run()
    assert not at.exception and not at.error
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert any(len(figure["layout"].get("sliders", ())) == 4 for figure in figures)
    assert "Grad-CAM at layer layer4" in text(at)
    at.button(key="live.resume").click().run()
    assert not at.get("plotly_chart")


def test_a_model_without_exact_cam_says_why_the_video_has_no_map(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    torch.save(mobilenet_v3_small().state_dict(), tmp_path / "mobilenet.pth")
    monkeypatch.setenv(MODEL_ENV, "mobilenet_v3_small")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "mobilenet.pth"))
    at = live_page()
    assert "No map on the video" in text(at) and "Hardswish" in text(at)


def test_ice_servers_that_are_not_json_are_one_line_and_the_snapshot_path_stays(
        preset: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ICE_SERVERS_ENV, "stun:host:3478")
    at = AppTest.from_file(LIVE, default_timeout=TIMEOUT_S)
    at.session_state["live.device"] = "cpu"
    at.run()
    assert not at.exception and not preset  # the stream is not started with servers the browser cannot read
    assert [read_back(error.value) for error in at.error] == [
        f"${ICE_SERVERS_ENV} is not JSON (Expecting value at character 0): {ICE_SERVERS_FORM}."]
    assert at.get("camera_input") and "only on localhost or over HTTPS" in text(at)


def test_presenter_mode_from_a_link_drops_the_intro_for_large_type() -> None:
    at = AppTest.from_file(LIVE, default_timeout=TIMEOUT_S)
    at.session_state["live.device"] = "cpu"
    at.query_params.update({"presenter": "1", "opacity": "0.7"})
    at.run()
    assert not at.exception and not at.error
    assert at.toggle(key="live.presenter").value and at.slider(key="live.opacity").value == 0.7
    assert "Point the camera" not in text(at) and any("font-size: 1.4rem" in h.proto.body for h in at.get("html"))
