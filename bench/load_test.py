"""N browser sessions on one Streamlit server (loopback only): each uploads its own photo and explains it again
and again for a bounded time, switching the sidebar's method (CAM / Grad-CAM) and the downloads' class.

    .venv/bin/python -m bench.load_test [--sessions 16] [--seconds 120]

Reports explanations per second, median and 95th-percentile latency (from the interaction to the new figure or
download label being rendered), the server's RSS (streamlit and its children, from /proc) at start and end, and
whether every session only ever saw its own photo (the subheader's file name). Chromium from Debian, never
downloaded. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright

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


async def session(browser, url: str, photo: Path, deadline: float, record: dict, delay_s: float) -> None:
    """One user; sessions start `delay_s` apart, as a class does, and wait long for a busy server."""
    await asyncio.sleep(delay_s)
    context = await browser.new_context(viewport={"width": 1400, "height": 1600})
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        await page.goto(f"{url}/Explain")
        uploader = page.locator("[data-testid=stFileUploader]", has_text="Upload photos")
        await uploader.locator("input[type=file]").set_input_files(photo)
        await page.wait_for_function(f"() => {TITLE}.length > 0", timeout=WAIT_MS)
        methods, step = ["Grad-CAM", "CAM"], 0
        while time.monotonic() < deadline:
            start = time.monotonic()
            if step % 2 == 0:
                method = methods[step // 2 % 2]
                await choose(page, "Method", method)
                await page.wait_for_function(f"() => {TITLE}.startsWith({method + ' ·'!r})", timeout=WAIT_MS)
            else:
                rank = step // 2 % 3 + 1
                await page.locator("[data-testid=stSelectbox]", has_text="Class of the downloads").first.click()
                await page.keyboard.type(f"{rank}. ")
                await page.keyboard.press("Enter")
                await page.get_by_role("button", name=f"Overlay PNG ({rank}. ").first.wait_for(timeout=WAIT_MS)
            record["method" if step % 2 == 0 else "class"].append(time.monotonic() - start)
            headers = await page.locator("[data-testid=stHeading] h3").all_inner_texts()
            if any(text.strip() != photo.name for text in headers):
                record["foreign"].append(headers)
            step += 1
    except Exception as exc:  # noqa: BLE001 - a failed session is reported, the others go on
        record["errors"].append(f"{photo.name}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        await context.close()


async def run(sessions: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as folder, streamlit_server(Path(folder), **{
            DATA_ENV: str(Path(folder) / "no-data")}) as url:
        port = int(url.rsplit(":", 1)[1])
        start_mb = server_rss_mb(port)
        records: list[dict[str, list]] = [{"method": [], "class": [], "foreign": [], "errors": []}
                                          for _ in range(sessions)]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            start = time.monotonic()
            deadline = start + seconds
            await asyncio.gather(*(session(browser, url, photo, deadline, record, index * 2.0)
                                   for index, (photo, record) in enumerate(zip(photos(sessions, Path(folder)),
                                                                                 records))))
            elapsed_s = time.monotonic() - start
            await browser.close()
        end_mb = server_rss_mb(port)
    print(f"{sessions} sessions, {seconds:g} s of interactions (+ upload and first explanation), Lite0 CPU; server "
          f"RSS {start_mb:.0f} MB before the first page, {end_mb:.0f} MB at the end; sessions that saw another's "
          f"photo: {sum(bool(r['foreign']) for r in records)}; errors: {sum(len(r['errors']) for r in records)}\n")
    print("| interaction | count | per s | median s | p95 s |\n|---|---:|---:|---:|---:|")
    for kind, what in (("method", "method switch (new figure rendered)"), ("class", "downloads class (new label)"),
                       (None, "all")):
        latencies = sorted(s for r in records for key in (("method", "class") if kind is None else (kind,))
                           for s in r[key])
        if latencies:
            p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
            print(f"| {what} | {len(latencies)} | {len(latencies) / elapsed_s:.2f} | "
                  f"{statistics.median(latencies):.2f} | {p95:.2f} |")
    for record in records:
        for error in record["errors"]:
            print(f"- {error}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args(argv)
    asyncio.run(run(args.sessions, args.seconds))


if __name__ == "__main__":
    main()
