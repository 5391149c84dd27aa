"""The Dataset page in Streamlit's AppTest on the tiny data set: grid, filters, pages, the detail view's trimap and
head box, predictions with their scores beside both baselines (faithfulness on request), and a missing data folder;
plus its figures."""
from __future__ import annotations

import base64
import functools
import io
import json
import os
import shutil
import time
import urllib.error
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from camcore.cli.main import main
from camcore.data.pets import SPLITS, PetRecord, pet_index
from camcore.jobs import predict, process
from camcore.jobs.predict_store import PredictStore
from camcore.jobs.runs import RunFolder, RunStatus, list_runs
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel, randomised
from camcore.options import DEFAULTS, MapOptions
from camcore.scores import browse, faithfulness
from camcore.scores.evaluate import predict_records
from camcore.scores.labels import imagenet_species
from camcore.scores.record import ImageResult
from camcore.scores.summary import summarise
from camcore.scores.wsol import SCORE_NAMES as WSOL_NAMES
from camcore.settings import CACHE_ENV, DATA_ENV, MODEL_ENV, WEIGHTS_ENV
from tests.conftest import TINY_HEAD_BOXES, TINY_PETS, tiny_trimap
from tests.job_helpers import wait_for
from ui.common import explanations
from ui.common.models import ModelChoice
from ui.common.text import read_back
from ui.dataset import figures as dataset_figures
from ui.dataset import inputs as dataset_inputs
from ui.dataset import prediction_cache

DATASET = str(Path(__file__).resolve().parents[2] / "app_pages" / "2_Dataset.py")
TIMEOUT_S = 60
"""Generous: a first CPU model load on a busy 2-core machine takes several seconds."""
NAMES = sorted(name for name, *_ in TINY_PETS)


@pytest.fixture
def pets(tiny_pets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(DATA_ENV, str(tiny_pets))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tiny_pets


@pytest.fixture
def random_resnet(monkeypatch: pytest.MonkeyPatch, resnet18_weights: Path) -> None:
    monkeypatch.setenv(MODEL_ENV, "resnet18")
    monkeypatch.setenv(WEIGHTS_ENV, str(resnet18_weights))


@pytest.fixture(scope="module")
def expected(tiny_pets: Path, resnet18: LoadedModel) -> dict[str, ImageResult]:
    """What the page should show, computed here with the `resnet18` fixture and its seed-0 randomised copy."""
    results = predict_records(tiny_pets, pet_index(tiny_pets), resnet18, random_model=randomised(resnet18))
    return {result.name: result for result in results}


def dataset_page(**state: object) -> AppTest:
    """The page on the CPU, where the `resnet18` fixture's numbers hold (a GPU's bf16 autocast changes digits);
    `state` presets other widgets (scope="all": no page is predicted in-process first)."""
    at = AppTest.from_file(DATASET, default_timeout=TIMEOUT_S)
    at.session_state["dataset.device"] = "cpu"
    for name, value in state.items():
        at.session_state[f"dataset.{name}"] = value
    return at.run()


def predicting(at: AppTest) -> AppTest:
    return at.checkbox(key="dataset.predict").check().run()


def captions(at: AppTest) -> list[str]:
    return [read_back(caption) for image in at.image for caption in image.captions]


def shown_names(at: AppTest) -> list[str]:
    return [caption.split(" · ")[0] for caption in captions(at)]


def figure(at: AppTest, key: str) -> dict:
    (found,) = [chart for chart in at.get("plotly_chart") if chart.proto.id.endswith(key)]
    return json.loads(found.proto.spec)


def overlay_pixels(spec: dict) -> np.ndarray:
    """The trimap overlay trace's PNG, decoded to (H, W, 4) RGBA."""
    (trace,) = [t for t in spec["data"] if t.get("name") == "trimap"]
    png = base64.b64decode(trace["source"].split(",", 1)[1])
    return np.array(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_grid_shows_every_photo_with_name_and_breed(pets: Path, tmp_path: Path) -> None:
    at = dataset_page()
    assert not at.exception and not at.error
    assert captions(at) == [f"{name} · {name.rsplit('_', 1)[0]}" for name in NAMES]
    assert "12 images, page 1 of 1" in [read_back(caption.value) for caption in at.caption]
    assert len(list((tmp_path / "cache" / "thumbnails").glob("*.jpg"))) == len(NAMES)


def test_unreadable_photo_shows_its_error_and_the_others(tiny_pets: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pets"
    shutil.copytree(tiny_pets, root)
    (root / "oxford-iiit-pet" / "images" / "beagle_7.jpg").write_bytes(b"not a jpeg")
    monkeypatch.setenv(DATA_ENV, str(root))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    at = dataset_page()
    assert not at.exception and not at.error
    assert shown_names(at) == [name for name in NAMES if name != "beagle_7"]
    assert [read_back(warning.value).split(":")[0] for warning in at.warning] == ["beagle_7.jpg"]


def test_filters_change_the_grid(pets: Path) -> None:
    at = dataset_page()
    at.selectbox(key="dataset.species").set_value("dog").run()
    dogs = [name for name, _, species, *_ in TINY_PETS if species == 2]
    assert shown_names(at) == sorted(dogs)
    assert at.selectbox(key="dataset.breed").options == ["all", "american_bulldog", "beagle"]
    at.selectbox(key="dataset.split").set_value("test").run()
    assert shown_names(at) == sorted(name for name, *_, split in TINY_PETS if name in dogs and split == "test")
    at.selectbox(key="dataset.species").set_value("all").run()
    at.text_input(key="dataset.search").input("BENGAL").run()
    assert shown_names(at) == ["Bengal_11"]
    at.text_input(key="dataset.search").input("nothing").run()
    assert not at.image and not at.exception
    assert read_back(at.info[0].value) == "No image matches these filters."


def every_page(at: AppTest, pages: int) -> list[str]:
    return [name for page in range(1, pages + 1)
            for name in shown_names(at.number_input(key="dataset.page").set_value(page).run())]


def test_pages_and_seeded_random_order(pets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataset_inputs, "PAGE_SIZE", 5)
    at = dataset_page()
    assert shown_names(at) == NAMES[:5]
    at.number_input(key="dataset.page").set_value(3).run()
    assert shown_names(at) == NAMES[10:]
    assert "12 images, page 3 of 3" in [read_back(caption.value) for caption in at.caption]
    at.selectbox(key="dataset.order").set_value("random").run()
    seed_0 = every_page(at, 3)
    at.number_input(key="dataset.seed").set_value(1).run()
    seed_1 = every_page(at, 3)
    assert sorted(seed_0) == sorted(seed_1) == NAMES and len({tuple(seed_0), tuple(seed_1), tuple(NAMES)}) == 3
    at.number_input(key="dataset.seed").set_value(0).run()
    assert every_page(at, 3) == seed_0


def test_label_counts_per_split(pets: Path) -> None:
    spec = figure(dataset_page(), "dataset.labels")
    histograms = [trace for trace in spec["data"] if trace["type"] == "histogram"]
    by_split = {(trace["name"], trace["xaxis"]): Counter(trace["x"]) for trace in histograms}
    for split in SPLITS:
        rows = [(name, class_id, species) for name, class_id, species, _, s in TINY_PETS if s == split]
        assert by_split[(split, "x")] == Counter("cat" if species == 1 else "dog" for *_, species in rows)
        assert by_split[(split, "x2")] == Counter(name.rsplit("_", 1)[0] for name, *_ in rows)


def test_detail_view_shows_trimap_overlay_and_head_box(pets: Path) -> None:
    at = dataset_page()
    assert read_back(at.info[0].value).startswith("Pick a photo")
    at.button(key="dataset.open.Abyssinian_1").click().run()
    assert at.selectbox(key="dataset.detail").value == "Abyssinian_1"
    spec = figure(at, "dataset.trimap_figure")
    index = [name for name, *_ in TINY_PETS].index("Abyssinian_1")
    trimap = tiny_trimap(index)
    pixels = overlay_pixels(spec)
    assert pixels.shape[:2] == trimap.shape
    for value, (label, rgba) in dataset_figures.TRIMAP_COLOURS.items():
        assert (pixels[trimap == value] == rgba).all(), label
    legend = [t["name"] for t in spec["data"] if t["type"] == "scatter"]
    assert legend == ["1 pet", "2 background", "3 border", "head box"]
    xmin, ymin, xmax, ymax = TINY_HEAD_BOXES["Abyssinian_1"]  # VOC: 1-based, inclusive
    x0, y0, x1, y1 = xmin - 1, ymin - 1, xmax, ymax
    box = spec["data"][-1]
    assert box["x"] == [x0, x1, x1, x0, x0] and box["y"] == [y0, y0, y1, y1, y0]
    at.toggle(key="dataset.trimap").set_value(False).run()
    hidden = figure(at, "dataset.trimap_figure")
    assert [t.get("name") for t in hidden["data"]] == ["photo", "head box"]


def test_detail_without_head_box_says_so(pets: Path) -> None:
    at = dataset_page()
    at.selectbox(key="dataset.detail").set_value("beagle_7").run()
    assert not at.exception
    assert "head box" not in [t.get("name") for t in figure(at, "dataset.trimap_figure")["data"]]
    assert any("beagle_7: beagle (dog), test split; no head box" in read_back(caption.value) for caption in at.caption)


def test_predictions_captions_confusion_and_breed_scores(pets: Path, random_resnet: None,
                                                         expected: dict[str, ImageResult]) -> None:
    at = predicting(dataset_page())
    assert not at.exception and not at.error
    verdicts = {True: "✅", False: "❌"}
    assert captions(at) == [f"{name} · {name.rsplit('_', 1)[0]} · {verdicts[expected[name].correct]} "
                            f"{expected[name].predicted_name} {expected[name].probability:.0%}" for name in NAMES]
    heat, markers = figure(at, "dataset.confusion")["data"]
    pairs = Counter((r.species, imagenet_species(r.predicted_index) or "other") for r in expected.values())
    assert sum(map(sum, heat["z"])) == len(NAMES)
    assert {(true, predicted): heat["z"][heat["y"].index(true)][heat["x"].index(predicted)]
            for true, predicted in pairs} == pairs
    assert Counter(dict(zip(zip(markers["y"], markers["x"]), (cell[0] for cell in markers["customdata"])))) == pairs
    bars = figure(at, "dataset.breeds")["data"]
    per_breed = summarise(expected.values())["per_breed"]
    model_iou = next(bar for bar in bars if bar["name"] == "this model" and bar["xaxis"] == "x2")
    assert model_iou["y"] == list(per_breed)
    np.testing.assert_allclose(model_iou["x"], [per_breed[breed]["iou"]["model"] for breed in per_breed])
    assert {bar["name"] for bar in bars} == {"this model", "centred Gaussian", "random weights"}


BINNED = 1e-4
"""The page's WSOL scores against summarise's on the fixture's results: PxAP pools the maps' histogram bins, and
a photo batched otherwise (a page at a time here, all at once there) differs by a float32 hair that can move a
pixel over a bin's edge (3e-6 of PxAP seen); a box score would move by a whole photo (1/6 here)."""


def wsol_bars(at: AppTest) -> dict[str, list]:
    """The WSOL figure's values per trace name: bars (Choe et al.'s: these photos' best) and diamonds
    (calibrated)."""
    return {trace["name"]: trace["y"] for trace in figure(at, "dataset.wsol")["data"]}


def test_wsol_scores_read_their_thresholds_off_stored_trainval_photos(pets: Path, random_resnet: None,
                                                                      expected: dict[str, ImageResult]) -> None:
    """Test photos alone: the scores at their own best thresholds, and how to calibrate. Once a session has
    predicted the trainval photos, diamonds beside the bars read the test photos at the thresholds best on those:
    summarise's numbers."""
    test = [result for result in expected.values() if result.split == "test"]
    trainval = [result for result in expected.values() if result.split == "trainval"]
    at = predicting(dataset_page(split="test"))
    assert not at.exception and not at.error
    assert any("to see the scores at a threshold calibrated on trainval" in read_back(caption.value)
               for caption in at.caption)
    alone = summarise(test)
    assert wsol_bars(at)["this model"] == pytest.approx([alone[key]["model"] for key in WSOL_NAMES], abs=BINNED)
    assert "this model (calibrated)" not in wsol_bars(at)
    assert not predicting(dataset_page(split="trainval")).exception  # stores the trainval results
    at = predicting(dataset_page(split="test"))
    assert any(f"best for {len(trainval)} trainval photos" in read_back(caption.value) for caption in at.caption)
    calibrated = summarise(test, calibration=trainval)
    bars = wsol_bars(at)
    for kind, name in (("model", "this model"), ("gaussian", "centred Gaussian"), ("random", "random weights")):
        assert bars[name] == pytest.approx([calibrated[key][kind] for key in WSOL_NAMES], abs=BINNED)
        assert bars[f"{name} (calibrated)"] == pytest.approx(
            [calibrated[key if key == "pxap" else f"{key}_calibrated"][kind] for key in WSOL_NAMES], abs=BINNED)


def test_detail_view_shows_the_cam_and_scores_beside_baselines(pets: Path, random_resnet: None,
                                                               expected: dict[str, ImageResult]) -> None:
    at = predicting(dataset_page())
    at.selectbox(key="dataset.detail").set_value("beagle_6").run()
    assert not at.exception and not at.error
    cam = figure(at, "dataset.cam")
    assert len(cam["layout"]["sliders"]) == 4 and cam["layout"]["title"]["text"] == "CAM · layer4"
    table = at.table[0].value
    result = expected["beagle_6"]
    assert list(table.columns) == ["score", "this model", "centred Gaussian", "random weights"]
    for column, name in (("this model", "model"), ("centred Gaussian", "gaussian"), ("random weights", "random")):
        scores = result.localisation[name]
        assert table[column][0] == ("hit" if scores.pointing else "miss")
        assert table[column][1] == f"{scores.iou:.2f}"
        assert table[column][2] == f"{scores.rel_energy:.2f}"


def test_mistakes_sort_and_confusion_cell_filter_the_grid(pets: Path, random_resnet: None,
                                                          expected: dict[str, ImageResult]) -> None:
    at = predicting(dataset_page())
    at.toggle(key="dataset.mistakes").set_value(True).run()
    assert shown_names(at) == [name for name in NAMES if expected[name].correct is False]
    at.toggle(key="dataset.mistakes").set_value(False).run()
    at.selectbox(key="dataset.order").set_value(browse.CONFIDENCE).run()
    assert shown_names(at) == sorted(NAMES, key=lambda name: expected[name].probability)
    at.selectbox(key="dataset.order").set_value(browse.WRONG_FIRST).run()
    assert shown_names(at) == sorted(NAMES, key=lambda name: expected[name].correct is not False)
    species_pairs = {name: (r.species, imagenet_species(r.predicted_index) or "other") for name, r in expected.items()}
    cells = sorted(set(species_pairs.values()))
    assert at.selectbox(key="dataset.cell").options == ["every cell", *(f"true {t}, predicted {p}" for t, p in cells)]
    at.selectbox(key="dataset.cell").set_value(cells[-1]).run()
    chosen = [name for name in NAMES if species_pairs[name] == cells[-1]]
    assert shown_names(at) == sorted(chosen, key=lambda name: expected[name].correct is not False)


def verdict_captions(names: list[str], expected: dict[str, ImageResult]) -> list[str]:
    verdicts = {True: "✅", False: "❌"}
    return [f"{name} · {name.rsplit('_', 1)[0]} · {verdicts[expected[name].correct]} {expected[name].predicted_name} "
            f"{expected[name].probability:.0%}" for name in names]


def test_results_are_stored_so_paging_back_or_another_session_predicts_nothing(
        pets: Path, random_resnet: None, expected: dict[str, ImageResult], monkeypatch: pytest.MonkeyPatch) -> None:
    predicted: list[list[str]] = []

    def counted(root: Path, records: list[PetRecord], *args: object, **kwargs: object) -> list[ImageResult]:
        predicted.append([record.name for record in records])
        return predict_records(root, records, *args, **kwargs)

    monkeypatch.setattr(predict, "predict_records", counted)
    monkeypatch.setattr(dataset_inputs, "PAGE_SIZE", 5)
    at = predicting(dataset_page())
    at.number_input(key="dataset.page").set_value(2).run()
    at.number_input(key="dataset.page").set_value(1).run()
    assert predicted == [NAMES[:5], NAMES[5:10]]
    prediction_cache._results_read.clear()  # as after a restart: only the disk remembers
    other = predicting(dataset_page())  # another session
    other.number_input(key="dataset.page").set_value(2).run()
    assert predicted == [NAMES[:5], NAMES[5:10]]
    assert captions(other) == verdict_captions(NAMES[5:10], expected)
    assert not other.exception and not other.error


def test_predict_all_is_a_job_for_the_photos_not_stored_yet(pets: Path, random_resnet: None, resnet18_weights: Path,
                                                            expected: dict[str, ImageResult],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataset_inputs, "PAGE_SIZE", 5)
    at = predicting(dataset_page())  # this page in-process: 5 stored
    at.radio(key="dataset.scope").set_value("all").run()
    assert captions(at) == verdict_captions(NAMES[:5], expected)
    assert every_page(at, 3) == NAMES  # the 7 not predicted yet are shown too, after the predicted ones
    assert read_back(at.subheader[0].value).startswith("CAM of resnet18 on 5 images")
    assert at.button(key="dataset.predict_all").label == "Predict the 7 photos not predicted yet, in the background"
    at.button(key="dataset.predict_all").click().run()
    assert not at.exception and not at.error
    [bar] = at.get("progress")
    assert bar.proto.text.startswith("Predicting in the background")
    choice = ModelChoice.of("resnet18", str(resnet18_weights), "cpu")
    job = predict.latest_job(prediction_cache.prediction_store(pets, choice, DEFAULTS))
    assert job is not None and job.config()["count"] == 7 and job.config()["device"] == "cpu"
    status = wait_for(job)
    assert (status.state, status.step, status.steps_total) == ("finished", 7, 7), job.log_tail()
    at.run()
    assert every_page(at, 3) == NAMES and not at.get("progress")
    assert [captions(at.number_input(key="dataset.page").set_value(page).run()) for page in (1, 2, 3)] == [
        verdict_captions(NAMES[first:first + 5], expected) for first in (0, 5, 10)]
    assert not [button for button in at.button if button.key == "dataset.predict_all"]


def store_job(pets: Path, weights: Path, status: RunStatus) -> RunFolder:
    store = PredictStore.for_model(pets, "resnet18", str(weights), MapOptions(method="cam"))
    job = RunFolder.create(store.jobs_root / "job", {"kind": "predict"})
    job.write_status(status)
    return job


def test_another_session_follows_the_running_job(pets: Path, random_resnet: None, resnet18_weights: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prediction_cache, "predict_missing", None)  # all shown photos are the job's: none here
    job = store_job(pets, resnet18_weights, RunStatus("running", step=3, steps_total=12, images_per_s=2.0, eta_s=4.5,
                                                      pid=os.getpid(), heartbeat=time.time()))
    at = predicting(dataset_page(scope="all"))
    assert not at.exception and not at.error
    [bar] = at.get("progress")
    assert bar.proto.value == 25
    assert bar.proto.text.startswith("Predicting in the background: 3/12 photos · 2.0 images/s · ETA 0:00:04")
    assert not [button for button in at.button if button.key == "dataset.predict_all"]
    assert shown_names(at) == NAMES
    at.button(key=f"dataset.stop.{job.name}").click().run()
    assert job.stop_requested() and at.button(key=f"dataset.stop.{job.name}").disabled
    assert at.get("progress")[0].proto.text.endswith("Stopping…")


def test_a_stopped_job_says_so_and_offers_the_rest(pets: Path, random_resnet: None, resnet18_weights: Path) -> None:
    message = "Stopped after 4 of 12 photos. They are stored; the next start predicts only the rest."
    store_job(pets, resnet18_weights, RunStatus("stopped", step=4, steps_total=12, message=message))
    at = predicting(dataset_page(scope="all"))
    assert not at.exception and not at.error
    assert message in [read_back(info.value) for info in at.info]
    assert at.button(key="dataset.predict_all").label == "Predict the 12 photos not predicted yet, in the background"


def test_a_failed_job_is_reported_and_can_be_started_again(pets: Path, random_resnet: None,
                                                           resnet18_weights: Path) -> None:
    store_job(pets, resnet18_weights, RunStatus("failed", message="CUDA out of memory. Use the CPU."))
    at = predicting(dataset_page(scope="all"))
    assert [read_back(error.value) for error in at.error] == ["CUDA out of memory. Use the CPU."]
    assert at.button(key="dataset.predict_all").label == "Predict the 12 photos not predicted yet, in the background"


def test_failed_prediction_is_an_error_and_the_grid_stays(pets: Path, random_resnet: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(prediction_cache, "predict_missing", broken)
    at = predicting(dataset_page())
    assert not at.exception
    assert [read_back(error.value) for error in at.error] == [
        "Predicting failed unexpectedly; the server log has the details."]
    assert shown_names(at) == NAMES


def test_missing_data_offers_the_download_and_shows_its_failure(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "nowhere"
    monkeypatch.setenv(DATA_ENV, str(root))
    started: list[list[str]] = []

    def here(argv: list[str], run: RunFolder) -> int:
        """The job's process, run in this one: no subprocess, and torchvision's fetch is offline below."""
        started.append(list(argv))
        main(list(argv))
        return os.getpid()

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no internet")

    monkeypatch.setattr(process, "start", here)
    monkeypatch.setattr("camcore.data.pets.OxfordIIITPet", offline)
    at = dataset_page()
    assert not at.exception
    assert "Oxford-IIIT Pet not found" in read_back(at.warning[0].value) and str(root) in read_back(at.warning[0].value)
    at.button(key="dataset.download").click().run()
    assert not at.exception
    (job,) = list_runs(root / ".downloads")
    assert started == [["download", "--data", str(root.resolve()), "--job", str(job.path)]]
    assert [read_back(error.value) for error in at.error] == [
        "Downloading Oxford-IIIT Pet failed (<urlopen error no internet>). Without internet, get images.tar.gz and "
        f"annotations.tar.gz from https://www.robots.ox.ac.uk/~vgg/data/pets/ and unpack both into "
        f"{root.resolve() / 'oxford-iiit-pet'}."]
    assert at.button(key="dataset.download").label.startswith("Download Oxford-IIIT Pet")
    assert not at.image


def test_a_running_download_shows_its_progress_instead_of_the_button(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "nowhere"
    monkeypatch.setenv(DATA_ENV, str(root))
    job = RunFolder.create(root / ".downloads" / "job", {"kind": "download"})
    job.write_status(RunStatus("running", step=405_500_000, steps_total=811_000_000, pid=os.getpid(),
                               heartbeat=time.time()))
    at = dataset_page()
    assert not at.exception and not at.error
    [bar] = at.get("progress")
    assert bar.proto.value == 50
    assert bar.proto.text == f"Downloading in the background: 406 of about 811 MB into {root}"
    assert not [button for button in at.button if button.key == "dataset.download"]
    at.button(key=f"dataset.stop.{job.name}").click().run()
    assert job.stop_requested()


def test_detail_view_maps_the_true_class_on_request(pets: Path, monkeypatch: pytest.MonkeyPatch,
                                                    binary_checkpoint: Path) -> None:
    """A cat/dog model has a class for every photo's label: the ground-truth CAM is one click away."""
    monkeypatch.setenv(MODEL_ENV, str(binary_checkpoint))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    at = predicting(dataset_page())
    at.selectbox(key="dataset.detail").set_value("beagle_6").run()
    assert not at.exception and not at.error
    top_labels = [step["label"] for step in figure(at, "dataset.cam")["layout"]["sliders"][3]["steps"]]
    assert len(top_labels) == 2
    at.radio(key="dataset.map_true").set_value(True).run()
    assert not at.exception and not at.error
    (label,) = [step["label"] for step in figure(at, "dataset.cam")["layout"]["sliders"][3]["steps"]]
    assert "dog" in label


def test_detail_view_computes_the_faithfulness_curves_on_request(pets: Path, random_resnet: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cheap = functools.partial(faithfulness.explanation_faithfulness, steps=2)  # the wiring is under test here
    monkeypatch.setattr(explanations, "explanation_faithfulness", cheap)
    at = predicting(dataset_page())
    at.selectbox(key="dataset.detail").set_value("beagle_6").run()
    assert not [chart for chart in at.get("plotly_chart") if chart.proto.id.endswith("faithfulness_chart")]
    at.toggle(key="dataset.detail_view.faithfulness").set_value(True).run()
    assert not at.exception and not at.error
    curves = figure(at, "dataset.detail_view.faithfulness_chart")
    assert [trace["name"].split(":")[0] for trace in curves["data"]] == ["CAM", "Random map", "Centred Gaussian"] * 2


def charts(at: AppTest, key: str) -> list:
    return [chart for chart in at.get("plotly_chart") if chart.proto.id.endswith(key)]


def faithful_store(pets: Path, weights: Path) -> PredictStore:
    return PredictStore.for_model(pets, "resnet18", str(weights), MapOptions(method="cam"), faithfulness_steps=2)


def assert_breed_faithfulness(at: AppTest, stored: dict[str, ImageResult]) -> None:
    """The per-breed faithfulness figure holds summarise()'s means of the results read back from the store."""
    per_breed = summarise(stored.values())["per_breed"]
    bars = figure(at, "dataset.breed_faithfulness")["data"]
    assert {(bar["name"], bar["xaxis"]) for bar in bars} == {
        (name, axis) for name in ("this model", "centred Gaussian", "random map") for axis in ("x", "x2")}
    for bar in bars:
        score = "deletion_auc" if bar["xaxis"] == "x" else "insertion_auc"
        map_name = {"this model": "model", "centred Gaussian": "gaussian", "random map": "random_map"}[bar["name"]]
        assert bar["y"] == list(per_breed)
        np.testing.assert_allclose(bar["x"], [per_breed[breed][score][map_name] for breed in per_breed])


def test_faithfulness_on_request_per_breed_and_per_image(pets: Path, random_resnet: None, resnet18_weights: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataset_inputs, "DATASET_STEPS", 2)  # the wiring is under test here, not the curves
    at = dataset_page(predict=True, species="dog", split="test", detail="beagle_7")
    names = ["american_bulldog_4", "american_bulldog_5", "beagle_7", "beagle_8"]
    assert shown_names(at) == names and not at.checkbox(key="dataset.faithfulness").value
    assert not charts(at, "breed_faithfulness") and len(at.table) == 1  # off: nothing of it
    at.checkbox(key="dataset.faithfulness").check().run()
    assert not at.exception and not at.error
    stored = faithful_store(pets, resnet18_weights).results(names)
    assert sorted(stored) == names
    assert_breed_faithfulness(at, stored)
    localisation, faithful = (table.value for table in at.table)
    assert list(localisation.columns) == ["score", "this model", "centred Gaussian", "random weights"]
    assert list(faithful.columns) == ["score", "this model", "centred Gaussian", "random map"]
    assert list(faithful["score"]) == ["Deletion AUC", "Insertion AUC", "Drop in conf.", "Increase in conf."]
    result = stored["beagle_7"]
    for column, name in (("this model", "model"), ("centred Gaussian", "gaussian"), ("random map", "random_map")):
        scores = result.faithfulness[name]
        assert list(faithful[column]) == [f"{scores.deletion_auc:.2f}", f"{scores.insertion_auc:.2f}",
                                          f"{scores.confidence_drop:.0%}",
                                          "yes" if scores.confidence_increase else "no"]
    at.checkbox(key="dataset.faithfulness").uncheck().run()
    assert not charts(at, "breed_faithfulness") and len(at.table) == 1


def test_predict_all_with_faithfulness_runs_the_job_into_its_store(pets: Path, random_resnet: None,
                                                                   resnet18_weights: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataset_inputs, "DATASET_STEPS", 2)
    started: list[list[str]] = []

    def here(argv: list[str], run: RunFolder) -> int:
        """The job's process, run in this one."""
        started.append(list(argv))
        main(list(argv))
        return os.getpid()

    monkeypatch.setattr(process, "start", here)
    at = dataset_page(predict=True, scope="all", faithfulness=True, breed="beagle", split="test")
    assert not charts(at, "breed_faithfulness")
    at.button(key="dataset.predict_all").click().run()
    assert not at.exception and not at.error
    assert started[0][-2:] == ["--faithfulness", "2"]
    at.run()
    assert_breed_faithfulness(at, faithful_store(pets, resnet18_weights).results(["beagle_7", "beagle_8"]))


def test_nwc_and_percentile_threshold_score_into_a_store_of_their_own(pets: Path, random_resnet: None,
                                                                      resnet18: LoadedModel,
                                                                      resnet18_weights: Path) -> None:
    """NWC and PaS on: the page's scores are predict_records' with both (PaS's own 0.35 threshold), from a store
    of these settings, and the plain store is left empty."""
    at = predicting(dataset_page(nwc=True, standard="percentile"))
    assert not at.exception and not at.error
    assert any("(PaS swept; Bae et al. fix 0.35 of it" in read_back(caption.value) for caption in at.caption)
    expected = predict_records(pets, pet_index(pets), resnet18,
                               MapOptions(clamp_negative_weights=True, threshold_standard=heatmap.PERCENTILE),
                               random_model=randomised(resnet18), threshold_frac=0.35)
    per_breed = summarise(expected)["per_breed"]
    bars = figure(at, "dataset.breeds")["data"]
    model_iou = next(bar for bar in bars if bar["name"] == "this model" and bar["xaxis"] == "x2")
    np.testing.assert_allclose(model_iou["x"], [per_breed[breed]["iou"]["model"] for breed in per_breed], rtol=1e-5)
    fixed = PredictStore.for_model(pets, "resnet18", str(resnet18_weights),
                                   MapOptions(clamp_negative_weights=True, threshold_standard=heatmap.PERCENTILE))
    plain = PredictStore.for_model(pets, "resnet18", str(resnet18_weights), MapOptions(method="cam"))
    assert set(fixed.results(NAMES)) == set(NAMES) and not plain.results(NAMES)
    clamped_maps = {result.name: result.top_map for result in expected}  # NWC's maps, not the plain ones
    for name, result in fixed.results(NAMES).items():
        np.testing.assert_allclose(result.top_map, clamped_maps[name], rtol=1e-4, atol=1e-6)
