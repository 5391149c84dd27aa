"""The scaled-out deployment (deploy/serve.sh): two Streamlit replicas behind Debian's nginx. Four browser sessions
through the proxy, two on each replica: uploads, explanations and downloads work, every request of a session
reaches its one replica, no session sees another's photo, and a training run started through one replica is on
the other's Training page. The proxy tells a visitor nothing of its insides (no replica addresses unless a test
asks, no nginx version, no metrics), its workers never run as root, and serve.sh without its Python says what to
set."""
from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from camcore.jobs.runs import list_runs
from camcore.settings import CACHE_ENV, DATA_ENV, MODEL_ENV, RUNS_ENV, WEIGHTS_ENV
from tests.browser.deadlines import PAGE_MS, SERVER_START_S
from tests.browser.test_explain import PNG_SIGNATURE, SHOWN, TITLE, free_port
from tests.camcore.train.helpers import wait_for
from tests.conftest import make_photo
from ui.training.rights import NOT_YOURS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SESSIONS, PER_REPLICA = 4, 2
PROXY_DEBUG_ENV = "CAM_EXPLORER_PROXY_DEBUG"
SERVE_USER = os.environ.get("CAM_EXPLORER_SERVE_USER", "nobody")  # whom serve.sh, run as root, gives nginx


@contextlib.contextmanager
def replicas(tmp_path: Path, *, count: int = 2, **env_vars: str) -> Iterator[tuple[str, list[str]]]:
    """deploy/serve.sh with `count` replicas on free ports: (the proxy's URL, the replicas' host:port)."""
    if not shutil.which("nginx"):
        if os.environ.get("CI"):
            pytest.fail("nginx is missing: .ci/run installs Debian's nginx")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    ports = [free_port() for _ in range(count + 1)]
    upstreams = [f"127.0.0.1:{port}" for port in ports[1:]]
    env = {key: value for key, value in os.environ.items() if key not in (MODEL_ENV, WEIGHTS_ENV)}
    env.update({"CAM_EXPLORER_PORT": str(ports[0]), "CAM_EXPLORER_REPLICA_PORTS": " ".join(map(str, ports[1:])),
                "CAM_EXPLORER_SERVE_DIR": str(tmp_path / "serve"), "TORCH_HOME": str(tmp_path / "torch"), **env_vars})
    server = subprocess.Popen(["bash", "deploy/serve.sh"], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for url in (f"http://{upstream}" for upstream in [f"127.0.0.1:{ports[0]}", *upstreams]):
            wait_for(lambda url=url: healthy(url, server), timeout_s=SERVER_START_S)
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


def fetch(url: str, data: bytes | None = None) -> tuple[int, Message, bytes]:
    """(status, headers, body) of one request, whatever its status."""
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def child_uids(pid: int) -> list[int]:
    """The effective user id of every child of process `pid` (nginx's master: its workers)."""
    listed = subprocess.run(["ps", "-o", "uid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(uid) for uid in listed.stdout.split()]


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
    env = {DATA_ENV: str(tiny_pets), RUNS_ENV: str(tmp_path / "runs"), CACHE_ENV: str(tmp_path / "cache"),
           PROXY_DEBUG_ENV: "1"}
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
                page.wait_for_function(f"() => {TITLE}.startsWith('CAM')", timeout=PAGE_MS)
                page.get_by_text("Prepare the files").first.click()
                with page.expect_download(timeout=PAGE_MS) as info:
                    page.get_by_role("button", name=re.compile("^Overlay PNG")).first.click()
                downloads.append(Path(info.value.path()).read_bytes()[:8])
            shown = [page.evaluate(SHOWN) for _, page, _ in sessions]

            starter, starter_page, _ = sessions[0]
            starter_page.goto(f"{url}/Training")
            starter_page.get_by_text("Quick demo: 1 epoch, 224 px, lr 1e-3").click()
            starter_page.get_by_role("button", name="Start training").click()
            wait_for(lambda: bool(list_runs(tmp_path / "runs")), timeout_s=60)
            [run] = list_runs(tmp_path / "runs")
            other, other_page, _ = next(session for session in sessions if session[2][0] != sessions[0][2][0])
            other_page.goto(f"{url}/Training")
            other_page.get_by_text(f"{run.name}:").first.wait_for(timeout=PAGE_MS)
            others_view = owns(other_page)
            replicas_seen = [set(answered) for _, _, answered in sessions]
            starter.add_cookies([{"name": cookie["name"], "value": cookie["value"], "url": url}  # its replica now
                                 for cookie in other.cookies() if cookie["name"] == "cam_replica"])
            moved = starter_page.goto(f"{url}/Training").headers.get("x-replica")
            starter_page.get_by_text(f"{run.name}:").first.wait_for(timeout=PAGE_MS)
            starters_view = owns(starter_page)
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
    assert moved is not None and moved not in replicas_seen[0]  # the starter's browser, now on the other replica
    assert (others_view, starters_view) == (False, True)  # the run stays its starter's on the other replica


def owns(page) -> bool:
    """Whether the Training page shows this browser as the run's owner: no "Started from another browser" line
    (a run just started may not have finished), once the page has drawn its run."""
    page.get_by_text("Delete a run").or_(page.get_by_text(NOT_YOURS)).first.wait_for(timeout=PAGE_MS)
    return page.get_by_text(NOT_YOURS).count() == 0


def test_the_proxy_shows_a_visitor_nothing_of_its_insides_and_its_workers_are_not_root(tmp_path: Path) -> None:
    env = {RUNS_ENV: str(tmp_path / "runs"), CACHE_ENV: str(tmp_path / "cache")}
    with replicas(tmp_path, count=1, **env) as (url, _):
        health, metrics = fetch(f"{url}/_stcore/health"), fetch(f"{url}/_stcore/metrics")
        upload = fetch(f"{url}/_stcore/health", data=os.urandom(1 << 20))  # nginx keeps it in its temp folder
        workers = child_uids(int((tmp_path / "serve" / "nginx.pid").read_text()))
    assert health[0] == 200 and health[2] == b"ok"
    assert "X-Replica" not in health[1] and health[1]["Server"] == "nginx"
    assert metrics[0] == 404 and b"nginx/" not in metrics[2] and metrics[1]["Server"] == "nginx"
    assert upload[0] == 405  # the replica's answer to a POST: the worker could write the body to disk
    assert workers == [pwd.getpwnam(SERVE_USER).pw_uid if os.geteuid() == 0 else os.geteuid()]


def test_serve_sh_without_its_python_says_what_to_set(tmp_path: Path) -> None:
    missing = tmp_path / "no-venv" / "python"
    env = {**os.environ, "PYTHON": str(missing), "CAM_EXPLORER_PORT": str(free_port()),
           "CAM_EXPLORER_REPLICA_PORTS": str(free_port()), "CAM_EXPLORER_SERVE_DIR": str(tmp_path / "serve")}
    done = subprocess.run(["bash", "deploy/serve.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and not done.stdout
    assert done.stderr.splitlines() == [f"serve.sh: no Python at {missing}: create .venv with the README's command, "
                                        "or set PYTHON=/path/to/python."]
