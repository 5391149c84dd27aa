"""`python -m camcore train` end to end, as a subprocess on the tiny generated pets: the run folder, stop and
resume, a SIGKILL mid-epoch, and two gloo processes against one; and in-process, the refusals that come before any
training (a resume of what is no run, of a run that trains, with new probe photos) and the probe photos gathered."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from camcore.cli.main import main
from camcore.cli.train import _probe_photos
from camcore.errors import DataNotFound
from camcore.explain import explain
from camcore.jobs.runs import RunFolder, RunStatus
from camcore.models.checkpoints import load_checkpoint
from camcore.models.loading import load_model
from camcore.options import MapOptions
from tests.camcore.train.helpers import (
    REPO,
    TINY,
    env,
    free_port,
    metric_lines,
    run,
    start_slow,
    train_args,
    wait_for,
)
from tests.conftest import make_photo

STEP_KEYS = {"kind", "epoch", "step", "loss", "accuracy", "lr", "images_per_s", "time"}
EPOCH_KEYS = {"kind", "epoch", "step", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "time"}


def steps_after_resumes(lines: list[dict]) -> list[int]:
    """The step curve as a reader should draw it: a "resume" record drops the earlier lines past its step."""
    steps: list[int] = []
    for line in lines:
        if line["kind"] == "resume":
            steps = [step for step in steps if step <= line["step"]]
        elif line["kind"] == "step":
            steps.append(line["step"])
    return steps


def test_one_epoch_writes_every_file_and_explains(tiny_pets, resnet18_weights, tmp_path) -> None:
    out = tmp_path / "run"
    done = run(train_args(tiny_pets, resnet18_weights, "--epochs", "1", "--out", str(out)))
    assert done.returncode == 0, done.stderr[-3000:]
    folder = RunFolder(out)
    for name in ("config.json", "status.json", "metrics.jsonl", "start.pt", "last.pt", "best.pt", "resume.pt",
                 "probes/epoch_000.npz", "probes/epoch_001.npz", "confusion/epoch_001.json"):
        assert (out / name).is_file(), name
    status = folder.status()
    assert (status.state, status.step, status.steps_total, status.epoch) == ("finished", 3, 3, 1)
    lines = metric_lines(out)
    assert [line["step"] for line in lines if line["kind"] == "step"] == [1, 2, 3]
    assert all(set(line) == STEP_KEYS for line in lines if line["kind"] == "step")
    (epoch,) = [line for line in lines if line["kind"] == "epoch"]
    assert set(epoch) == EPOCH_KEYS and 0 <= epoch["test_accuracy"] <= 1
    confusion = folder.confusion(1)
    assert confusion["labels"] == ["cat", "dog"] and np.sum(confusion["matrix"]) == 6  # the 6 test photos
    assert np.trace(confusion["matrix"]) / 6 == pytest.approx(epoch["test_accuracy"])
    probes = folder.probes(1)
    assert sorted(probes["labels"].tolist()) == [0, 0, 1, 1] and probes["maps"].shape == (4, 2, 2)
    assert probes["maps"].dtype == np.float32 and list(probes["class_names"]) == ["cat", "dog"]
    assert len(list((out / "probes" / "images").glob("*.jpg"))) == 4
    assert not np.allclose(folder.probes(0)["maps"], probes["maps"])  # the weights moved
    model = load_model(str(out / "best.pt"), device="cpu")
    assert model.binary and model.class_names == ("cat", "dog") and model.training_summary["step"] == 3
    (explanation,) = explain([make_photo()], model, MapOptions(top_k=2))
    assert {p.class_name for p in explanation.predictions} == {"cat", "dog"}
    assert json.loads((out / "config.json").read_text())["image_size_px"] == 64
    start, best = load_checkpoint(out / "start.pt"), load_checkpoint(out / "best.pt")
    assert start.training["step"] == 0 and start.class_names == best.class_names  # the model before training
    assert not torch.equal(start.state_dict["fc.weight"], best.state_dict["fc.weight"])


def test_tap_pooling_trains_into_a_checkpoint_that_loads_with_tap(tiny_pets, resnet18_weights, tmp_path) -> None:
    """--pooling tap:0.2: the run's config and its checkpoint say so, the loaded model's head pools with TAP (its
    own forward equals Linear(TAP(features))), and a bad pooling is one line, exit 2."""
    out = tmp_path / "run"
    done = run(train_args(tiny_pets, resnet18_weights, "--epochs", "1", "--pooling", "tap:0.2", "--out", str(out)))
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "config.json").read_text())["pooling"] == "tap:0.2"
    assert load_checkpoint(out / "best.pt").pooling == "tap:0.2"
    model = load_model(str(out / "best.pt"), device="cpu")
    assert model.cam is not None and model.cam.pooling == "tap:0.2"
    (explanation,) = explain([make_photo()], model, MapOptions(top_k=2))
    assert explanation.pooling == "tap:0.2"
    bad = run(train_args(tiny_pets, resnet18_weights, "--pooling", "tap:2", "--out", str(tmp_path / "bad")))
    assert bad.returncode == 2 and "Unknown pooling 'tap:2'" in bad.stderr


def test_bad_data_fails_the_run_with_its_message(tmp_path, resnet18_weights) -> None:
    out = tmp_path / "run"
    done = run(train_args(tmp_path / "nowhere", resnet18_weights, "--out", str(out)))
    assert done.returncode == 2 and "Oxford-IIIT Pet not found" in done.stderr
    status = RunFolder(out).status()
    assert status.state == "failed" and "Oxford-IIIT Pet not found" in status.message
    again = run(train_args(tmp_path / "nowhere", resnet18_weights, "--out", str(out)))
    assert again.returncode == 2 and "already holds a run" in again.stderr


def test_stop_then_resume_continues_steps_and_curves(tiny_pets, resnet18_weights, tmp_path) -> None:
    out = tmp_path / "run"
    process = start_slow(train_args(tiny_pets, resnet18_weights, "--epochs", "2", "--out", str(out)), 0.5)
    folder = RunFolder(out)
    wait_for(lambda: (out / "metrics.jsonl").exists() and len(folder.metrics()) >= 2)
    folder.request_stop()
    assert process.wait(timeout=60) == 0, process.stdout.read()
    stopped = folder.status()
    assert stopped.state == "stopped" and 2 <= stopped.step < 6
    assert folder.checkpoint("last").is_file() and folder.resume_file.is_file()
    done = run(["train", "--resume", str(out)])
    assert done.returncode == 0, done.stderr[-3000:]
    lines = metric_lines(out)
    steps = [line["step"] for line in lines if line["kind"] == "step"]
    assert steps == list(range(1, 7))  # strictly increasing across the resume, none lost or repeated
    assert [line["epoch"] for line in lines if line["kind"] == "epoch"] == [1, 2]
    assert folder.status().state == "finished" and not folder.stop_requested()
    assert load_model(str(folder.checkpoint("last")), device="cpu").training_summary["step"] == 6


def test_sigkill_mid_epoch_is_failed_and_resumes(tiny_pets, resnet18_weights, tmp_path) -> None:
    out = tmp_path / "run"
    process = start_slow(train_args(tiny_pets, resnet18_weights, "--epochs", "2", "--out", str(out)), 0.7)
    folder = RunFolder(out)
    wait_for(lambda: (out / "metrics.jsonl").exists()
             and any(line.get("epoch") == 2 and line["kind"] == "step" for line in folder.metrics()))
    assert folder.live_status().state == "running"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    live = folder.live_status()
    assert live.state == "failed" and "ended without saying so" in live.message
    killed_lines = metric_lines(out)  # every line parses
    assert any(line["kind"] == "epoch" for line in killed_lines)
    done = run(["train", "--resume", str(out)])
    assert done.returncode == 0, done.stderr[-3000:]
    lines = metric_lines(out)
    resume = next(line for line in lines if line["kind"] == "resume")
    assert (resume["epoch"], resume["step"]) == (2, 3)  # from last.pt/resume.pt of epoch 1
    after = lines[lines.index(resume) + 1]
    assert (after["kind"], after["step"]) == ("step", 4)
    assert steps_after_resumes(lines) == list(range(1, 7))
    assert folder.status().state == "finished"


def test_two_gloo_processes_match_one(tiny_pets, resnet18_weights, tmp_path) -> None:
    """A frozen backbone keeps BatchNorm in eval mode, so each image's gradient is independent of the batch it
    shares: two ranks' averaged gradients then equal one process's on the whole batch, up to float sums. (With
    the whole network training, each rank's BatchNorm normalises by its own half batch, so results differ
    slightly, as in any DDP run without SyncBatchNorm.)"""
    args = ("--epochs", "2", "--freeze-backbone", "--batch-size", "5")  # last batch: 1 image, none for rank 1
    one = run(train_args(tiny_pets, resnet18_weights, *args, "--out", str(tmp_path / "one")), OMP_NUM_THREADS="1")
    assert one.returncode == 0, one.stderr[-3000:]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(free_port()), "-m", "camcore",
               *train_args(tiny_pets, resnet18_weights, *args, "--out", str(tmp_path / "two"))]
    two = subprocess.run(command, cwd=REPO, env=env(MASTER_ADDR="127.0.0.1"), capture_output=True, text=True,
                         timeout=180)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("finished:") == 1  # rank 0 alone reports and writes
    single, double = metric_lines(tmp_path / "one"), metric_lines(tmp_path / "two")
    assert [line["kind"] for line in double] == [line["kind"] for line in single]
    assert [line["step"] for line in double if line["kind"] == "step"] == [1, 2, 3, 4]
    for a, b in zip(single, double):
        for key in ("loss", "accuracy", "train_loss", "train_accuracy", "test_loss", "test_accuracy"):
            if key in a:
                assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), key
    assert RunFolder(tmp_path / "two").status().state == "finished"
    assert RunFolder(tmp_path / "two").probe_epochs() == [0, 1, 2]


def test_swin_fine_tunes_at_its_own_size_into_an_exact_cam_checkpoint(tiny_pets, tmp_path) -> None:
    """Swin-T (random weights) trains at 224 px, the size it was built for, and its checkpoint keeps exact CAM at
    `norm`; at another size the run is refused in one line before any work."""
    import timm

    weights = tmp_path / "swin.pth"
    torch.manual_seed(0)
    torch.save(timm.create_model("swin_tiny_patch4_window7_224", pretrained=False).state_dict(), weights)
    swin = ["train", "--data", str(tiny_pets), "--arch", "swin_tiny", "--weights", str(weights), *TINY, "--epochs", "1",
            "--limit", "2", "--probes", "1"]  # one step and one probe: Swin-T at 224 px costs seconds a photo here
    refused = run([*swin, "--out", str(tmp_path / "small")])  # TINY's 64 px
    assert refused.returncode == 2 and "224x224 inputs only" in refused.stderr
    out = tmp_path / "run"
    done = run([*swin, "--image-size", "224", "--out", str(out)], timeout_s=300)
    assert done.returncode == 0, done.stderr[-3000:]
    model = load_model(str(out / "best.pt"), device="cpu")
    assert model.cam is not None and model.default_layer == "norm" and model.preprocessing.fixed_size == (224, 224)
    (explanation,) = explain([make_photo()], model, MapOptions(top_k=2))
    assert explanation.maps.shape == (2, 7, 7) and explanation.squashed


def _stderr(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err.strip()


def test_resuming_what_is_no_run_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "photos").mkdir()
    assert main(["train", "--resume", str(tmp_path / "photos")]) == 2
    assert _stderr(capsys) == f"camcore: {tmp_path / 'photos'} is not a run folder (no config.json)."
    assert not any((tmp_path / "photos").iterdir())  # refused before anything is written there


def test_resuming_a_run_that_trains_in_a_live_process_is_refused(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """This test's own process stands for the live trainer; the run is left as it was."""
    run = RunFolder.create(tmp_path / "run", {"kind": "train"})
    run.write_status(RunStatus("running", step=2, pid=os.getpid(), heartbeat=time.time()))
    assert main(["train", "--resume", str(run.path)]) == 2
    assert _stderr(capsys) == f"camcore: Run {run.name} is running in process {os.getpid()}. Stop it first."
    assert run.status().state == "running" and run.status().step == 2


def test_new_probe_photos_need_a_new_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = RunFolder.create(tmp_path / "run", {"kind": "train"})
    (tmp_path / "cat.jpg").write_bytes(b"")
    assert main(["train", "--resume", str(run.path), "--probe-images", str(tmp_path / "cat.jpg")]) == 2
    assert _stderr(capsys) == ("camcore: --probe-images needs --out: a run keeps the probe photos it was started "
                               "with.")


def test_probe_photos_are_the_files_named_and_the_images_of_each_folder_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, data in (("b.png", b"B"), ("A.JPG", b"A"), ("notes.txt", b"text"), ("c.webp", b"C")):
        (folder / name).write_bytes(data)
    (tmp_path / "single.heic").write_bytes(b"S")  # named: taken as it is (checked_uploads says if it decodes)
    found = _probe_photos([tmp_path / "single.heic", folder])
    assert found == [("single.heic", b"S"), ("A.JPG", b"A"), ("b.png", b"B"), ("c.webp", b"C")]
    with pytest.raises(DataNotFound, match=r"nowhere\.jpg: no such file or folder\. Check --probe-images\.$"):
        _probe_photos([tmp_path / "nowhere.jpg"])
