"""The Training page in AppTest: a finished run read back from its folder (curves, confusion matrix, probe CAMs
with their epoch slider, the runs table), a running one (progress and Stop), and trained checkpoints offered on the
Explain page. tests/browser/test_training.py starts a run from the page in a real browser."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from camcore import settings
from camcore.jobs.runs import RunFolder, RunStatus
from camcore.settings import RUNS_ENV
from camcore.train.config import TrainConfig
from tests.camcore.train.helpers import run, train_args
from tests.conftest import make_photo
from ui.common import job_progress
from ui.common.text import read_back
from ui.training import rights as training_rights

ROOT = Path(__file__).resolve().parents[2]
TRAINING, EXPLAIN = str(ROOT / "app_pages" / "3_Training.py"), str(ROOT / "app_pages" / "1_Explain.py")
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def finished_run(tiny_pets: Path, resnet18_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """Two epochs of `python -m camcore train` on the tiny pets, in a runs folder of its own, with two photos of
    the user's own as probes beside four test photos."""
    photos = tmp_path_factory.mktemp("photos")
    for seed in (1, 2):
        make_photo(90, 60 + 20 * seed, seed=seed).save(photos / f"mine{seed}.png")
    folder = tmp_path_factory.mktemp("runs") / "tiny-run"
    done = run(train_args(tiny_pets, resnet18_weights, "--epochs", "2", "--probe-images", str(photos),
                          "--out", str(folder)))
    assert done.returncode == 0, done.stderr[-2000:]
    return RunFolder(folder)


def launched_into(started: list[TrainConfig]) -> Callable[[list[str], RunFolder], int]:
    """A stand-in for the trainer's launch: records the run's config; the run then reads as starting, as it does
    once its process is launched."""
    def start(argv: list[str], run: RunFolder) -> int:
        started.append(TrainConfig.from_dict(run.config()))
        run.write_status(RunStatus("starting", pid=os.getpid(), heartbeat=time.time()))
        return os.getpid()
    return start


def training_page(monkeypatch: pytest.MonkeyPatch, runs_root: Path) -> AppTest:
    monkeypatch.setenv(RUNS_ENV, str(runs_root))
    return AppTest.from_file(TRAINING, default_timeout=TIMEOUT_S).run()


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_a_finished_run_shows_its_curves_confusion_and_probe_cams(finished_run: RunFolder, polls: list,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    at = training_page(monkeypatch, finished_run.path.parent)
    assert not at.exception and not at.error
    assert polls == [None]  # drawn once: nothing runs, so nothing to poll
    assert at.selectbox(key="training.run").value == finished_run.name
    specs = chart_specs(at)
    epochs_on_disk = sorted(int(path.stem.split("_")[1]) for path in (finished_run.path / "probes").glob("*.npz"))
    assert epochs_on_disk == [0, 1, 2]
    [probes] = [spec for spec in specs if spec["layout"].get("sliders")]
    assert [step["label"] for step in probes["layout"]["sliders"][0]["steps"]] == ["0", "1", "2"]
    heatmaps = [trace for trace in probes["data"] if trace["type"] == "heatmap"]
    assert len(heatmaps) == (4 + 2) * 3  # 4 test photos and 2 of the user's, a map after each of epochs 0, 1, 2
    titles = [title["text"] for title in probes["layout"]["annotations"]]
    assert [title.endswith("(your photo)") for title in titles] == [False] * 4 + [True] * 2
    curves = next(spec for spec in specs if any(t.get("name", "").endswith("test per epoch") for t in spec["data"]))
    test_accuracy = next(t for t in curves["data"] if t["name"] == f"{finished_run.name}: test per epoch"
                         and t["xaxis"] == "x2")
    expected = [m["test_accuracy"] for m in finished_run.metrics() if m["kind"] == "epoch"]
    assert test_accuracy["y"] == pytest.approx(expected)
    assert any(spec["data"][0].get("texttemplate") == "%{z}" for spec in specs)  # the confusion matrix
    assert "finished" in "\n".join(read_back(m.value) for m in at.markdown)


def test_a_running_run_shows_progress_and_can_be_stopped(tmp_path: Path, polls: list,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose process is alive (this one) with a fresh heartbeat: progress with images/s and ETA, and Stop;
    its view polls the folder every job_progress.REFRESH_S seconds."""
    live = RunFolder.create(tmp_path / "live-run", TrainConfig(data_root=str(tmp_path)).to_dict())
    live.write_status(RunStatus(state="running", epoch=1, epochs=3, step=5, steps_total=20, images_per_s=12.5,
                                eta_s=75, pid=os.getpid(), heartbeat=time.time()))
    monkeypatch.setenv(settings.RUN_ADMIN_ENV, "1")  # a run found on disk: Stop needs the operator's switch
    at = training_page(monkeypatch, tmp_path)
    assert not at.exception
    [bar] = at.get("progress")
    assert bar.proto.value == 25  # 5 of 20 steps
    assert "12.5 images/s" in bar.proto.text and "ETA 0:01:15" in bar.proto.text
    assert polls == [job_progress.REFRESH_S]
    at.button(key=f"training.stop.{live.name}").click().run()
    assert live.stop_requested()


def test_trained_checkpoints_are_offered_on_the_explain_page(finished_run: RunFolder,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUNS_ENV, str(finished_run.path.parent))
    at = AppTest.from_file(EXPLAIN, default_timeout=TIMEOUT_S)
    at.session_state["explain.device"] = "cpu"
    at.run()
    options = at.selectbox(key="explain.model").options
    assert f"{finished_run.name} · best" in options and f"{finished_run.name} · last" in options
    at.selectbox(key="explain.model").set_value(str(finished_run.checkpoint("best"))).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="explain.method").value == "cam"


def test_the_form_takes_any_timm_model_and_a_local_weights_file(tiny_pets: Path, resnet18_weights: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """"Other" names any library model; the weights file must lie in an allowed folder (here the data folder)."""
    monkeypatch.setenv("CAM_EXPLORER_DATA", str(tmp_path))
    (tmp_path / "oxford-iiit-pet").symlink_to(tiny_pets / "oxford-iiit-pet")
    weights = tmp_path / "resnet18.pth"
    weights.write_bytes(resnet18_weights.read_bytes())
    started: list[TrainConfig] = []
    monkeypatch.setattr("camcore.train.launch.process.start", launched_into(started))
    at = training_page(monkeypatch, tmp_path / "runs")
    at.selectbox(key="training.arch").set_value("other")
    at.text_input(key="training.arch_other").input("timm:resnet10t")
    at.text_input(key="training.weights").input(str(weights))
    at.text_input(key="training.data_root").input(str(tmp_path))
    at.button[0].click().run()  # the form's submit button
    assert not at.exception and not at.error
    [config] = started
    assert config.arch == "timm:resnet10t" and config.weights == str(weights.resolve())


def test_the_form_starts_a_tap_run(tiny_pets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_EXPLORER_DATA", str(tiny_pets))
    started: list[TrainConfig] = []
    monkeypatch.setattr("camcore.train.launch.process.start", launched_into(started))
    at = training_page(monkeypatch, tmp_path / "runs")
    assert at.radio(key="training.pooling").value == "avg"  # the lesson's
    at.radio(key="training.pooling").set_value("tap:0.1")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception and not at.error
    [config] = started
    assert config.pooling == "tap:0.1"


def started_by_the_form(at: AppTest, monkeypatch: pytest.MonkeyPatch) -> RunFolder:
    """Presses Start training; the trainer's launch is replaced by this process as the run's live pid."""
    def start(argv: list[str], run: RunFolder) -> int:
        run.write_status(RunStatus(state="running", epochs=1, steps_total=4, pid=os.getpid(), heartbeat=time.time()))
        return os.getpid()

    monkeypatch.setattr("camcore.train.launch.process.start", start)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception and not at.error
    return RunFolder(Path(os.environ[RUNS_ENV]) / at.session_state["training.run"])


def test_only_the_session_that_started_a_run_may_stop_resume_or_delete_it(tiny_pets: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_EXPLORER_DATA", str(tiny_pets))
    mine = training_page(monkeypatch, tmp_path / "runs")
    run_folder = started_by_the_form(mine, monkeypatch)
    other = training_page(monkeypatch, tmp_path / "runs")
    stop = f"training.stop.{run_folder.name}"
    assert [b.key for b in mine.button if b.key == stop] == [stop]
    assert not [b for b in other.button if b.key == stop]
    assert any(training_rights.NOT_YOURS in read_back(caption.value) for caption in other.caption)

    run_folder.write_status(RunStatus(state="stopped", epochs=1, steps_total=4))
    mine.run()
    other.run()
    assert mine.button(key="training.resume") and not [b for b in other.button if b.key == "training.resume"]
    assert run_folder.name in mine.selectbox(key="training.delete").options
    assert not [box for box in other.selectbox if box.key == "training.delete"]
    other.session_state["training.delete"] = run_folder.name  # a crafted widget value for the picker it lacks
    other.session_state["training.delete_confirm"] = True
    other.run()
    assert not other.exception and run_folder.path.is_dir()

    monkeypatch.setenv(settings.RUN_ADMIN_ENV, "1")  # the operator allows everyone
    assert run_folder.name in other.run().selectbox(key="training.delete").options


def test_compare_before_and_after_opens_explain_on_the_probe_photos(finished_run: RunFolder,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's button hands Explain its best checkpoint, the start checkpoint beside it and the run's name;
    Explain then shows each probe photo with one row per model."""
    switched: list[tuple[str, dict]] = []
    monkeypatch.setattr(st, "switch_page", lambda page, query_params=None: switched.append((page, query_params)))
    at = training_page(monkeypatch, finished_run.path.parent)
    at.button(key=f"training.compare.{finished_run.name}").click().run()
    assert not at.exception
    best, start = str(finished_run.checkpoint("best")), str(finished_run.checkpoint("start"))
    [(page, params)] = switched
    assert page == "app_pages/1_Explain.py"
    assert params == {"model": best, "compare_models": start, "probes": finished_run.name}
    explain = AppTest.from_file(EXPLAIN, default_timeout=TIMEOUT_S)
    explain.session_state["explain.device"] = "cpu"
    explain.query_params.update(params)
    explain.run()
    assert not explain.exception and not explain.error
    probes = sorted(path.name for path in (finished_run.path / "probes" / "images").glob("*.jpg"))
    assert [read_back(header.value) for header in explain.subheader] == probes and len(probes) == 6
    rows = [read_back(m.value) for m in explain.markdown if read_back(m.value).startswith(f"**{finished_run.name}")]
    assert rows[:2] == [f"**{finished_run.name} · best** · CAM is exact here.",
                        f"**{finished_run.name} · start** · CAM is exact here."]
    assert len(rows) == 2 * len(probes)


def test_a_run_started_while_another_trains_waits_in_the_queue_and_its_owner_may_leave(
        tiny_pets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_EXPLORER_DATA", str(tiny_pets))
    first = started_by_the_form(training_page(monkeypatch, tmp_path / "runs"), monkeypatch)
    second_tab = training_page(monkeypatch, tmp_path / "runs")
    second_tab.button[0].click().run()  # Start training while the first trains: queued, not refused
    assert not second_tab.exception and not second_tab.error
    queued = RunFolder(tmp_path / "runs" / second_tab.session_state["training.run"])
    assert queued.status().state == "queued" and first.status().state == "running"
    [line] = [read_back(info.value) for info in second_tab.info if read_back(info.value).startswith("Queued")]
    assert line.startswith(f"Queued, next in line: {first.name} is training on this device")
    leave = f"training.leave.{queued.name}"
    third_tab = training_page(monkeypatch, tmp_path / "runs")
    third_tab.selectbox(key="training.run").set_value(queued.name).run()
    assert not [button for button in third_tab.button if button.key == leave]  # not theirs to take out
    second_tab.button(key=leave).click().run()
    assert queued.status().state == "stopped" and queued.status().message == "Left the queue before starting."


def test_with_no_runs_the_page_says_where_runs_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = training_page(monkeypatch, tmp_path / "runs")
    assert not at.exception
    [line] = [read_back(info.value) for info in at.info if read_back(info.value).startswith("No runs yet")]
    assert str((tmp_path / "runs").resolve()) in line and "No runs yet in" not in line
