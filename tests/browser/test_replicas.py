"""The scaled-out deployment (deploy/serve.sh): two Streamlit replicas behind Debian's nginx. Four browser sessions
through the proxy, two on each replica: uploads, explanations and downloads work, every request of a session
reaches its one replica, no session sees another's photo, and a training run started through one replica is on
the other's Training page."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from camcore.data.pets import DATA_ENV
from camcore.data.thumbnails import CACHE_ENV
from camcore.jobs.runs import RUNS_ENV, list_runs
from tests.browser.test_explain import PNG_SIGNATURE, SHOWN, TITLE, free_port
from tests.camcore.train.helpers import wait_for
from tests.conftest import make_photo
from ui.common.inputs import MODEL_ENV, WEIGHTS_ENV

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SESSIONS, PER_REPLICA = 4, 2
START_TIMEOUT_S = 90


@contextlib.contextmanager
def replicas(tmp_path: Path, **env_vars: str) -> Iterator[tuple[str, list[str]]]:
    """deploy/serve.sh on free ports: (the proxy's URL, the replicas' host:port)."""
    if not shutil.which("nginx"):
        if os.environ.get("CI"):
            pytest.fail("nginx is missing: .ci/run installs Debian's nginx")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    ports = [free_port() for _ in range(3)]
    upstreams = [f"127.0.0.1:{port}" for port in ports[1:]]
    env = {key: value for key, value in os.environ.items() if key not in (MODEL_ENV, WEIGHTS_ENV)}
    env.update({"CAM_EXPLORER_PORT": str(ports[0]), "CAM_EXPLORER_REPLICA_PORTS": " ".join(map(str, ports[1:])),
                "CAM_EXPLORER_SERVE_DIR": str(tmp_path / "serve"), "TORCH_HOME": str(tmp_path / "torch"), **env_vars})
    server = subprocess.Popen(["bash", "deploy/serve.sh"], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for url in (f"http://{upstream}" for upstream in [f"127.0.0.1:{ports[0]}", *upstreams]):
            wait_for(lambda url=url: healthy(url, server), timeout_s=START_TIMEOUT_S)
        yield f"http://127.0.0.1:{ports[0]}", upstreams
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def healthy(url: str, server: subprocess.Popen) -> bool:
    assert server.poll() is None, "deploy/serve.sh ended early"
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read() == b"ok"
    except OSError:
        return False


def sessions_on_each(browser, url: str, upstreams: list[str]) -> list[tuple[object, object, list[str]]]:
    """New browser contexts, kept until each replica holds PER_REPLICA of them (the proxy picks at random):
    (context, page, the replica of every response the page gets)."""
    kept: list[tuple[object, object, list[str]]] = []
    for _ in range(30):
        context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1400})
        page, answered = context.new_page(), []
        page.on("response", lambda response, answered=answered: answered.append(response.headers.get("x-replica")))
        replica = page.goto(f"{url}/Explain").headers.get("x-replica")
        if sum(session[2][0] == replica for session in kept) < PER_REPLICA:
            kept.append((context, page, answered))
        else:
            context.close()
        if len(kept) == SESSIONS:
            return kept
    pytest.fail(f"the proxy sent 30 new sessions to fewer than both of {upstreams}")


def test_four_sessions_through_the_proxy_on_two_replicas(browser, tmp_path: Path, tiny_pets: Path) -> None:
    env = {DATA_ENV: str(tiny_pets), RUNS_ENV: str(tmp_path / "runs"), CACHE_ENV: str(tmp_path / "cache")}
    photos = [tmp_path / f"student_{index}.png" for index in range(SESSIONS)]
    for index, path in enumerate(photos):
        make_photo(200 + 40 * index, 160, seed=index).save(path)
    with replicas(tmp_path, **env) as (url, upstreams):
        sessions = sessions_on_each(browser, url, upstreams)
        try:
            for (_, page, _), photo in zip(sessions, photos):
                page.locator("[data-testid=stFileUploader]", has_text="Upload photos").locator(
                    "input[type=file]").set_input_files(photo)
            downloads = []
            for _, page, _ in sessions:
                page.wait_for_function(f"() => {TITLE}.startsWith('CAM')", timeout=120_000)
                page.get_by_text("Prepare the files").first.click()
                with page.expect_download(timeout=60_000) as info:
                    page.get_by_role("button", name=re.compile("^Overlay PNG")).first.click()
                downloads.append(Path(info.value.path()).read_bytes()[:8])
            shown = [page.evaluate(SHOWN) for _, page, _ in sessions]

            starter, starter_page, _ = sessions[0]
            starter_page.goto(f"{url}/Training")
            starter_page.get_by_text("Quick demo: 1 epoch, 224 px, lr 1e-3").click()
            starter_page.get_by_role("button", name="Start training").click()
            wait_for(lambda: bool(list_runs(tmp_path / "runs")), timeout_s=60)
            [run] = list_runs(tmp_path / "runs")
            other_page = next(page for _, page, answered in sessions if answered[0] != sessions[0][2][0])
            other_page.goto(f"{url}/Training")
            other_page.get_by_text(f"{run.name}:").first.wait_for(timeout=60_000)
            replicas_seen = [set(answered) for _, _, answered in sessions]
        finally:
            for context, _, _ in sessions:
                context.close()
            with contextlib.suppress(NameError):
                run.request_stop()
                wait_for(lambda: not run.live_status().active, timeout_s=120)
    assert downloads == [PNG_SIGNATURE] * SESSIONS
    assert shown == [[photo.name] for photo in photos]
    assert all(len(seen) == 1 for seen in replicas_seen), replicas_seen  # uploads and media on the session's own
    assert sorted(next(iter(seen)) for seen in replicas_seen) == sorted(upstreams * PER_REPLICA)
