"""The measurement method: warm-up, then interleaved rounds of every variant of a row, medians kept.

Machines are noisy, so a row's variants run one call each per round: a busy neighbour slows all of them in the
same rounds, and every ratio compares timings taken side by side.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class Timed:
    """A callable to time. `release` runs untimed after each call and drops what a library keeps between calls
    (an autograd graph), so that several variants' copies never pile up memory. `probe` does 1/`probe_share` of
    `run`'s work: its time predicts whether `run` would pass the call limit before `run` is ever called.
    `limited`: a library's variant, skipped once a call passes the call limit (ours and the forward never are)."""

    method: str
    library: str
    run: Callable[[], object]
    release: Callable[[], None] = lambda: None
    probe: Callable[[], object] | None = None
    probe_share: int = 1
    limited: bool = False
    times_s: list[float] = field(default_factory=list)
    skipped: str = ""


@dataclass(frozen=True)
class Settings:
    """How long a row may be measured: at most `rounds`, no new round after `budget_s` once `min_rounds` are
    done, and a limited variant skipped when one call takes over `call_limit_s`."""

    rounds: int
    min_rounds: int
    budget_s: float
    call_limit_s: float


def _sync(device: torch.device) -> None:
    """Waits for queued CUDA work, so that a call's time includes its kernels."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(timed: Timed, device: torch.device, call: Callable[[], object] | None = None) -> float | None:
    """Seconds of one call (of `run` unless told); None, with the variant marked skipped, when out of memory
    (the allocator has already emptied its cache and retried by then)."""
    _sync(device)
    start = time.perf_counter()
    try:
        (call or timed.run)()
        _sync(device)
        return time.perf_counter() - start
    except torch.cuda.OutOfMemoryError:
        timed.skipped = "skipped (out of memory)"
        return None
    finally:
        timed.release()


def warm_up(timed: Timed, device: torch.device, settings: Settings) -> None:
    """Once, three times on CUDA (kernel choice). A library's variant predicted by its probe, or seen, to take
    longer than the call limit is skipped, so that one slow library cannot hold the whole run."""
    limit = f"skipped (>{settings.call_limit_s:g} s a call)"
    if timed.probe is not None:
        probe_s = time_call(timed, device, timed.probe)
        if probe_s is not None and probe_s * timed.probe_share > settings.call_limit_s:
            timed.skipped = limit
    for _ in range(3 if device.type == "cuda" else 1):
        if timed.skipped:
            return
        elapsed_s = time_call(timed, device)
        if timed.limited and elapsed_s is not None and elapsed_s > settings.call_limit_s:
            timed.skipped = limit


def measure(variants: list[Timed], device: torch.device, settings: Settings) -> int:
    """Interleaved rounds: every variant once per round, so that a noisy neighbour slows all of them alike.
    Stops at settings.rounds, or after min_rounds once the row's time budget is spent; returns the count."""
    for timed in variants:
        warm_up(timed, device, settings)
    start, done = time.perf_counter(), 0
    while done < settings.rounds:
        if done >= settings.min_rounds and time.perf_counter() - start > settings.budget_s:
            break
        for timed in variants:
            if not timed.skipped:
                timed.times_s.append(time_call(timed, device))
        done += 1
    for timed in variants:
        if timed.skipped:
            timed.times_s.clear()
    return done
