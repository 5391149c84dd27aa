"""The download as a job (camcore.jobs.download), with torchvision's fetch replaced by local fakes: one download per
data folder, the page's start that follows a live job, a stop that keeps nothing. The command itself,
`python -m camcore download`, is tests/camcore/cli/test_download.py's."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from camcore.cli.main import main
from camcore.data import pets
from camcore.errors import RunBusy
from camcore.jobs import download, process
from camcore.jobs.runs import RunFolder, RunStatus, list_runs


def test_a_second_download_into_the_same_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inside, release = threading.Event(), threading.Event()
    fetched: list[Path] = []

    def slow_fetch(root: Path) -> None:
        if not inside.is_set():  # the first download waits inside its lock until released
            inside.set()
            assert release.wait(30)
        fetched.append(root)

    monkeypatch.setattr(pets, "_fetch", slow_fetch)
    first = threading.Thread(target=download.download_locked, args=(tmp_path / "pets",))
    first.start()
    try:
        assert inside.wait(30)
        with pytest.raises(RunBusy, match="already being downloaded into"):
            download.download_locked(tmp_path / "pets")
        download.download_locked(tmp_path / "other")  # another data folder is free
    finally:
        release.set()
        first.join()
    download.download_locked(tmp_path / "pets")  # released once the first has ended
    assert fetched == [tmp_path / folder / pets.STAGING for folder in ("other", "pets", "pets")]


def test_start_follows_a_live_download_and_replaces_an_ended_one(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(process, "start", lambda argv, run: started.append(list(argv)) or 1)
    root = tmp_path / "root"
    failed = RunFolder.create(root / download.JOBS_FOLDER / "failed", {"kind": "download"})
    failed.write_status(RunStatus("failed", message="offline"))
    job = download.start_download(root)
    assert started == [["download", "--data", str(root.resolve()), "--job", str(job.path)]]
    assert list_runs(root / download.JOBS_FOLDER) == [job] == [download.latest_download(root)]
    job.write_status(RunStatus("running", step=5, pid=os.getpid(), heartbeat=time.time()))
    assert download.start_download(root) == job and len(started) == 1


def test_a_stopped_download_keeps_nothing_and_frees_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake source unpacks half of images/ and asks the job to stop (the page's Stop button writes the same
    file), then hangs as a stalled connection would: the job reports "stopped", nothing is left in ROOT, and a
    new download takes the lock and moves its complete folders into place."""
    root, release = tmp_path / "root", threading.Event()
    job = RunFolder.create(tmp_path / "job", {"kind": "download"})

    def stalled(staging: Path) -> None:
        base = staging / "oxford-iiit-pet"
        (base / "images").mkdir(parents=True)
        (base / "images.tar.gz").write_bytes(b"x" * 1000)
        (base / "images" / "Abyssinian_1.jpg").write_bytes(b"half")
        job.request_stop()
        release.wait(30)

    def complete(staging: Path) -> None:
        for part in ("images", "annotations"):
            (staging / "oxford-iiit-pet" / part).mkdir(parents=True)
        (staging / "oxford-iiit-pet" / "annotations" / "list.txt").write_text("complete")

    monkeypatch.setattr(pets, "PROGRESS_EVERY_S", 0.01)
    monkeypatch.setattr(pets, "_fetch", stalled)
    try:
        assert main(["download", "--data", str(root), "--job", str(job.path)]) == 0
        status = job.status()
        assert status.state == "stopped" and status.message.startswith("Download stopped: nothing of it was kept.")
        assert sorted(path.name for path in root.iterdir()) == [download.LOCK_FILE]
        monkeypatch.setattr(pets, "_fetch", complete)
        assert download.download_locked(root)
    finally:
        release.set()
    assert (root / "oxford-iiit-pet" / "annotations" / "list.txt").read_text() == "complete"
    assert sorted(path.name for path in root.iterdir()) == [download.LOCK_FILE, "oxford-iiit-pet"]
