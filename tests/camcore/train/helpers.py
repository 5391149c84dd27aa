"""Helpers for the training tests: `python -m camcore train` as a subprocess on the tiny generated pets."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TINY = ("--image-size", "64", "--batch-size", "2", "--lr", "1e-3", "--device", "cpu", "--probes", "4")
"""6 trainval photos at batch 2: 3 steps an epoch, each a fraction of a second on a CPU."""


def train_args(root: Path, weights: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(root), "--arch", "resnet18", "--weights", str(weights), *TINY, *extra]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def start(argv: list[str], **extra_env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "camcore", *argv], cwd=REPO, env=env(**extra_env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def start_slow(argv: list[str], delay_s: float) -> subprocess.Popen:
    """`python -m camcore` with every training step slowed by delay_s (tests/camcore/train/slow_trainer.py), so a
    test can stop or kill a tiny run mid-epoch."""
    return subprocess.Popen([sys.executable, "-m", "tests.camcore.train.slow_trainer", str(delay_s), *argv], cwd=REPO,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run(argv: list[str], timeout_s: float = 120, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "camcore", *argv], cwd=REPO, env=env(**extra_env),
                          capture_output=True, text=True, timeout=timeout_s)


def wait_for(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def metric_lines(folder: Path) -> list[dict]:
    """Every line of metrics.jsonl parsed strictly: a torn or corrupt line fails the test."""
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
