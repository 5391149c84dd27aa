"""Frames per second of the Live page's server work, per stream and with 1, 2 and 4 streams on one shared model, on
the page's own path: a camera-sized VP8 video arriving at 30 frames/s and decoded on one thread (as aiortc's
decoder does every frame), the page's callback (ui.live.stream.newest_frame: the newest queued frame mapped by
camcore.serving.live, forward + CAM at the model's 224 px, then the overlay at the frame's size) on another, and
the mapped frames encoded to VP8 on a third, all at once as in the server.

Prints a markdown table: frames mapped per second (the page's counter), the time per frame split into decode,
forward + CAM and overlay (the two the page shows) and encode, the plain forward's frames/s on the same frames in
the same run (×fwd = the stream's frames/s over it), and the process's memory after the first MEMORY_EVERY_S and at
the end (a long --seconds is the soak test). Several streams run at once, as every student's stream does in the
server; their frames/s are per stream. Then the overlay alone, the float32 + matplotlib blend it replaced beside
camcore.maps.exports.boxed_frame's 8-bit table, on the same frames.

    .venv/bin/python -m bench.bench_live [--models lite0,resnet18] [--streams 1,2,4] [--seconds 8] [--device cpu]
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

if __package__ in (None, ""):  # run as a file: put the repo root first, as `python -m` does
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import av
import numpy as np
import torch
import torchvision
from matplotlib import colormaps
from PIL import Image, ImageDraw

from bench.user_path import PET_PHOTOS, generated_jpeg
from camcore.maps import heatmap
from camcore.maps.exports import boxed_frame
from camcore.models.device import describe
from camcore.models.loading import LoadedModel, load_model
from camcore.serving.live import LiveSettings
from ui.live.stream import LiveStream, newest_frame

FPS = 30
FORWARD_S = 10.0
"""The plain forward's measurement, at most (a soak's long --seconds need not repeat it)."""
MEMORY_EVERY_S = 10.0
"""The memory column: RSS once the streams have run this long (their buffers allocated), and at the end."""


def camera_video(size: tuple[int, int], count: int) -> list[av.Packet]:
    """`count` VP8 packets of camera-sized frames: Oxford pets photos where the shared data is, else generated."""
    paths = sorted(PET_PHOTOS.glob("*.jpg"))[:count] if PET_PHOTOS.is_dir() else []
    sources = [path.read_bytes() for path in paths] or [generated_jpeg()]
    photos = [Image.open(io.BytesIO(data)).convert("RGB").resize(size) for data in sources]
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt, encoder.time_base = *size, "yuv420p", Fraction(1, FPS)
    packets: list[av.Packet] = []
    for index in range(count):
        frame = av.VideoFrame.from_image(photos[index % len(photos)]).reformat(format="yuv420p")
        frame.pts = index
        packets += encoder.encode(frame)
    return packets + list(encoder.encode(None))


@dataclass
class StreamTimes:
    """One stream's seconds per stage, and its frames: arrived (decoded, as the peer decodes every frame) and
    mapped (what the page's counter counts)."""

    decode: list[float]
    explain: list[float]
    overlay: list[float]
    encode: list[float]
    frames: int = 0
    arrived: int = 0
    elapsed_s: float = 0.0


def run_stream(model: LoadedModel, packets: list[av.Packet], size: tuple[int, int], seconds: float,
               start: threading.Barrier) -> StreamTimes:
    """One stream as the server runs it, for `seconds`: a camera's FPS frames a second decoded as they arrive
    (aiortc's decoder thread), the page's own callback (ui.live.stream.newest_frame: the newest queued frame
    mapped, the others dropped) on its own thread, and the mapped frames encoded on a third, all at once."""
    decoder = av.CodecContext.create("libvpx", "r")
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt, encoder.time_base = *size, "yuv420p", Fraction(1, FPS)
    stream = LiveStream(model, LiveSettings())
    times = StreamTimes([], [], [], [])
    queued: list[av.VideoFrame] = []
    mapped: list[av.VideoFrame] = []
    arrived, sent = threading.Condition(), threading.Condition()
    start.wait()
    began = time.perf_counter()

    def running() -> bool:
        return time.perf_counter() - began < seconds

    def camera() -> None:
        while running():
            t0 = time.perf_counter()
            decoded = decoder.decode(packets[times.arrived % len(packets)])
            times.decode.append(time.perf_counter() - t0)
            with arrived:
                queued.extend(decoded)
                times.arrived += 1
                arrived.notify()
            time.sleep(max(0.0, began + times.arrived / FPS - time.perf_counter()))

    def callback() -> None:
        while running():
            with arrived:
                arrived.wait_for(lambda: queued or not running(), timeout=0.5)
                frames = queued[:]
                queued.clear()
            if not frames:
                continue
            (out,) = newest_frame(stream, frames)
            result = stream.latest.result()
            if result is not None:
                times.explain.append(result.explain_s)
                times.overlay.append(result.overlay_s)
            times.frames += 1
            with sent:
                mapped.append(out)
                sent.notify()

    def send() -> None:
        while running() or mapped:
            with sent:
                sent.wait_for(lambda: mapped or not running(), timeout=0.5)
                outs = mapped[:]
                mapped.clear()
            for out in outs:
                t0 = time.perf_counter()
                encoder.encode(out.reformat(format="yuv420p"))
                times.encode.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=job) for job in (camera, callback, send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times.elapsed_s = time.perf_counter() - began
    return times


def float_overlay(frame: np.ndarray, normalised: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    """The overlay as it was before the 8-bit table: a float32 copy of the frame, matplotlib's colours and PIL's
    rectangle (kept here only to measure against)."""
    alpha = 0.5 * heatmap.threshold_mask(normalised, heatmap.DEFAULT_THRESHOLD)[..., None]
    colours = colormaps["magma"](np.clip(normalised, 0, 1), bytes=True)[..., :3].astype(np.float32)
    blended = Image.fromarray((frame.astype(np.float32) * (1 - alpha) + colours * alpha).round().astype(np.uint8))
    if box is not None:
        ImageDraw.Draw(blended).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), outline=(0, 255, 255), width=3)
    return np.asarray(blended)


def overlay_rows(packets: list[av.Packet], rounds: int = 30) -> str:
    """The overlay's ms per frame, before and now, on the same decoded frames and maps, alternating."""
    decoder = av.CodecContext.create("libvpx", "r")
    frames = [frame.to_ndarray(format="rgb24") for packet in packets for frame in decoder.decode(packet)][:4]
    maps = [np.random.default_rng(index).random((15, 20), dtype=np.float32) - 0.3 for index in range(len(frames))]
    spent = {"float32 + matplotlib + PIL (before)": 0.0, "uint8 table + array box (now)": 0.0}
    for index in range(rounds):
        frame, raw = frames[index % len(frames)], maps[index % len(maps)]
        normalised = heatmap.normalise(heatmap.upsample(raw, frame.shape[:2]))
        box = heatmap.threshold_box(normalised, heatmap.DEFAULT_THRESHOLD)
        before, now = spent
        began = time.perf_counter()
        float_overlay(frame, normalised, box)
        middle = time.perf_counter()
        boxed_frame(frame, normalised, box, colormap="magma", opacity=0.5, threshold_frac=heatmap.DEFAULT_THRESHOLD)
        spent[before] += middle - began
        spent[now] += time.perf_counter() - middle
    reference = spent["float32 + matplotlib + PIL (before)"]
    return "\n".join(f"| {name} | {1000 * seconds / rounds:.1f} | {reference / seconds:.2f} |"
                     for name, seconds in spent.items())


def forward_fps(model: LoadedModel, packets: list[av.Packet], seconds: float) -> float:
    """The plain forward's frames/s on the same frames at the same input size (preprocessing included)."""
    decoder = av.CodecContext.create("libvpx", "r")
    frames = [frame.to_image() for packet in packets for frame in decoder.decode(packet)][:8]
    transform = model.preprocessing.transform()
    began, count = time.perf_counter(), 0
    with torch.inference_mode():
        while time.perf_counter() - began < seconds:
            model.module(transform(frames[count % len(frames)]).unsqueeze(0).to(model.device))
            count += 1
    return count / (time.perf_counter() - began)


def bench_streams(model: LoadedModel, packets: list[av.Packet], size: tuple[int, int], streams: int,
                  seconds: float, memory_mb: list[float] | None = None) -> list[StreamTimes]:
    """`streams` threads streaming at once for `seconds`; memory_mb gets the process's RSS every MEMORY_EVERY_S."""
    barrier = threading.Barrier(streams)
    results: list[StreamTimes | None] = [None] * streams
    done = threading.Event()

    def sample() -> None:
        while memory_mb is not None and not done.wait(MEMORY_EVERY_S):
            memory_mb.append(rss_mb())

    def work(index: int) -> None:
        results[index] = run_stream(model, packets, size, seconds, barrier)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(streams)]
    sampler = threading.Thread(target=sample)
    for thread in (*threads, sampler):
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    sampler.join()
    return [result for result in results if result is not None]


def load(name: str, folder: Path, device: str) -> LoadedModel:
    """lite0 with its packaged ImageNet weights; a torchvision name with random weights (speed does not depend on
    their values, and nothing is downloaded)."""
    if name == "lite0":
        return load_model(name, device=device)
    path = folder / f"{name}.pth"
    torch.save(torchvision.models.get_model(name).state_dict(), path)
    return load_model(name, weights_path=path, device=device)


def rss_mb() -> float:
    """This process's resident memory (Linux's /proc), to see whether streaming leaks."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def table_rows(model: LoadedModel, streams: int, times: list[StreamTimes], forward: float,
               memory_mb: list[float]) -> str:
    per_stream = statistics.mean(t.frames / t.elapsed_s for t in times)
    ms = {stage: 1000 * statistics.median([s for t in times for s in getattr(t, stage)])
          for stage in ("decode", "explain", "overlay", "encode")}
    return (f"| {model.spec} | {streams} | {per_stream:.1f} | {per_stream * streams:.1f} | {ms['decode']:.1f} | "
            f"{ms['explain']:.1f} | {ms['overlay']:.1f} | {ms['encode']:.1f} | {forward:.1f} | "
            f"{per_stream / forward:.2f} | {' → '.join(f'{mb:.0f}' for mb in memory_mb[:1] + memory_mb[-1:])} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lite0,resnet18")
    parser.add_argument("--streams", default="1,2,4")
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--frame", default="640x480", help="the camera's frame, WIDTHxHEIGHT")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args(argv)
    width, height = (int(side) for side in args.frame.split("x"))
    packets = camera_video((width, height), 30)
    print(f"## {describe(torch.device(args.device))} · {width}x{height} frames · torch {torch.__version__}\n")
    print("| model | streams | frames/s per stream | frames/s in all | decode ms | forward + CAM ms | overlay ms | "
          f"encode ms | forward alone frames/s | ×fwd | RSS MB at {MEMORY_EVERY_S:.0f} s → end |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            model = load(name, Path(folder), args.device)
            bench_streams(model, packets, (width, height), 1, 1.0)  # warm-up
            for streams in (int(count) for count in args.streams.split(",")):
                forward = forward_fps(model, packets, min(args.seconds / 2, FORWARD_S))
                memory_mb: list[float] = []
                times = bench_streams(model, packets, (width, height), streams, args.seconds, memory_mb)
                print(table_rows(model, streams, times, forward, memory_mb), flush=True)
    print("\n| overlay and box at the frame's size (blend only; upsampling and the box rule are shared) | ms per "
          "frame | × before |\n|---|---|---|")
    print(overlay_rows(packets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
