"""The Live page in Chromium with its synthetic camera, on 127.0.0.1 with no ICE servers: START, and the video
the server sends back plays while the page counts the frames the model mapped (each a CAM over the frame); once the
tab closes, the server stops working on the stream."""
from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.deadlines import PAGE_MS
from tests.browser.test_explain import page_without_data
from tests.conftest import launch_chromium

pytestmark = pytest.mark.browser

FAKE_CAMERA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
MAPPED = re.compile(r"Frames mapped: (\d+)")
FRAMES_SHOWN = "vs => vs.map(v => [v.videoWidth, v.getVideoPlaybackQuality().totalVideoFrames])"
"""Each video element's width and the frames it has shown: the server's stream, played back in the page."""


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with page_without_data(tmp_path_factory, "Live") as url:
        yield url


@pytest.fixture(scope="module")
def camera_browser(playwright_driver) -> Iterator:
    """Chromium with its synthetic camera, allowed without asking."""
    launched = launch_chromium(playwright_driver, *FAKE_CAMERA)
    yield launched
    launched.close()


def test_the_synthetic_camera_comes_back_mapped(camera_browser, live_url: str) -> None:
    page = camera_browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(live_url)
        frame = page.frame_locator("iframe[title*=webrtc]")
        frame.get_by_role("button", name="START").click(timeout=PAGE_MS)
        counted = 0
        for _ in range(60):  # the status refreshes once a second; 60 s at most
            page.wait_for_timeout(1000)
            found = MAPPED.search(page.inner_text("[data-testid=stMain]"))
            counted = int(found[1]) if found else 0
            if counted >= 5:
                break
        assert counted >= 5, "the server mapped fewer than 5 frames in 60 s"
        shown = frame.locator("video").evaluate_all(FRAMES_SHOWN)
        assert shown and shown[0][0] > 0 and shown[0][1] > 0, shown
        assert "Class on the newest frame" in page.inner_text("[data-testid=stMain]")
        server = server_pid(live_url)
        streaming_s = cpu_seconds(server, over_s=3.0)
    finally:
        page.close()
    page_closed = time.monotonic()
    while time.monotonic() - page_closed < 30 and cpu_seconds(server, over_s=3.0) > streaming_s / 4:
        pass  # the stream winds down once the session's tab is gone
    assert cpu_seconds(server, over_s=3.0) < streaming_s / 4, "the server kept working after the tab closed"


def server_pid(url: str) -> int:
    """The Streamlit server's process, found by the port in its command line (127.0.0.1:PORT/...)."""
    port = url.split(":")[2].split("/")[0]
    return int(subprocess.check_output(["pgrep", "-f", "--", f"--server.port {port}"]).split()[0])


def cpu_seconds(pid: int, *, over_s: float) -> float:
    """CPU seconds (user + system, all threads) the process used in the next over_s seconds."""
    def used() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    before = used()
    time.sleep(over_s)
    return used() - before
