"""ui.training.view: a live run's view polls its folder and shows epoch, step, speed and ETA with Stop for its
manager only; an ended run is drawn once; a deleted one says so; the runs table has one row per run still there."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from camcore.jobs.runs import RunFolder, RunStatus
from camcore.train.config import TrainConfig
from ui.common.job_progress import REFRESH_S
from ui.common.text import read_back
from ui.training import rights

LIVE = RunStatus("running", epoch=1, epochs=3, step=5, steps_total=20, images_per_s=12.5, eta_s=75)


def made_run(root: Path, name: str, status: RunStatus) -> RunFolder:
    run = RunFolder.create(root / name, TrainConfig(data_root=str(root), epochs=3).to_dict())
    run.write_status(status)
    return run


def live(status: RunStatus = LIVE) -> RunStatus:
    """`status` as a process alive now writes it: this one's pid, a fresh heartbeat."""
    return RunStatus(**{**status.to_dict(), "pid": os.getpid(), "heartbeat": time.time()})


def live_view_script(root: str, path: str, manage: bool) -> None:
    """AppTest runs this function's source as a script of its own: it imports what it uses."""
    from pathlib import Path

    from camcore.jobs.runs import RunFolder
    from ui.training.view import live_view

    live_view(Path(root), RunFolder(Path(path)), manage=manage)


def live_view_app(run: RunFolder, manage: bool = True) -> AppTest:
    return AppTest.from_function(live_view_script, args=(str(run.path.parent), str(run.path), manage)).run()


def test_a_live_run_polls_and_shows_its_progress_and_stop(tmp_path: Path, polls: list) -> None:
    run = made_run(tmp_path, "live-run", live())
    at = live_view_app(run)
    assert not at.exception and not at.error
    assert polls == [REFRESH_S]
    [bar] = at.get("progress")
    assert bar.proto.value == 25
    assert bar.proto.text == "epoch 1/3 · step 5/20 · 12.5 images/s · ETA 0:01:15"
    assert "**live-run**: running" in [read_back(m.value) for m in at.markdown]
    at.button(key="training.stop.live-run").click().run()
    assert run.stop_requested()


def test_another_browsers_run_shows_no_stop(tmp_path: Path) -> None:
    run = made_run(tmp_path, "theirs", live())
    at = live_view_app(run, manage=False)
    assert not at.exception
    assert not [button for button in at.button if button.key == "training.stop.theirs"]
    assert rights.NOT_YOURS in [read_back(caption.value) for caption in at.caption]


def test_an_ended_run_is_drawn_once_without_a_stale_eta(tmp_path: Path, polls: list) -> None:
    run = made_run(tmp_path, "ended", RunStatus(**{**LIVE.to_dict(), "state": "stopped", "message": "Stopped."}))
    at = live_view_app(run)
    assert not at.exception
    assert polls == [None]
    assert at.get("progress")[0].proto.text == "epoch 1/3 · step 5/20 · 12.5 images/s"
    assert "**ended**: stopped · Stopped." in [read_back(m.value) for m in at.markdown]
    assert not [button for button in at.button if button.key == "training.stop.ended"]


def test_a_deleted_run_says_so(tmp_path: Path) -> None:
    run = made_run(tmp_path, "gone", RunStatus("finished"))
    shutil.rmtree(run.path)
    at = live_view_app(run)
    assert not at.exception
    assert [read_back(info.value) for info in at.info] == ["Run gone has been deleted."]


def runs_table_script(root: str) -> None:
    import shutil
    from pathlib import Path

    from camcore.jobs.runs import list_runs
    from ui.training.view import runs_table

    runs = list_runs(Path(root))
    shutil.rmtree(Path(root) / "a-first")  # deleted since the page listed it
    runs_table(runs)


def test_the_runs_table_has_a_row_per_run_still_there(tmp_path: Path) -> None:
    made_run(tmp_path, "a-first", RunStatus("failed"))
    made_run(tmp_path, "b-second", RunStatus("finished", epoch=3))
    at = AppTest.from_function(runs_table_script, args=(str(tmp_path),)).run()
    assert not at.exception
    [table] = at.dataframe
    assert table.value["run"].tolist() == ["b-second"]
    assert table.value["state"].tolist() == ["finished"] and table.value["epochs"].tolist() == ["3/3"]
