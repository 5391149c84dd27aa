"""N browser sessions on one Streamlit server (loopback only): each uploads its own photo and explains it again
and again for a bounded time, switching the sidebar's method (each of the registered ones in turn) and the
downloads' class.

    .venv/bin/python -m bench.load_test [--sessions 16] [--seconds 120] [--browser-nice 19]

Reports, per kind of interaction, how many ran, the rate, and two latencies at the median and 95th percentile:
- "server": from the browser sending the rerun request (Streamlit's BackMsg rerun_script on the websocket) to the
  server's script_finished for it: the server's time for the interaction, queueing behind other sessions included;
- "seen": from the click to the new figure or download label being rendered in the page.
A method's first use in a session is a new explanation (a model pass); a method used before, or a class switch,
is a rerun served from the caches. Also the server's RSS (streamlit and its children, from /proc) at start and
end, and whether every session only ever saw its own photo (the subheader's file name). Chromium from Debian,
never downloaded. In a class the browsers run on the students' laptops: `--browser-nice 19` runs these on the
server's cores at the lowest priority, so that the server's own time is what the 2-core machine can do.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from playwright.async_api import async_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.memory_soak import rss_mb
from camcore.data import DATA_ENV
from tests.conftest import make_photo
from tests.test_browser import streamlit_server

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
FIGURE = "[...document.querySelectorAll('.js-plotly-plot')].find(p => p.layout?.sliders?.length === 4)"
WAIT_MS = 180_000
"""A loaded server on 2 cores can take minutes to answer the first page of 16 sessions at once."""
TITLE = f"(() => {{ const p = {FIGURE}; return p ? (p.layout.title?.text ?? '').replace(/<[^>]*>/g, '') : ''; }})()"


def server_rss_mb(port: int) -> float:
    """RSS of the process listening on `port` (its command line names it) and its children."""
    pids = [p.name for p in Path("/proc").iterdir() if p.name.isdigit()]
    def cmdline(pid: str) -> str:
        try:
            return (Path("/proc") / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return ""
    roots = [pid for pid in pids if "streamlit" in cmdline(pid) and f" {port} " in cmdline(pid) + " "]
    children = [pid for pid in pids for root in roots if _parent(pid) == root]
    return sum(rss_mb(pid) for pid in {*roots, *children} if Path(f"/proc/{pid}").exists())


def _parent(pid: str) -> str:
    try:
        return (Path("/proc") / pid / "stat").read_text().rsplit(")", 1)[1].split()[1]
    except (OSError, IndexError):
        return ""


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


class ServerClock:
    """Server time per interaction, read off the page's websocket: the earliest rerun request still waiting,
    to the script_finished that answers it (a rerun interrupted by a newer request finishes once for both)."""

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
        """The server time of the interaction that started when `count` durations were known, once its rerun
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
    clock = ServerClock(page)
    try:
        await page.goto(f"{url}/Explain")
        uploader = page.locator("[data-testid=stFileUploader]", has_text="Upload photos")
        await uploader.locator("input[type=file]").set_input_files(photo)
        await page.wait_for_function(f"() => {TITLE}.length > 0", timeout=WAIT_MS)
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


@contextlib.contextmanager
def chromium_at(nice: int) -> Iterator[str]:
    """Debian's Chromium, started at niceness `nice` (0: as is) through a two-line wrapper script."""
    if nice == 0:
        yield "/usr/bin/chromium"
        return
    with tempfile.TemporaryDirectory() as folder:
        wrapper = Path(folder) / "chromium"
        wrapper.write_text(f'#!/bin/sh\nexec nice -n {nice} /usr/bin/chromium "$@"\n')
        wrapper.chmod(0o755)
        yield str(wrapper)


async def run(sessions: int, seconds: float, browser_nice: int) -> None:
    with tempfile.TemporaryDirectory() as folder, streamlit_server(Path(folder), **{
            DATA_ENV: str(Path(folder) / "no-data")}) as url, chromium_at(browser_nice) as chromium:
        port = int(url.rsplit(":", 1)[1])
        start_mb = server_rss_mb(port)
        records: list[dict[str, list]] = [{"new": [], "cached": [], "class": [], "foreign": [], "errors": []}
                                          for _ in range(sessions)]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=ARGS)
            start = time.monotonic()
            deadline = start + seconds
            await asyncio.gather(*(session(browser, url, photo, deadline, record, index * 2.0)
                                   for index, (photo, record) in enumerate(zip(photos(sessions, Path(folder)),
                                                                                 records))))
            elapsed_s = time.monotonic() - start
            await browser.close()
        end_mb = server_rss_mb(port)
    report(records, sessions, seconds, browser_nice, elapsed_s, start_mb, end_mb)


def report(records: list[dict[str, list]], sessions: int, seconds: float, browser_nice: int, elapsed_s: float,
           start_mb: float, end_mb: float) -> None:
    print(f"{sessions} sessions, {seconds:g} s of interactions (+ upload and first explanation), Lite0 CPU, browsers "
          f"at nice {browser_nice}; server RSS {start_mb:.0f} MB before the first page, {end_mb:.0f} MB at the end; "
          f"sessions that saw another's photo: {sum(bool(r['foreign']) for r in records)}; "
          f"errors: {sum(len(r['errors']) for r in records)}\n")
    print("| interaction | count | per s | server median s | server p95 s | seen median s | seen p95 s |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for kinds, what in [((kind,), label) for kind, label in KINDS.items()] + [(tuple(KINDS), "all")]:
        pairs = [pair for r in records for kind in kinds for pair in r[kind]]
        if pairs:
            server = [s for _, s in pairs if s is not None]
            print(f"| {what} | {len(pairs)} | {len(pairs) / elapsed_s:.2f} | {_quantiles(server)} | "
                  f"{_quantiles([seen for seen, _ in pairs])} |")
    for record in records:
        for error in record["errors"]:
            print(f"- {error}")


def _quantiles(values: list[float]) -> str:
    """'median | p95' of `values`, or dashes when there are none."""
    if not values:
        return "- | -"
    ordered = sorted(values)
    return f"{statistics.median(ordered):.2f} | {ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--browser-nice", type=int, default=19, help="niceness of the browsers (0: as is)")
    args = parser.parse_args(argv)
    asyncio.run(run(args.sessions, args.seconds, args.browser_nice))


if __name__ == "__main__":
    main()
