"""The server's side of a class, without browsers: N clients speak Streamlit's websocket protocol to one server,
each opening the Explain page on its own photo, then switching method and class as answers come, after a think
time drawn between 0.5 and 1.5 times --think-s, for a bounded time.

    .venv/bin/python -m bench.load_server [--sessions 16] [--seconds 60] [--think-s 0.5]

bench/load_test.py drives real browsers; on this 2-core machine 16 Chromium tabs need several core-seconds per
interaction, so they cannot offer the server the load a class on its own laptops would. Each client here sends
what the browser sends (BackMsg rerun_script with the changed widgets' states, as the frontend reports them) and
reads every ForwardMsg until script_finished, so the server does all its work: scripts, caches, model passes, the
figures' JSON and the protobuf messages. Reported per kind of interaction: count, rate, and the time from request
to script_finished at the client (loopback; the clients run at nice 19) and the server's own clock
(bench.timed_server; a session's first two reruns, the page and the photo, apart). Also the server's RSS, CPU
use, and whether every client only ever got its own photo.
Photos: the Oxford-IIIT Pet folder's when the app finds one (CAM_EXPLORER_DATA), else the shipped samples in turn.
STREAMLIT_RUNNER_POST_SCRIPT_GC=true shows the server as it was before .streamlit/config.toml turned that off.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from bench.load_test import METHODS, quantiles, server_cpu_s, server_rss_mb
from bench.timed_server import read_log
from camcore import settings
from camcore.data import pets
from camcore.data.samples import sample_photos
from camcore.errors import DataNotFound
from tests.browser.test_explain import streamlit_server
from ui.common.text import read_back

KINDS = {"open": "open the page, pick the photo (first explanation)", "new": "method, first use (a model pass)",
         "cached": "method used before (cached)", "class": "downloads class (cached)"}
PAGE_HEADINGS = {"Explain a photo", "Model", "Explanation"}
"""The page's own headings; any other heading is a photo's name."""


class Client:
    """One browser tab, as the server sees it: the widgets it changed, sent with every rerun request."""

    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.states: dict[str, WidgetState] = {}  # user key -> the state sent with each request
        self.widgets: dict[str, tuple[str, str, list[str]]] = {}  # user key -> (kind, widget id, option labels)

    async def rerun(self) -> list[str]:
        """Sends a rerun request and reads the answer up to script_finished; returns the run's headings."""
        request = BackMsg()
        request.rerun_script.page_name = "Explain"
        request.rerun_script.widget_states.widgets.extend(self.states.values())
        await self.socket.send(request.SerializeToString())
        headings = []
        while True:
            message = ForwardMsg.FromString(await self.socket.recv())
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                headings += self._read(message.delta.new_element)
            elif kind == "script_finished":
                return headings

    def _read(self, element: Element) -> list[str]:
        """Notes a selectbox's or multiselect's id and options under its user key (ids end "-KEY")."""
        kind = element.WhichOneof("type")
        if kind in ("selectbox", "multiselect"):
            widget = getattr(element, kind)
            self.widgets[widget.id.rsplit("-", 1)[-1]] = (kind, widget.id, list(widget.options))
        return [read_back(element.heading.body)] if kind == "heading" else []

    def choose(self, key: str, option: str | int) -> None:
        """Sets the widget with user key `key` to an option (a rank picks the rank-th), as the frontend would."""
        kind, widget_id, options = self.widgets[key]
        state = WidgetState(id=widget_id)
        chosen = options[option] if isinstance(option, int) else option
        if kind == "multiselect":
            state.string_array_value.data[:] = [chosen]
        else:
            state.string_value = chosen
        self.states[key] = state


async def session(url: str, photo: tuple[str, str], deadline: float, think_s: float, record: dict) -> None:
    """One student on photo (multiselect key, file name): open, pick, then method and class switches in turn."""
    key, name = photo
    try:
        async with websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                                      max_size=None) as socket:
            client = Client(socket)
            start = time.monotonic()
            await client.rerun()
            client.choose(key, name)
            headings = await client.rerun()
            record["open"].append(time.monotonic() - start)
            used, step = {"CAM"}, 0
            pause = random.Random(name)  # seeded: the same pauses run after run
            while time.monotonic() < deadline:
                await asyncio.sleep(think_s * pause.uniform(0.5, 1.5))  # students do not click in step
                if step % 2 == 0:
                    method = METHODS[step // 2 % len(METHODS)]
                    kind = "cached" if method in used else "new"
                    used.add(method)
                    client.choose("explain.method", method)
                else:
                    kind = "class"
                    client.choose("explain.class.0", (step // 2 + 1) % 3)  # 1, 2, 0...: never the class shown
                start = time.monotonic()
                headings = await client.rerun()
                record[kind].append(time.monotonic() - start)
                if set(headings) - PAGE_HEADINGS != {name}:
                    record["foreign"].append(headings)
                step += 1
    except Exception as exc:  # noqa: BLE001 - a failed session is reported, the others go on
        record["errors"].append(f"{name}: {type(exc).__name__}: {exc}")


def photos(count: int) -> tuple[list[tuple[str, str]], str]:
    """(multiselect key, file name) per session, and where they come from: distinct Oxford pets when the app
    finds the data set, else the shipped samples in turn (sessions then share explanations)."""
    try:
        pet_photos = pets.pet_images(settings.data_root())
    except DataNotFound:
        samples = [path.name for path in sample_photos()]
        return [("explain.shipped", samples[i % len(samples)]) for i in range(count)], "shipped samples, shared"
    step = max(1, len(pet_photos) // count)
    return [("explain.samples", path.name) for path in pet_photos[::step][:count]], "distinct Oxford-IIIT Pet photos"


async def run(sessions: int, seconds: float, think_s: float, client_nice: int) -> None:
    chosen, source = photos(sessions)
    records = [{kind: [] for kind in [*KINDS, "foreign", "errors"]} for _ in chosen]
    with tempfile.TemporaryDirectory() as folder:
        server_log = Path(folder) / "server_times.txt"
        with streamlit_server(Path(folder), ("-m", "bench.timed_server", str(server_log)),
                              **{settings.DATA_ENV: str(settings.data_root().resolve())}) as url:
            os.nice(client_nice)  # the clients only; the server started at the usual priority
            port = int(url.rsplit(":", 1)[1])
            start_mb, start_cpu_s, start = server_rss_mb(port), server_cpu_s(port), time.monotonic()
            await asyncio.gather(*(session(url, photo, start + seconds, think_s, record)
                                   for photo, record in zip(chosen, records)))
            elapsed_s = time.monotonic() - start
            end_mb, cpu_s = server_rss_mb(port), server_cpu_s(port) - start_cpu_s
        server_log_s = read_log(server_log).values()
    opened_s = [s for times in server_log_s for s in times[:2]]
    server_s = [s for times in server_log_s for s in times[2:]]
    print(f"{sessions} protocol clients ({source}), {seconds:g} s, think time {think_s:g} s, Lite0 CPU; server RSS "
          f"{start_mb:.0f} MB before the first page, {end_mb:.0f} MB at the end; server CPU {cpu_s:.0f} s in "
          f"{elapsed_s:.0f} s ({cpu_s / elapsed_s:.2f} cores); sessions that got another's photo: "
          f"{sum(bool(r['foreign']) for r in records)}; errors: {sum(len(r['errors']) for r in records)}\n")
    print("| interaction | count | per s | median s | p95 s |\n|---|---:|---:|---:|---:|")
    for kinds, what in [((kind,), label) for kind, label in KINDS.items()] + [(tuple(KINDS)[1:], "all but open")]:
        times = [t for r in records for kind in kinds for t in r[kind]]
        if times:
            print(f"| {what} | {len(times)} | {len(times) / elapsed_s:.2f} | {quantiles(times)} |")
    print(f"| server clock: page load and photo pick | {len(opened_s)} | | {quantiles(opened_s)} |")
    print(f"| server clock: every later rerun | {len(server_s)} | | {quantiles(server_s)} |")
    for record in records:
        for problem in record["errors"] + record["foreign"][:1]:
            print(f"- {problem}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think-s", type=float, default=0.5, help="pause between a session's interactions")
    parser.add_argument("--client-nice", type=int, default=19, help="niceness this process takes once the server runs")
    args = parser.parse_args(argv)
    asyncio.run(run(args.sessions, args.seconds, args.think_s, args.client_nice))


if __name__ == "__main__":
    main()
