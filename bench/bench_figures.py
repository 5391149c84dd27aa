"""What one rerun of the Explain page costs the server for one photo, before and after: the figures as validated
go.Figure objects rebuilt every rerun (as before) against plain-dict figures built once and cached
(ui.explain.figure_cache); and the bytes of each figure's JSON, which Streamlit sends on every rerun (top-5,
ten threshold steps, under either threshold standard).

    .venv/bin/python -m bench.bench_figures [--rounds 5] [--photo assets/samples/Bengal_3.jpg]

Interleaved rounds, medians; the packaged Lite0 on the CPU. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import plotly.graph_objects as go
import plotly.io
import plotly.tools
import torch

from camcore.data.images import load_image
from camcore.explain import decode_side_px, explain
from camcore.maps import display, exports, heatmap
from camcore.models.loading import load_model
from camcore.options import MapOptions
from ui.explain import figures as explain_figures


def shown(figure: go.Figure) -> str:
    """What st.plotly_chart does with a figure: to_dict() (validated), then JSON."""
    return plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(figure, True), validate=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--photo", default="assets/samples/Bengal_3.jpg")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model("lite0", device="cpu")
    data = Path(args.photo).read_bytes()
    photo = load_image(data, name=args.photo, min_side_px=decode_side_px(model))
    result = explain([photo], model, MapOptions(method="cam"))[0]
    cached = (explain_figures.explanation_figure(photo, display.slider_layers(result), title="CAM"),
              explain_figures.signed_figure(photo, display.slider_layers(result)))
    png = exports.overlay_png(photo, result, 0)

    def before() -> object:
        layers = display.slider_layers(result)  # twice per rerun, as show_photo did
        old = go.Figure(explain_figures.explanation_figure(photo, layers, title="CAM").to_dict())
        signed = go.Figure(explain_figures.signed_figure(photo, display.slider_layers(result)).to_dict())
        return shown(old), shown(signed), exports.overlay_png(photo, result, 0)

    def first_view() -> object:
        layers = display.slider_layers(result)
        return (shown(explain_figures.explanation_figure(photo, layers, title="CAM")),
                shown(explain_figures.signed_figure(photo, layers)), exports.overlay_png(photo, result, 0))

    def rerun() -> object:
        return shown(cached[0]), shown(cached[1]), png

    variants: dict[str, Callable[[], object]] = {
        "explain (cached in the app; for scale)": lambda: explain([photo], model, MapOptions(method="cam")),
        "before: every rerun (go.Figure, 2x layers, PNG)": before,
        "after: first view of an explanation": first_view,
        "after: a rerun (cached figures and PNG)": rerun}
    assert json.loads(before()[0]) == json.loads(rerun()[0]), "the browser must get the same figure"
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, call in variants.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["before: every rerun (go.Figure, 2x layers, PNG)"])
    print(f"{args.photo} {photo.size[0]}x{photo.size[1]}, Lite0 CPU, {args.threads} thread(s), "
          f"median of {args.rounds} interleaved rounds\n")
    print("| server work per rerun, one photo | ms | share of before |\n|---|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median * 1000:.1f} | {median / base:.2f} |")
    print("\n| figure sent on each rerun | bytes of JSON |\n|---|---:|")
    for standard in (heatmap.MAXIMUM, heatmap.PERCENTILE):
        layers = display.slider_layers(result, standard=standard)
        sent = shown(explain_figures.explanation_figure(photo, layers, title="CAM"))
        print(f"| map figure, threshold {standard.describe()} | {len(sent.encode()):,} |")
    print(f"| signed figure | {len(shown(cached[1]).encode()):,} |")


if __name__ == "__main__":
    main()
