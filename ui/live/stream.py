"""The camera's stream through streamlit-webrtc, each frame explained by camcore.serving.live on the shared model.

A WebRTC peer inside the server receives the browser's video; frames never touch disk. No STUN or TURN server by
default (`{"iceServers": []}`: host candidates suffice on one machine or one class network, and nothing is contacted
outside it); an operator sets $CAM_EXPLORER_ICE_SERVERS (JSON, e.g. [{"urls": "stun:host:3478"}]) when the network
needs one, and a value of another shape is one line on the page, whose snapshot path still works. The callback runs
in the stream's own thread; it reads the page's latest controls from a LiveStream that the script thread replaces on
every rerun, and it maps only the newest of the frames that queued up while it worked, so a stream that falls behind
shows the newest frame, late by at most one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import av

from camcore.errors import CamcoreError
from camcore.models.loading import LoadedModel
from camcore.serving.live import LatestFrame, LiveSettings, as_shown, explain_frame
from camcore.settings import ice_servers

if TYPE_CHECKING:
    from streamlit_webrtc import WebRtcStreamerContext

logger = logging.getLogger(__name__)


@dataclass
class LiveStream:
    """One session's stream, kept in its session state: the model and controls its callback reads (reassigned by
    the page on every rerun; the stream thread reads each once per frame), and its newest frame."""

    model: LoadedModel
    settings: LiveSettings
    latest: LatestFrame = field(default_factory=LatestFrame)


def newest_frame(stream: LiveStream, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
    """The callback's work on the frames that queued up since its last call: the newest one mapped (or shown as
    is, for a model without exact CAM), the others dropped. A failure shows the frame unmapped and is logged."""
    frame = frames[-1]
    settings, model = stream.settings, stream.model
    shown = as_shown(frame.to_ndarray(format="rgb24"), settings)
    result = None
    if model.cam is not None:
        try:
            result = explain_frame(model, shown, settings)
        except (CamcoreError, ValueError):
            logger.exception("A live frame could not be explained")
    stream.latest.record(shown, result, skipped=len(frames) - 1)
    out = av.VideoFrame.from_ndarray(shown if result is None else result.image, format="rgb24")
    out.pts, out.time_base = frame.pts, frame.time_base
    return [out]


def camera_stream(key: str, stream: LiveStream) -> WebRtcStreamerContext:
    """The browser's camera in, the overlaid video back (SENDRECV), no ICE servers unless the operator set some.

    streamlit_webrtc is imported here, in a script run: it registers its frontend only where a ScriptRunContext
    exists, so imported first by the warm-up thread it would serve a 404 (app.py's warm-up loads av and aiortc,
    its heavy part)."""
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    async def callback(frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        return newest_frame(stream, frames)

    return webrtc_streamer(key=key, mode=WebRtcMode.SENDRECV, rtc_configuration={"iceServers": ice_servers()},
                           queued_video_frames_callback=callback, async_processing=True,
                           media_stream_constraints={"video": True, "audio": False})
