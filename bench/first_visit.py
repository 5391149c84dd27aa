"""A class opening the link at once on a freshly started server: N browser sessions spread over the home page and
every page, all sent in the same few milliseconds, then the same again on the now warm server.

    .venv/bin/python -m bench.first_visit [--sessions 30] [--rounds 2]

Prints one row per round and storm: sessions that met an exception or an error box, the log's uncaught script
errors, and the seconds until the slowest session's first title. The warm storm is the baseline: on 2 cores the
browsers themselves take most of that time, so the fresh storm's excess is what the first-time imports cost.
Loopback only; each storm is bounded by WAIT_MS. tests/browser/test_first_visit.py runs it at 10 sessions.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from camcore.settings import DATA_ENV, RUNS_ENV
from tests.browser.test_explain import streamlit_server
from tests.conftest import CHROMIUM, CHROMIUM_FLAGS, SHARED_DATA

PAGES = ("", "Explain", "Dataset", "Training", "Lesson", "Live")
WAIT_MS = 180_000
FAILED = "[data-testid=stException], [data-testid=stAlertContentError]"


@dataclass(frozen=True)
class Storm:
    """What the sessions of one storm met: the failures each page showed (by page), and the first-title times."""

    failures: dict[str, list[str]]
    painted_s: list[float]


def storm(browser: Browser, url: str, sessions: int) -> Storm:
    """`sessions` new browser contexts, page i on PAGES[i % len(PAGES)], all requested at once; returns once every
    session's script has finished (no running indicator)."""
    contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(sessions)]
    try:
        pages = [context.new_page() for context in contexts]
        started = time.monotonic()
        for index, page in enumerate(pages):
            page.goto(f"{url}/{PAGES[index % len(PAGES)]}", wait_until="commit")
        painted = []
        for page in pages:
            page.locator(f"h1, {FAILED}").first.wait_for(timeout=WAIT_MS)
            painted.append(time.monotonic() - started)
        for page in pages:
            page.wait_for_function("() => document.querySelector('[data-testid=stMain]') && "
                                   "!document.querySelector('[data-testid=stStatusWidget]')", timeout=WAIT_MS)
        failures: dict[str, list[str]] = {}
        for index, page in enumerate(pages):
            if texts := page.locator(FAILED).all_inner_texts():
                failures.setdefault(PAGES[index % len(PAGES)] or "Home", []).extend(texts)
        return Storm(failures, painted)
    finally:
        for context in contexts:
            context.close()


def uncaught(log: Path) -> int:
    """Script errors that reached Streamlit's own handler (the redacted box), as the server logged them."""
    return log.read_text(errors="replace").count("Uncaught app execution")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    print("| round | server | sessions | sessions failed | uncaught in log | slowest first title (s) |")
    print("|---|---|---|---|---|---|")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        for round_ in range(1, args.rounds + 1):
            folder = Path(tempfile.mkdtemp(prefix="first-visit-"))
            env = {DATA_ENV: str(SHARED_DATA), RUNS_ENV: str(folder / "runs")}
            with streamlit_server(folder, **env) as url:
                for server in ("fresh", "warm"):
                    result = storm(browser, url, args.sessions)
                    failed = sum(map(len, result.failures.values()))
                    print(f"| {round_} | {server} | {args.sessions} | {failed} | {uncaught(folder / 'streamlit.log')} "
                          f"| {max(result.painted_s):.1f} |", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
