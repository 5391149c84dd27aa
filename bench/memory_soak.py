"""1,000 consecutive explanations in one process, as the Explain page makes them (camcore.explain, then the
figures' data and the overlay PNG), with the RSS at start, along the way and at the end, and a flat-memory verdict.

    .venv/bin/python -m bench.memory_soak [--count 1000] [--max-s 600] [--growth-mb 50]

Bounded by count and by time; photos generated (sizes vary) so no two are alike. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from camcore.explain import explain
from camcore.maps import display, exports
from camcore.models.loading import load_model
from camcore.options import MapOptions
from ui.explain import figures as explain_figures


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def photo(index: int) -> Image.Image:
    rng = np.random.default_rng(index)
    width, height = 200 + index % 7 * 60, 160 + index % 5 * 50
    return Image.fromarray(rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--max-s", type=float, default=600)
    parser.add_argument("--growth-mb", type=float, default=50, help="more growth after warm-up than this fails")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = load_model("lite0", device="cpu")
    start_mb, rows, start = rss_mb(), [], time.monotonic()
    warm_mb, done = start_mb, 0
    for index in range(args.count):
        if time.monotonic() - start > args.max_s:
            break
        image = photo(index)
        result = explain([image], model, MapOptions(method=("cam", "gradcam")[index % 2]))[0]
        layers = display.slider_layers(result)
        explain_figures.explanation_figure(image, layers, title="x").to_json()
        explain_figures.signed_figure(image, layers).to_json()
        exports.overlay_png(image, result, 0)
        done = index + 1
        if done == min(50, args.count):
            warm_mb = rss_mb()
        if done % max(1, args.count // 10) == 0:
            rows.append((done, time.monotonic() - start, rss_mb()))
    end_mb = rss_mb()
    print(f"Lite0 CPU, 1 thread, {done} explanations (CAM and Grad-CAM alternating) in "
          f"{time.monotonic() - start:.0f} s\n")
    print("| explanations | elapsed s | RSS MB |\n|---:|---:|---:|")
    print(f"| 0 | 0 | {start_mb:.0f} |")
    for count, elapsed_s, mb in rows:
        print(f"| {count} | {elapsed_s:.0f} | {mb:.0f} |")
    growth = end_mb - warm_mb
    verdict = "flat" if growth <= args.growth_mb else "GROWING"
    print(f"\nRSS start {start_mb:.0f} MB, after {min(50, done)} (warm) {warm_mb:.0f} MB, end {end_mb:.0f} MB: "
          f"{growth:+.0f} MB after warm-up -> {verdict} (limit {args.growth_mb:g} MB)")


if __name__ == "__main__":
    main()
