"""`python -m camcore download` in-process (main([...])), with torchvision's fetch replaced by local fakes: bytes so
far in the job's status.json, a job folder of its own without --job, exit 0 and a line for a data set already there
or a stopped download, and a failure or a busy folder as one stderr line, exit 2, also in status.json."""
from __future__ import annotations

import fcntl
import os
import threading
import time
import urllib.error
from pathlib import Path

import pytest

from camcore.cli.main import main
from camcore.data import pets
from camcore.jobs import download
from camcore.jobs.runs import RunFolder, list_runs


def test_download_reports_bytes_so_far_then_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake writes part of an archive, then waits until status.json shows those bytes, as the page reads them."""
    job = RunFolder.create(tmp_path / "job", {"kind": "download"})
    seen: list[int] = []

    def fake_fetch(root: Path) -> None:
        archive = root / "oxford-iiit-pet" / "images.tar.gz"
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(b"x" * 123_456)
        deadline = time.time() + 30
        while job.status().step != 123_456:
            assert time.time() < deadline, job.status()
            time.sleep(0.02)
        seen.append(job.status().steps_total)

    monkeypatch.setattr(pets, "_fetch", fake_fetch)
    monkeypatch.setattr(pets, "PROGRESS_EVERY_S", 0.01)
    assert main(["download", "--data", str(tmp_path / "root"), "--job", str(job.path)]) == 0
    status = job.status()
    assert seen == [pets.DOWNLOAD_BYTES] and status.state == "finished" and status.pid == os.getpid()


def test_an_offline_download_fails_with_data_s_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(pets, "OxfordIIITPet", offline)
    assert main(["download", "--data", str(tmp_path / "root")]) == 2
    (job,) = list_runs(tmp_path / "root" / download.JOBS_FOLDER)
    status = job.status()
    assert status.state == "failed"
    assert status.message.startswith("Downloading Oxford-IIIT Pet failed (<urlopen error [Errno -2] Name or service")
    assert status.message.endswith(f"unpack both into {tmp_path / 'root' / 'oxford-iiit-pet'}.")
    assert capsys.readouterr().err == f"camcore: {status.message}\n"


def test_a_data_set_already_there_finishes_at_once_in_a_job_folder_of_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """--data given relative to the working folder: the job's config records it absolute, for the page."""
    monkeypatch.chdir(tmp_path)
    for part in ("images", "annotations"):
        (tmp_path / "root" / "oxford-iiit-pet" / part).mkdir(parents=True)
    monkeypatch.setattr(pets, "_fetch", lambda staging: pytest.fail("fetched a data set that was there"))
    assert main(["download", "--data", "root"]) == 0
    (job,) = list_runs(tmp_path / "root" / ".downloads")
    status = job.status()
    assert (status.state, status.step, status.steps_total) == ("finished", pets.DOWNLOAD_BYTES, pets.DOWNLOAD_BYTES)
    assert job.config()["data_root"] == str(tmp_path.resolve() / "root")
    out = capsys.readouterr().out
    assert out.startswith("Oxford-IIIT Pet is in root/oxford-iiit-pet (") and out.endswith(" s)\n")


def test_a_stopped_download_exits_0_and_says_nothing_was_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    job = RunFolder.create(tmp_path / "job", {"kind": "download"})
    job.request_stop()  # Stop pressed before the fetch got anywhere
    monkeypatch.setattr(pets, "PROGRESS_EVERY_S", 0.01)
    release = threading.Event()
    monkeypatch.setattr(pets, "_fetch", lambda staging: release.wait(30))  # a stalled connection
    try:
        assert main(["download", "--data", str(tmp_path / "root"), "--job", str(job.path)]) == 0
    finally:
        release.set()
    status = job.status()
    assert status.state == "stopped" and status.message == capsys.readouterr().out.strip()
    assert status.message.startswith("Download stopped: nothing of it was kept.")


def test_a_folder_another_process_downloads_into_is_refused_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The other process's hold on ROOT/.download.lock, taken here by hand with flock."""
    root = tmp_path / "root"
    root.mkdir()
    job = RunFolder.create(tmp_path / "job", {"kind": "download"})
    monkeypatch.setattr(pets, "_fetch", lambda staging: pytest.fail("fetched while another download held the lock"))
    with open(root / ".download.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["download", "--data", str(root), "--job", str(job.path)]) == 2
    err = capsys.readouterr().err
    assert err == f"camcore: Oxford-IIIT Pet is already being downloaded into {root} by another process. Wait for it " \
                  "to finish.\n"
    assert job.status().state == "failed" and job.status().message == err.removeprefix("camcore: ").strip()
