"""Many sessions explaining at once on one shared model: each on its own (concurrent explain() calls) against
camcore.serving.batching's queue (the photos waiting when the model frees up explained together, as it does on a
GPU) and the same queue one photo a pass, side by side, rounds interleaved. It decides
camcore.serving.batching.BATCHED_DEVICES.

    .venv/bin/python -m bench.bench_batching [--sessions 16] [--requests 4] [--rounds 3] [--device cpu]

Each of `--sessions` threads explains `--requests` photos one after another (a session's new photo or method),
all at once, as a class does; the photos share the upload's common 4:3 shape (phones), so they can share a batch.
Prints explanations per second and the median and 95th-percentile time per request, for both, and their ratio.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from camcore.explain import explain
from camcore.models.loading import LoadedModel, load_model
from camcore.serving import batching

Explainer = Callable[..., list]


def photo(index: int) -> Image.Image:
    rng = np.random.default_rng(index)
    return Image.fromarray(rng.integers(0, 255, size=(480, 640, 3), dtype=np.uint8))


def one_round(explainer: Explainer, model: LoadedModel, sessions: int, requests: int,
              method: str) -> tuple[float, list[float]]:
    """(wall seconds, each request's seconds) of `sessions` threads each explaining `requests` photos."""
    def session(index: int) -> list[float]:
        times = []
        for request in range(requests):
            start = time.perf_counter()
            explainer([photo(index * requests + request)], model, method=method, top_k=5)
            times.append(time.perf_counter() - start)
        return times

    start = time.perf_counter()
    with ThreadPoolExecutor(sessions) as pool:
        latencies = [t for times in pool.map(session, range(sessions)) for t in times]
    return time.perf_counter() - start, latencies


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="lite0")
    parser.add_argument("--method", default="cam")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    model = load_model(args.model, device=args.device)
    batching.BATCHED_DEVICES.add(model.device.type)  # the queue on this device too, whatever the app's policy
    variants: dict[str, tuple[Explainer, int]] = {
        "each on its own": (explain, 0), "queued, batched": (batching.explain_batched, batching.GPU_BATCH_PHOTOS),
        "queued, one photo a pass": (batching.explain_batched, 1)}
    walls: dict[str, list[float]] = {name: [] for name in variants}
    latencies: dict[str, list[float]] = {name: [] for name in variants}
    one_round(explain, model, 2, 1, args.method)  # warm-up
    for _ in range(args.rounds):
        for name, (explainer, batch_photos) in variants.items():
            batching.GPU_BATCH_PHOTOS = batch_photos  # the most photos a queued pass takes
            wall, times = one_round(explainer, model, args.sessions, args.requests, args.method)
            walls[name].append(wall)
            latencies[name].extend(times)
    count = args.sessions * args.requests
    print(f"{args.sessions} sessions x {args.requests} requests, {args.model} {args.method} top-5, 640x480 photos, "
          f"{model.device}; median of {args.rounds} interleaved rounds\n")
    print("| variant | explanations per s | median s per request | p95 s per request | throughput vs own |\n"
          "|---|---:|---:|---:|---:|")
    base = count / statistics.median(walls["each on its own"])
    for name in variants:
        rate, ordered = count / statistics.median(walls[name]), sorted(latencies[name])
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(f"| {name} | {rate:.1f} | {statistics.median(ordered):.2f} | {p95:.2f} | {rate / base:.2f}x |")


if __name__ == "__main__":
    main()
