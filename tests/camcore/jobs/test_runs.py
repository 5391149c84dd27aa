"""camcore.jobs.runs: the run folder's files round-trip, survive concurrent readers and crashes, and live_status
reports dead runs as failed."""
from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from camcore import settings
from camcore.errors import DataNotFound, RunBusy, RunExists
from camcore.jobs.runs import HEARTBEAT_TIMEOUT_S, RunFolder, RunStatus, delete_run, list_runs, pid_alive

CONFIG = {"data_root": "pets", "task": "binary", "epochs": 3, "device": "cpu"}


def make_run(root: Path, name: str, state: str, *, pid: int | None = None, heartbeat: float | None = None,
             config: dict | None = None) -> RunFolder:
    """A run folder whose status is `state` (pid defaults to this live test process, heartbeat to now)."""
    run = RunFolder.create(root / name, config or CONFIG)
    run.write_status(RunStatus(state, pid=os.getpid() if pid is None else pid,
                               heartbeat=time.time() if heartbeat is None else heartbeat))
    return run


def exited_pid() -> int:
    """The pid of a process that has exited and been waited for."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def proc_state(pid: int) -> str:
    """The one-letter state in /proc/PID/stat, read independently of pid_alive."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_runs_root_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(settings.RUNS_ENV, str(tmp_path / "elsewhere"))
    assert settings.runs_root() == tmp_path / "elsewhere"
    monkeypatch.delenv(settings.RUNS_ENV)
    assert settings.runs_root() == Path("runs")


def test_status_round_trips_and_rejects_unknown_states() -> None:
    status = RunStatus("running", epoch=2, epochs=3, step=40, steps_total=60, images_per_s=12.5, eta_s=8.0,
                       pid=123, heartbeat=1.5, message="hi", test_accuracy=0.75)
    assert RunStatus.from_dict(json.loads(json.dumps(status.to_dict()))) == status
    assert RunStatus.from_dict({"state": "finished", "from_a_newer_app": 1}) == RunStatus("finished")
    with pytest.raises(ValueError, match="Valid: queued, starting"):
        RunStatus("crashed")


def test_create_writes_config_and_a_fresh_starting_status_and_refuses_an_existing_run(tmp_path: Path) -> None:
    before = time.time()
    run = RunFolder.create(tmp_path / "r1", CONFIG)
    assert run.name == "r1"
    assert run.config() == CONFIG
    assert json.loads((run.path / "config.json").read_text()) == CONFIG
    status = run.status()
    assert status.state == "starting" and before <= status.heartbeat <= time.time()
    assert run.live_status().state == "starting"  # fresh heartbeat, no pid yet: not a dead run
    with pytest.raises(RunExists):
        RunFolder.create(tmp_path / "r1", {"other": 1})
    assert run.config() == CONFIG


def test_status_is_never_torn_for_a_concurrent_reader(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "r", CONFIG)
    big = [RunStatus("running", step=i, message=str(i) * 50_000) for i in range(2)]
    done = threading.Event()

    def writer() -> None:
        for i in range(300):
            run.write_status(big[i % 2])
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    while not done.is_set():
        raw = (run.path / "status.json").read_text()  # raw read: status() would hide a torn file
        assert RunStatus.from_dict(json.loads(raw)) in big or json.loads(raw)["state"] == "starting"
        reads += 1
    thread.join()
    assert reads > 10
    assert run.status() == big[1]
    assert sorted(p.name for p in run.path.iterdir()) == ["config.json", "status.json"]  # no temp files left


def test_missing_or_torn_status_reads_as_starting(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert run.status() == RunStatus("starting")
    (tmp_path / "status.json").write_text('{"state": "runn')
    assert run.status() == RunStatus("starting")


def test_metrics_are_appended_and_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "r", CONFIG)
    records = [{"kind": "step", "epoch": 1, "step": i, "loss": 1.0 / (i + 1), "time": 1e9 + i} for i in range(5)]
    for record in records:
        run.append_metrics(record)
        assert json.loads((run.path / "metrics.jsonl").read_text().splitlines()[-1]) == record  # on disk already
    assert run.metrics() == records
    with open(run.path / "metrics.jsonl", "a") as handle:  # a crash halfway through a line
        handle.write(json.dumps(records[0])[:17])
    lines = (run.path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines[:-1]] == records
    assert run.metrics() == records
    after = {"kind": "epoch", "epoch": 1, "step": 5, "test_accuracy": 0.5}
    run.append_metrics(after)  # the resumed run's next line must not be glued onto the torn one
    assert run.metrics() == [*records, after]


def test_metrics_of_a_new_run_are_empty(tmp_path: Path) -> None:
    assert RunFolder.create(tmp_path / "r", CONFIG).metrics() == []


def test_pid_alive_for_live_exited_and_zombie_processes() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(exited_pid())
    assert not pid_alive(0) and not pid_alive(-1)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.time() + 20
        while proc_state(zombie.pid) != "Z":  # exited, but nobody has waited for it
            assert time.time() < deadline
            time.sleep(0.02)
        assert not pid_alive(zombie.pid)
    finally:
        zombie.wait()


def test_live_status_keeps_a_live_fresh_run_and_final_states(tmp_path: Path) -> None:
    live = make_run(tmp_path, "live", "running")
    assert live.live_status() == live.status()
    dead = exited_pid()
    for state in ("finished", "stopped", "failed"):
        run = make_run(tmp_path, state, state, pid=dead, heartbeat=0.0)
        assert run.live_status() == run.status()


@pytest.mark.parametrize("state", ["starting", "running", "stopping"])
def test_live_status_reports_an_exited_process_as_failed(tmp_path: Path, state: str) -> None:
    pid = exited_pid()
    run = make_run(tmp_path, "r", state, pid=pid)
    status = run.live_status()
    assert status.state == "failed"
    assert f"pid {pid}" in status.message and "ended" in status.message
    assert run.status().state == state  # reported, not rewritten: the folder stays as the process left it


def test_live_status_reports_a_zombie_as_failed(tmp_path: Path) -> None:
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.time() + 20
        while proc_state(zombie.pid) != "Z":
            assert time.time() < deadline
            time.sleep(0.02)
        assert make_run(tmp_path, "r", "running", pid=zombie.pid).live_status().state == "failed"
    finally:
        zombie.wait()


def test_live_status_reports_a_stale_heartbeat_as_failed(tmp_path: Path) -> None:
    now = 1_000_000.0
    run = make_run(tmp_path, "r", "running", heartbeat=now - HEARTBEAT_TIMEOUT_S - 1)
    status = run.live_status(now=now)
    assert status.state == "failed" and "heartbeat" in status.message
    assert run.live_status(now=now - 2).state == "running"  # 29 s old: still fine


def test_a_run_of_another_machine_is_judged_by_its_heartbeat_not_its_pid(tmp_path: Path) -> None:
    """Replicas on two machines share the runs folder: the other machine's pid may not exist here, or be another
    process; its fresh heartbeat keeps it live, a stale one does not, and here the same pid would read failed."""
    dead = exited_pid()
    there = make_run(tmp_path, "there", "running", pid=dead)
    there.write_status(dataclasses.replace(there.status(), host=f"not-{socket.gethostname()}"))
    assert there.live_status().state == "running"
    assert there.live_status(now=time.time() + HEARTBEAT_TIMEOUT_S + 1).state == "failed"
    here = make_run(tmp_path, "here", "running", pid=dead)
    here.write_status(dataclasses.replace(here.status(), host=socket.gethostname()))
    assert here.live_status().state == "failed"


def test_list_runs_newest_first_ignoring_non_runs(tmp_path: Path) -> None:
    assert list_runs(tmp_path / "missing") == []
    for name, mtime in [("b", 3_000), ("a", 1_000), ("c", 2_000)]:
        run = RunFolder.create(tmp_path / name, CONFIG)
        os.utime(run.path / "config.json", (mtime, mtime))
    (tmp_path / "not_a_run").mkdir()
    (tmp_path / "not_a_run" / "status.json").write_text("{}")
    (tmp_path / "loose_file.txt").write_text("x")
    assert [run.name for run in list_runs(tmp_path)] == ["b", "c", "a"]


def test_delete_run_refuses_a_live_run_and_removes_a_finished_one(tmp_path: Path) -> None:
    live = make_run(tmp_path, "live", "running")
    with pytest.raises(RunBusy, match="live is running"):
        delete_run(live)
    assert live.config() == CONFIG
    finished = make_run(tmp_path, "done", "finished", pid=exited_pid())
    finished.append_metrics({"kind": "step"})
    (finished.path / "probes").mkdir()
    (finished.path / "probes" / "epoch_000.npz").write_bytes(b"x")
    delete_run(finished)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live"]  # nothing left behind, no hidden remains
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataNotFound):
        delete_run(RunFolder(tmp_path / "plain"))
    assert (tmp_path / "plain").is_dir()


def test_delete_run_removes_a_run_whose_process_died(tmp_path: Path) -> None:
    crashed = make_run(tmp_path, "crashed", "running", pid=exited_pid())
    delete_run(crashed)
    assert not crashed.path.exists()


def test_stop_request_round_trip(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "r", CONFIG)
    assert not run.stop_requested()
    run.request_stop()
    assert run.stop_requested() and (run.path / "stop").exists()
    run.clear_stop()
    assert not run.stop_requested()
    run.clear_stop()  # twice is fine


def test_checkpoint_paths(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert run.checkpoint("last") == tmp_path / "last.pt"
    assert run.checkpoint("best") == tmp_path / "best.pt"
    assert run.checkpoint("start") == tmp_path / "start.pt"
    assert run.resume_file == tmp_path / "resume.pt"
    with pytest.raises(ValueError, match="Valid: start, last, best"):
        run.checkpoint("final")


def test_probes_round_trip_exactly(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "r", CONFIG)
    rng = np.random.default_rng(0)
    arrays = {"names": np.array(["Abyssinian_1", "pug_12"]), "labels": np.array([0, 1]),
              "maps": rng.standard_normal((2, 7, 7)).astype(np.float32), "predicted": np.array([1, 1]),
              "probability": np.array([0.5123, 0.9], dtype=np.float32), "class_names": np.array(["cat", "dog"])}
    for epoch in (12, 0, 2):
        run.write_probes(epoch, **{**arrays, "maps": arrays["maps"] + epoch})
    assert run.probe_epochs() == [0, 2, 12]
    loaded = run.probes(2)
    assert sorted(loaded) == sorted(arrays)
    for key, value in arrays.items():
        expected = value + 2 if key == "maps" else value
        assert loaded[key].dtype == expected.dtype and np.array_equal(loaded[key], expected), key
    assert (run.path / "probes" / "epoch_012.npz").is_file()
    with pytest.raises(DataNotFound):
        run.probes(5)
    with pytest.raises(TypeError, match="dtype object"):
        run.write_probes(3, names=np.array(["a", None], dtype=object))
    assert run.probe_epochs() == [0, 2, 12]


def test_confusion_round_trip(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "r", CONFIG)
    assert run.confusion(1) is None
    run.write_confusion(1, ["cat", "dog"], [[5, 1], [0, 7]])
    assert run.confusion(1) == {"labels": ["cat", "dog"], "matrix": [[5, 1], [0, 7]]}
    assert json.loads((run.path / "confusion" / "epoch_001.json").read_text())["matrix"] == [[5, 1], [0, 7]]
    assert run.confusion_epochs() == [1]
    with pytest.raises(ValueError, match="2x2"):
        run.write_confusion(2, ["cat", "dog"], [[5, 1, 0], [0, 7, 0]])


def test_log_tail_returns_the_last_lines(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert run.log_tail() == ""
    (tmp_path / "log.txt").write_text("".join(f"line {i}\n" for i in range(100)))
    assert run.log_tail() == "\n".join(f"line {i}" for i in range(60, 100))
    assert run.log_tail(3) == "line 97\nline 98\nline 99"
    with open(tmp_path / "log.txt", "a") as handle:  # tqdm redraws its bar with carriage returns
        handle.write("epoch 1:  10%|#\repoch 1:  50%|#####\repoch 1: 100%|##########\n")
    assert run.log_tail(2) == "line 99\nepoch 1: 100%|##########"


def test_log_tail_of_a_large_log_reads_its_end(tmp_path: Path) -> None:
    lines = [f"{i:07d} " + "x" * 90 for i in range(20_000)]  # about 2 MB
    (tmp_path / "log.txt").write_text("\n".join(lines) + "\n")
    assert RunFolder(tmp_path).log_tail(5) == "\n".join(lines[-5:])
