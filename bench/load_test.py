"""N browser sessions on one Streamlit server (loopback only): each uploads its own photo and explains it again
and again for a bounded time, switching the sidebar's method (each of the registered ones in turn) and the
downloads' class.

    .venv/bin/python -m bench.load_test [--sessions 16] [--seconds 120] [--browser-cpu least|fair]

Reports, per kind of interaction, how many ran, the rate, and two latencies at the median and 95th percentile:
- "round trip": from the browser sending the rerun request (Streamlit's BackMsg rerun_script on the websocket) to
  the browser receiving the server's script_finished for it;
- "seen": from the click to the new figure or download label being rendered in the page.
A method's first use in a session is a new explanation (a model pass); a method used before, or a class switch,
is a rerun served from the caches. Then the server's own time per rerun, clocked inside the server
(bench.timed_server: from a rerun request's arrival to the script's end, queueing behind other sessions
included, the network and the browsers left out), over every rerun of the run, uploads and first explanations
included. Also the server's RSS (streamlit and its children, from /proc) at start and end, the CPU time it used,
and whether every session only ever saw its own photo (the subheader's file name). Chromium from Debian, never
downloaded. In a class the browsers run on the students' laptops: here they run on the server's cores at the
lowest priority (chromium_low_priority), so that the server's own time is what the 2-core machine can do.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from playwright.async_api import async_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.memory_soak import rss_mb
from bench.timed_server import read_log
from camcore.settings import DATA_ENV
from tests.browser.test_explain import TITLE, streamlit_server
from tests.conftest import CHROMIUM, CHROMIUM_FLAGS, make_photo

ROOT = Path(__file__).resolve().parents[1]
WAIT_MS = 180_000
"""A loaded server on 2 cores can take minutes to answer the first page of 16 sessions at once."""


def server_pids(port: int) -> set[str]:
    """The process listening on `port` (its command line names it) and its children."""
    pids = [p.name for p in Path("/proc").iterdir() if p.name.isdigit()]
    def cmdline(pid: str) -> str:
        try:
            return (Path("/proc") / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return ""
    roots = [pid for pid in pids if "app.py" in cmdline(pid) and f" {port} " in cmdline(pid) + " "]
    return {*roots, *(pid for pid in pids for root in roots if _stat(pid)[1:2] == [root])}


def server_rss_mb(port: int) -> float:
    return sum(rss_mb(pid) for pid in server_pids(port) if Path(f"/proc/{pid}").exists())


def server_cpu_s(port: int) -> float:
    """User plus system CPU seconds the server's processes have used so far (all their threads)."""
    ticks = [_stat(pid)[11:13] for pid in server_pids(port)]
    return sum(int(value) for pair in ticks for value in pair) / os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> list[str]:
    """/proc/PID/stat's fields after the command name: state, parent, ... (utime and stime at 11 and 12)."""
    try:
        return (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def photos(count: int, folder: Path) -> list[Path]:
    """The shipped samples, then generated photos, each with its own name."""
    found = sorted((ROOT / "assets" / "samples").glob("*.jpg"))[:count]
    for index in range(count - len(found)):
        path = folder / f"generated_{index:02d}.png"
        make_photo(200 + 20 * index, 160 + 10 * index, seed=index).save(path)
        found.append(path)
    return found


async def choose(page, label: str, option: str) -> None:
    """Picks `option` in the selectbox labelled `label`, as a user would."""
    await page.locator("[data-testid=stSelectbox]", has_text=label).first.click()
    await page.get_by_role("option", name=option, exact=True).click()


METHODS = ["Grad-CAM", "Grad-CAM++", "LayerCAM", "CAM"]
"""The sidebar's method cycles through these: the first use of each is a new explanation (CAM's is the upload's)."""
KINDS = {"new": "method, first use (a model pass)", "cached": "method used before (cached)",
         "class": "downloads class (cached)"}


class RoundTripClock:
    """Round trip per interaction, read off the page's websocket: the earliest rerun request still waiting, to
    the script_finished that answers it (a rerun interrupted by a newer request finishes once for both)."""

    def __init__(self, page) -> None:
        self.waiting_since: float | None = None
        self.durations: list[float] = []
        page.on("websocket", self._watch)

    def _watch(self, socket) -> None:
        socket.on("framesent", self._sent)
        socket.on("framereceived", self._received)

    def _sent(self, payload) -> None:
        if isinstance(payload, bytes) and BackMsg.FromString(payload).WhichOneof("type") == "rerun_script":
            self.waiting_since = self.waiting_since or time.monotonic()

    def _received(self, payload) -> None:
        if (isinstance(payload, bytes) and self.waiting_since is not None
                and ForwardMsg.FromString(payload).WhichOneof("type") == "script_finished"):
            self.durations.append(time.monotonic() - self.waiting_since)
            self.waiting_since = None

    async def finished(self, count: int) -> float | None:
        """The round trip of the interaction that started when `count` durations were known, once its rerun
        has finished (the page shows the new figure before the script's last messages)."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while len(self.durations) <= count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.durations[count] if len(self.durations) > count else None


async def session(browser, url: str, photo: Path, deadline: float, record: dict, delay_s: float) -> None:
    """One user; sessions start `delay_s` apart, as a class does, and wait long for a busy server."""
    await asyncio.sleep(delay_s)
    context = await browser.new_context(viewport={"width": 1400, "height": 1600})
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    clock = RoundTripClock(page)
    try:
        await page.goto(f"{url}/Explain")
        uploader = page.locator("[data-testid=stFileUploader]", has_text="Upload photos")
        await uploader.locator("input[type=file]").set_input_files(photo)
        await page.wait_for_function(f"() => {TITLE}.length > 0", timeout=WAIT_MS)
        await page.get_by_text("Prepare the files").first.click()  # the heavier path: downloads built on each view
        await page.get_by_role("button", name="Overlay PNG (1. ").first.wait_for(timeout=WAIT_MS)
        used, step = {"CAM"}, 0
        while time.monotonic() < deadline:
            await page.wait_for_timeout(300)  # lets the last rerun's trailing messages arrive before timing anew
            start, known = time.monotonic(), len(clock.durations)
            if step % 2 == 0:
                method = METHODS[step // 2 % len(METHODS)]
                kind = "cached" if method in used else "new"
                used.add(method)
                await choose(page, "Method", method)
                await page.wait_for_function(f"() => {TITLE}.startsWith({method + ' ·'!r})", timeout=WAIT_MS)
            else:
                kind, rank = "class", (step // 2 + 1) % 3 + 1  # 2, 3, 1, 2...: never the class shown
                await page.locator("[data-testid=stSelectbox]", has_text="Class of the downloads").first.click()
                await page.keyboard.type(f"{rank}. ")
                await page.keyboard.press("Enter")
                await page.get_by_role("button", name=f"Overlay PNG ({rank}. ").first.wait_for(timeout=WAIT_MS)
            seen_s = time.monotonic() - start
            record[kind].append((seen_s, await clock.finished(known)))
            headers = await page.locator("[data-testid=stHeading] h3").all_inner_texts()
            if any(text.strip() != photo.name for text in headers):
                record["foreign"].append(headers)
            step += 1
    except Exception as exc:  # noqa: BLE001 - a failed session is reported, the others go on
        record["errors"].append(f"{photo.name}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        await context.close()


BROWSER_CGROUP = Path("/sys/fs/cgroup/cpu/cam_explorer_bench_browsers")
"""A cgroup-v1 CPU group with the least share (cpu.shares 2 against the server's 1024)."""


@contextlib.contextmanager
def chromium_low_priority(least: bool) -> Iterator[tuple[str, str]]:
    """Debian's Chromium through a wrapper that keeps it off the CPU the server wants, and how it did so.

    In a class the browsers run on the students' laptops. Niceness alone does not do it here: Playwright starts
    the browser in a session of its own, Linux shares CPU fairly between sessions' autogroups whatever their
    niceness, and Chromium renices its own processes (some to -8). A CPU cgroup with the least share does it
    (root and cgroup v1's cpu controller); elsewhere the wrapper falls back to nice 19 for its autogroup too.
    least False: Chromium as it is, competing with the server for the CPU (a harsher test than a class).
    """
    if not least:
        yield str(CHROMIUM), "competing with the server for the CPU"
        return
    with tempfile.TemporaryDirectory() as folder:
        wrapper = Path(folder) / "chromium"
        try:
            BROWSER_CGROUP.mkdir(exist_ok=True)
            (BROWSER_CGROUP / "cpu.shares").write_text("2")
            how, limit = "in a CPU cgroup with the least share", f"echo $$ > {BROWSER_CGROUP / 'cgroup.procs'}"
        except OSError:
            how, limit = "at nice 19", "echo 19 > /proc/self/autogroup 2>/dev/null; renice -n 19 $$ >/dev/null"
        wrapper.write_text(f'#!/bin/sh\n{limit}\nexec {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
        try:
            yield str(wrapper), how
        finally:
            with contextlib.suppress(OSError):
                BROWSER_CGROUP.rmdir()


async def run(sessions: int, seconds: float, least: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        server_log = Path(folder) / "server_times.txt"
        with streamlit_server(Path(folder), ("-m", "bench.timed_server", str(server_log)), **{
                DATA_ENV: str(Path(folder) / "no-data")}) as url, chromium_low_priority(least) as (chromium, how):
            port = int(url.rsplit(":", 1)[1])
            start_mb, start_cpu_s = server_rss_mb(port), server_cpu_s(port)
            records: list[dict[str, list]] = [{"new": [], "cached": [], "class": [], "foreign": [], "errors": []}
                                              for _ in range(sessions)]
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
                start = time.monotonic()
                deadline = start + seconds
                await asyncio.gather(*(session(browser, url, photo, deadline, record, index * 2.0)
                                       for index, (photo, record) in enumerate(zip(photos(sessions, Path(folder)),
                                                                                     records))))
                elapsed_s = time.monotonic() - start
                await browser.close()
            end_mb, cpu_s = server_rss_mb(port), server_cpu_s(port) - start_cpu_s
        server_s = [s for times in read_log(server_log).values() for s in times]
    print(f"{sessions} sessions, {seconds:g} s of interactions (+ upload and first explanation), Lite0 CPU, browsers "
          f"{how}; server RSS {start_mb:.0f} MB before the first page, {end_mb:.0f} MB at the end; "
          f"server CPU {cpu_s:.0f} s in {elapsed_s:.0f} s ({cpu_s / elapsed_s:.2f} cores); sessions that saw "
          f"another's photo: {sum(bool(r['foreign']) for r in records)}; "
          f"errors: {sum(len(r['errors']) for r in records)}\n")
    report(records, elapsed_s)
    print(f"\nServer time per rerun, clocked in the server, all {len(server_s)} reruns (page loads, uploads, first "
          f"explanations included): median | p95 = {quantiles(server_s)} s")


def report(records: list[dict[str, list]], elapsed_s: float) -> None:
    print("| interaction | count | per s | round trip median s | round trip p95 s | seen median s | seen p95 s |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for kinds, what in [((kind,), label) for kind, label in KINDS.items()] + [(tuple(KINDS), "all")]:
        pairs = [pair for r in records for kind in kinds for pair in r[kind]]
        if pairs:
            round_trips = [s for _, s in pairs if s is not None]
            print(f"| {what} | {len(pairs)} | {len(pairs) / elapsed_s:.2f} | {quantiles(round_trips)} | "
                  f"{quantiles([seen for seen, _ in pairs])} |")
    for record in records:
        for error in record["errors"]:
            print(f"- {error}")


def quantiles(values: list[float]) -> str:
    """'median | p95' of `values`, or dashes when there are none."""
    if not values:
        return "- | -"
    ordered = sorted(values)
    return f"{statistics.median(ordered):.2f} | {ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--browser-cpu", choices=["least", "fair"], default="least",
                        help="least: browsers only get CPU the server leaves (as if on the students' laptops); "
                             "fair: they compete with the server")
    args = parser.parse_args(argv)
    asyncio.run(run(args.sessions, args.seconds, args.browser_cpu == "least"))


if __name__ == "__main__":
    main()
