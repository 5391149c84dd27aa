"""camcore.jobs.process: a detached `python -m camcore` process writes its output to the run folder, a dead one is
seen as failed, busy_device finds live runs on the same device only, and Heartbeat keeps a working job's status
fresh."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
import torch

from camcore.errors import RunBusy
from camcore.jobs import process
from camcore.jobs.runs import RunFolder, RunStatus

CONFIG = {"data_root": "pets", "task": "binary", "device": "cpu"}


def run_on(root: Path, name: str, state: str, device: str | None, *, pid: int | None = None) -> RunFolder:
    """A run of `device` (None: no device in its config) whose status is `state`, beating now from `pid`."""
    config = {**CONFIG, "device": device} if device is not None else {"data_root": "pets"}
    run = RunFolder.create(root / name, config)
    run.write_status(RunStatus(state, pid=os.getpid() if pid is None else pid, heartbeat=time.time()))
    return run


def wait_until_gone(pid: int, timeout_s: float = 60.0) -> None:
    deadline = time.time() + timeout_s
    while Path(f"/proc/{pid}").exists():  # gone once the reaper thread has waited for it
        assert time.time() < deadline, f"pid {pid} still there after {timeout_s} s"
        time.sleep(0.05)


def test_start_runs_python_m_camcore_detached_with_its_output_in_the_log(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the child must find camcore from any working directory the app has
    monkeypatch.delenv("PYTHONPATH", raising=False)
    run = RunFolder.create(tmp_path / "r", CONFIG)
    (run.path / "log.txt").write_text("earlier attempt\n")
    pid = process.start(["--help"], run)
    assert os.getsid(pid) == pid != os.getsid(0)  # its own session: a Ctrl-C or server restart does not reach it
    status = run.status()
    assert status.state == "starting" and status.pid == pid
    assert run.live_status().state == "starting"
    wait_until_gone(pid)
    log = (run.path / "log.txt").read_text()
    assert log.startswith("earlier attempt\n")  # appended: a resumed run keeps its earlier log
    assert "usage: camcore" in log and "explain" in log
    failed = run.live_status()  # --help never writes a status: to the page it is a process that died silently
    assert failed.state == "failed" and f"pid {pid}" in failed.message


def test_start_sends_stderr_to_the_log_and_refuses_a_run_with_a_live_process(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "r", CONFIG)
    pid = process.start(["no-such-command"], run)
    wait_until_gone(pid)
    assert "invalid choice: 'no-such-command'" in run.log_tail()
    busy = run_on(tmp_path, "busy", "running", "cpu")
    with pytest.raises(RunBusy, match="busy already has a live process"):
        process.start(["--help"], busy)
    assert busy.status().state == "running"


def test_a_failed_launch_leaves_the_status_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_on(tmp_path, "r", "stopped", "cpu")
    before = run.status()
    monkeypatch.setattr(process.sys, "executable", str(tmp_path / "no_python_here"))
    with pytest.raises(FileNotFoundError):
        process.start(["train"], run)
    assert run.status() == before


def test_run_name_is_timestamped_and_safe_as_a_folder_name() -> None:
    now = time.mktime((2026, 12, 1, 15, 30, 12, 0, 0, -1))
    assert process.run_name("binary", "lite0", now=now) == "20261201-153012-binary-lite0"
    assert (process.run_name("breeds", "timm:org/resnet50.a1_in1k", now=now)
            == "20261201-153012-breeds-timm_org_resnet50.a1_in1k")
    assert process.run_name("binary", "../..", now=now) == "20261201-153012-binary-x"


def test_pid_alive_is_reexported() -> None:
    assert process.pid_alive(os.getpid())


@pytest.mark.parametrize("has_cuda", [False, True])
def test_busy_device_finds_live_runs_on_the_same_device_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             has_cuda: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: has_cuda)
    dead = 2 ** 22 + 1  # above the default pid_max: no such process
    assert not process.pid_alive(dead)
    for state in ("finished", "failed", "stopped"):
        run_on(tmp_path, f"cpu_{state}", state, "cpu")
    run_on(tmp_path, "cpu_crashed", "running", "cpu", pid=dead)
    assert process.busy_device(tmp_path, "cpu") is None
    live_cuda = run_on(tmp_path, "cuda_live", "running", "cuda")
    assert process.busy_device(tmp_path, "cpu") is None
    assert process.busy_device(tmp_path, "auto") == (live_cuda if has_cuda else None)
    live_cpu = run_on(tmp_path, "cpu_live", "stopping", "cpu")
    assert process.busy_device(tmp_path, "cpu") == live_cpu
    assert process.busy_device(tmp_path, "auto") == (live_cuda if has_cuda else live_cpu)
    if has_cuda:
        assert process.busy_device(tmp_path, "cuda") == live_cuda


def test_busy_device_resolves_auto_in_the_run_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    auto = run_on(tmp_path, "auto", "starting", "auto")
    assert process.busy_device(tmp_path, "cpu") == auto
    assert process.busy_device(tmp_path / "elsewhere", "cpu") is None
    auto.write_status(RunStatus("finished"))
    no_device = run_on(tmp_path, "no_device", "running", None)  # a config without "device" means auto
    assert process.busy_device(tmp_path, "cpu") == no_device


def test_heartbeat_keeps_an_active_status_fresh_and_leaves_final_ones(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "r", CONFIG)
    with process.Heartbeat(run, interval_s=0.02) as beat:
        beat.update(RunStatus("running", step=3))
        first = run.status()
        assert first.pid == os.getpid() and first.host == socket.gethostname() and first.step == 3
        deadline = time.time() + 10
        while run.status().heartbeat == first.heartbeat:
            assert time.time() < deadline, "the heartbeat thread never wrote"
            time.sleep(0.01)
        assert run.status().step == 3
        beat.update(RunStatus("finished", step=9, pid=1234))
        final = run.status()
        time.sleep(0.1)
        assert run.status() == final and final.pid == 1234
    assert not beat._thread.is_alive()


def test_heartbeat_marks_a_run_failed_when_the_job_raises(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "r", CONFIG)
    with pytest.raises(RuntimeError, match="CUDA out of memory"), process.Heartbeat(run, interval_s=10) as beat:
        beat.update(RunStatus("running", epoch=1, step=7))
        raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB\nmore details")
    status = run.status()
    assert (status.state, status.epoch, status.step) == ("failed", 1, 7)
    assert status.message == "RuntimeError: CUDA out of memory. Tried to allocate 2 GiB"
    done = RunFolder.create(tmp_path / "done", CONFIG)
    with pytest.raises(KeyError), process.Heartbeat(done, interval_s=10) as beat:
        beat.update(RunStatus("finished"))
        raise KeyError("after the end")
    assert done.status().state == "finished"
