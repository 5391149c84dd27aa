"""bench/load_server.py end to end on a short run: its clients drive the real server over Streamlit's websocket
protocol, each sees only its own photo, and the server's clock records every rerun after the photo is shown."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench import load_server


def test_two_protocol_clients_explain_their_own_photos(capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAM_EXPLORER_DATA", raising=False)  # the shipped samples: distinct, and no data set needed
    arguments = ["--sessions", "2", "--seconds", "25", "--think-s", "0.2", "--client-nice", "0"]
    with ThreadPoolExecutor(1) as thread:  # its own asyncio loop: the browser tests' Playwright runs one here
        thread.submit(load_server.main, arguments).result()
    report = capsys.readouterr().out
    assert "shipped samples" in report
    assert "sessions that got another's photo: 0; errors: 0" in report
    opened = re.search(r"\| open the page, pick the photo \(first explanation\) \| (\d+) \|", report)
    later = re.search(r"\| all but open \| (\d+) \|", report)
    clocked = re.search(r"\| server clock: every later rerun \| (\d+) \|", report)
    assert opened and int(opened.group(1)) == 2
    assert later and clocked and int(clocked.group(1)) == int(later.group(1)) > 0
