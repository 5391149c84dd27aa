"""`python -m camcore predict` and its launcher: results land in the page's store with progress in the job folder,
stored photos are skipped, a bad name fails the job with one line, a second start follows the live job, and
--faithfulness adds those scores in a store of their own."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from camcore.cli.main import main
from camcore.data import pets
from camcore.data.images import load_image
from camcore.data.pets import pet_index
from camcore.explain import explain
from camcore.jobs import predict, process
from camcore.jobs.predict_store import PredictStore
from camcore.jobs.runs import RunFolder, RunStatus, list_runs
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel, randomised
from camcore.options import MapOptions
from camcore.scores.evaluate import predict_records
from camcore.scores.faithfulness import explanation_faithfulness
from camcore.scores.record import ImageResult
from camcore.settings import CACHE_ENV
from tests.job_helpers import wait_for

NAMES = ["beagle_6", "Abyssinian_2", "Bengal_9"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def store_of(tiny_pets: Path, weights: Path) -> PredictStore:
    return PredictStore.for_model(tiny_pets, "resnet18", str(weights), MapOptions(method="cam"))


def predict_argv(tiny_pets: Path, weights: Path, names_file: Path) -> list[str]:
    return ["predict", "--data", str(tiny_pets), "--model", "resnet18", "--weights", str(weights), "--device", "cpu",
            "--names-file", str(names_file)]


def assert_results(found: dict[str, ImageResult], expected: list[ImageResult]) -> None:
    assert sorted(found) == sorted(result.name for result in expected)
    for result in expected:
        assert found[result.name].predicted_index == result.predicted_index
        np.testing.assert_allclose(found[result.name].probability, result.probability, rtol=1e-5)
        np.testing.assert_allclose(found[result.name].localisation["model"].iou, result.localisation["model"].iou,
                                   rtol=1e-5, equal_nan=True)
        np.testing.assert_allclose(found[result.name].top_map, result.top_map, rtol=1e-5, atol=1e-6)


def test_predict_fills_the_store_and_reports_in_its_job_folder(tiny_pets: Path, resnet18_weights: Path, cache: Path,
                                                                resnet18: LoadedModel, tmp_path: Path) -> None:
    names_file = tmp_path / "names.txt"
    names_file.write_text("\n".join(NAMES) + "\n")
    assert main(predict_argv(tiny_pets, resnet18_weights, names_file)) == 0
    store = store_of(tiny_pets, resnet18_weights)
    records = [record for record in pet_index(tiny_pets) if record.name in NAMES]
    expected = predict_records(tiny_pets, records, resnet18, random_model=randomised(resnet18))
    assert_results(store.results(record.name for record in pet_index(tiny_pets)), expected)
    (job,) = list_runs(store.jobs_root)
    status = job.status()
    assert (status.state, status.step, status.steps_total, status.pid) == ("finished", 3, 3, os.getpid())
    assert job.config()["model"] == "resnet18" and job.config()["method"] == "cam"
    names_file.write_text("beagle_6\nbeagle_7\n")  # one stored, one new
    assert main(predict_argv(tiny_pets, resnet18_weights, names_file)) == 0
    assert max(list_runs(store.jobs_root), key=lambda run: run.status().heartbeat).status().steps_total == 1
    assert store.has("beagle_7")


def test_an_unknown_name_fails_the_job_with_one_line(tiny_pets: Path, resnet18_weights: Path, cache: Path,
                                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names_file = tmp_path / "names.txt"
    names_file.write_text("beagle_6\nno_such_cat_1\n")
    job = RunFolder.create(tmp_path / "job", {"kind": "predict"})
    assert main([*predict_argv(tiny_pets, resnet18_weights, names_file), "--job", str(job.path)]) == 2
    message = "no_such_cat_1 (and 0 more) not in"
    assert message in capsys.readouterr().err
    status = job.status()
    assert status.state == "failed" and status.message.startswith(message) and "\n" not in status.message
    assert not store_of(tiny_pets, resnet18_weights).has("beagle_6")


def test_start_runs_one_job_per_store_and_a_second_start_follows_it(tiny_pets: Path, resnet18_weights: Path,
                                                                    cache: Path, resnet18: LoadedModel) -> None:
    """The job maps with the store's options (NWC and PaS here): its results are predict_records' with them, in
    the store they key."""
    options = MapOptions(clamp_negative_weights=True, threshold_standard=heatmap.PERCENTILE)
    store = PredictStore.for_model(tiny_pets, "resnet18", str(resnet18_weights), options)
    start = {"spec": "resnet18", "weights_path": str(resnet18_weights), "device": "cpu", "options": options}
    job = predict.start_predictions(store, tiny_pets, NAMES, **start)
    assert predict.start_predictions(store, tiny_pets, ["beagle_7"], **start) == job
    assert list_runs(store.jobs_root) == [job] and predict.latest_job(store) == job
    status = wait_for(job)
    assert (status.state, status.step, status.steps_total) == ("finished", 3, 3), job.log_tail()
    records = [record for record in pet_index(tiny_pets) if record.name in NAMES]
    assert_results(store.results(NAMES + ["beagle_7"]),
                   predict_records(tiny_pets, records, resnet18, options, random_model=randomised(resnet18)))


def test_a_new_start_replaces_ended_jobs_and_follows_a_live_one(tiny_pets: Path, resnet18_weights: Path, cache: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_of(tiny_pets, resnet18_weights)
    ended = RunFolder.create(store.jobs_root / "ended", {"kind": "predict"})
    ended.write_status(RunStatus("failed", message="boom"))
    started: list[list[str]] = []
    monkeypatch.setattr(process, "start", lambda argv, run: started.append(list(argv)) or 1)
    job = predict.start_predictions(store, tiny_pets, NAMES, options=MapOptions(method="cam"), spec="resnet18",
                                    weights_path=None, device="cpu")
    assert list_runs(store.jobs_root) == [job] and not ended.path.exists()
    assert started == [["predict", "--job", str(job.path), "--data", str(tiny_pets.resolve()), "--model", "resnet18",
                        "--method", "cam", "--device", "cpu", "--names-file", str(job.path / "names.txt")]]
    assert (job.path / "names.txt").read_text().split() == NAMES
    job.write_status(RunStatus("running", pid=os.getpid(), heartbeat=time.time()))
    assert predict.start_predictions(store, tiny_pets, ["beagle_7"], options=MapOptions(method="cam"), spec="resnet18",
                                     weights_path=None, device="cpu") == job
    assert len(started) == 1


def test_a_stopped_job_keeps_its_results_and_a_restart_predicts_only_the_rest(
        tiny_pets: Path, resnet18_weights: Path, cache: Path, resnet18: LoadedModel, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One photo a batch; the first stored result asks the job to stop (as the page's Stop button does)."""
    names_file = tmp_path / "names.txt"
    names_file.write_text("\n".join(NAMES) + "\n")
    monkeypatch.setattr(predict, "BATCH_SIZE", 1)
    first = RunFolder.create(tmp_path / "first", {"kind": "predict"})
    real_write = PredictStore.write

    def write_then_stop(store: PredictStore, result: ImageResult) -> None:
        real_write(store, result)
        first.request_stop()

    monkeypatch.setattr(PredictStore, "write", write_then_stop)
    assert main([*predict_argv(tiny_pets, resnet18_weights, names_file), "--job", str(first.path)]) == 0
    status = first.status()
    assert (status.state, status.step, status.steps_total) == ("stopped", 1, 3)
    assert status.message == "Stopped after 1 of 3 photos. They are stored; the next start predicts only the rest."
    store = store_of(tiny_pets, resnet18_weights)
    assert [store.has(name) for name in NAMES] == [True, False, False]
    monkeypatch.setattr(PredictStore, "write", real_write)
    second = RunFolder.create(tmp_path / "second", {"kind": "predict"})
    assert main([*predict_argv(tiny_pets, resnet18_weights, names_file), "--job", str(second.path)]) == 0
    status = second.status()
    assert (status.state, status.step, status.steps_total) == ("finished", 2, 2)
    records = [record for record in pet_index(tiny_pets) if record.name in NAMES]
    assert_results(store.results(NAMES), predict_records(tiny_pets, records, resnet18,
                                                         random_model=randomised(resnet18)))


def test_faithfulness_option_fills_its_own_store_with_each_photos_scores(tiny_pets: Path, resnet18_weights: Path,
                                                                         cache: Path, resnet18: LoadedModel,
                                                                         tmp_path: Path) -> None:
    names_file = tmp_path / "names.txt"
    names_file.write_text("beagle_6\n")
    argv = [*predict_argv(tiny_pets, resnet18_weights, names_file), "--size", "64", "--faithfulness", "2"]
    assert main(argv) == 0
    assert not PredictStore.for_model(tiny_pets, "resnet18", str(resnet18_weights),
                                      MapOptions(method="cam", size_px=64)).has("beagle_6")
    store = PredictStore.for_model(tiny_pets, "resnet18", str(resnet18_weights), MapOptions(method="cam", size_px=64),
                                   faithfulness_steps=2)
    stored = store.read("beagle_6")
    (record,) = [record for record in pet_index(tiny_pets) if record.name == "beagle_6"]
    photo = load_image(pets.image_path(tiny_pets, record))
    (explained,) = explain([photo], resnet18, MapOptions(top_k=1, size_px=64))
    report = explanation_faithfulness(photo, resnet18, explained, steps=2)
    assert stored.faithfulness["model"].deletion_auc == pytest.approx(report.method.deletion.auc, rel=1e-4)
    assert stored.faithfulness["model"].insertion_auc == pytest.approx(report.method.insertion.auc, rel=1e-4)
    assert stored.faithfulness["random_map"].deletion_auc == pytest.approx(report.random_map.deletion.auc, rel=1e-4)
    (job,) = list_runs(store.jobs_root)
    assert job.config()["faithfulness_steps"] == 2 and job.status().state == "finished"


def test_start_passes_the_faithfulness_steps_to_the_job(tiny_pets: Path, resnet18_weights: Path, cache: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    store = PredictStore.for_model(tiny_pets, "resnet18", None, MapOptions(method="cam"), faithfulness_steps=10)
    started: list[list[str]] = []
    monkeypatch.setattr(process, "start", lambda argv, run: started.append(list(argv)) or 1)
    job = predict.start_predictions(store, tiny_pets, NAMES, options=MapOptions(method="cam"), spec="resnet18",
                                    weights_path=None, device="cpu", faithfulness_steps=10)
    assert started[0][-2:] == ["--faithfulness", "10"] and job.config()["faithfulness_steps"] == 10
    assert list_runs(store.jobs_root) == [job]
