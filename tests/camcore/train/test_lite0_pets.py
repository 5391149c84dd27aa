"""The lesson's fine-tuning for real: the packaged ImageNet Lite0 on the mini Oxford-IIIT Pet of ../shared/data."""
from __future__ import annotations

import time

import pytest

from camcore.jobs.runs import RunFolder
from tests.camcore.train.helpers import run


@pytest.mark.shared_data
def test_lite0_learns_cats_and_dogs_in_one_epoch(pets_root, tmp_path) -> None:
    """lr 1e-3, not the lesson's 1e-5: this subset has a tenth of the lesson's steps (../shared/NOTES.md). Its
    wall time is printed, not judged: a busy machine doubles it (docs/speed.md has the epoch's timing)."""
    out = tmp_path / "lite0"
    start = time.monotonic()
    done = run(["train", "--data", str(pets_root.parent), "--arch", "lite0", "--task", "binary", "--epochs", "1",
                "--image-size", "224", "--batch-size", "32", "--lr", "1e-3", "--device", "cpu", "--out", str(out)],
               timeout_s=300)
    elapsed_s = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-3000:]
    status = RunFolder(out).status()
    assert status.state == "finished" and status.test_accuracy >= 0.90
    print(f"one epoch of Lite0 on the mini set: {elapsed_s:.0f} s, test accuracy {status.test_accuracy:.3f}")
