"""predict_records (camcore.scores.evaluate) on the tiny data set: each map's scores against the photo's own
explanation, the Gaussian and randomised baselines, faithfulness, the randomised baseline model, and with
../shared/data the real EfficientNet-Lite0 on the mini Oxford-IIIT Pet test split against both baselines."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from camcore.cli.main import main
from camcore.data import pets
from camcore.data.images import load_image
from camcore.explain import explain
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel, randomised
from camcore.options import MapOptions
from camcore.scores import localisation
from camcore.scores.evaluate import predict_records
from camcore.scores.faithfulness import explanation_faithfulness
from camcore.scores.record import BASELINES, FAITHFULNESS_BASELINES
from tests.camcore.scores.conftest import SIZE_PX
from tests.conftest import TINY_HEAD_BOXES


def test_results_follow_the_records_with_their_labels(records, resnet_results) -> None:
    assert [(r.name, r.split, r.breed, r.species, r.label) for r in resnet_results] == \
        [(r.name, r.split, r.breed, r.species, r.label) for r in records]


def _head_box(name: str) -> tuple[int, int, int, int] | None:
    """TINY_HEAD_BOXES' PASCAL VOC box (1-based, inclusive) as [x0, y0, x1, y1) in 0-based pixels, by hand."""
    if name not in TINY_HEAD_BOXES:
        return None
    xmin, ymin, xmax, ymax = TINY_HEAD_BOXES[name]
    return xmin - 1, ymin - 1, xmax, ymax


def _in_box(row: int, col: int, box: tuple[int, int, int, int] | None) -> float:
    return math.nan if box is None else float(box[0] <= col < box[2] and box[1] <= row < box[3])


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_model_scores_are_those_of_its_top1_map_at_photo_size(tiny_pets, records, resnet18, resnet_results) -> None:
    """Batches of 5 photos of two shapes give what explaining one photo alone gives."""
    for record, result in zip(records[::4], resnet_results[::4]):
        photo = load_image(pets.image_path(tiny_pets, record))
        (explanation,) = explain([photo], resnet18, MapOptions(top_k=1, size_px=SIZE_PX))
        full = explanation.at_image_size()[:1]
        mask = pets.pet_mask(tiny_pets, record)[None]
        assert result.predicted_index == explanation.predictions[0].class_index
        assert result.predicted_name == resnet18.class_names[result.predicted_index]
        assert result.probability == pytest.approx(explanation.predictions[0].probability, rel=1e-5)
        scores = result.localisation["model"]
        assert scores.pointing == mask[0].flat[full[0].argmax()]
        assert scores.iou == pytest.approx(localisation.mask_iou(heatmap.normalise(full), mask, 0.2)[0], abs=1e-5)
        assert scores.rel_energy == pytest.approx(localisation.relative_energy(full, mask)[0], rel=1e-4)
        assert scores.localised == localisation.box_localised(heatmap.normalise(full), mask, 0.2)[0]
        assert _same(scores.head_pointing, _in_box(*np.unravel_index(full[0].argmax(), full[0].shape),
                                                   _head_box(record.name)))
        np.testing.assert_allclose(result.top_map, explanation.maps[0], rtol=1e-4, atol=1e-6)


def test_gaussian_baseline_points_at_the_centre_pixel(tiny_pets, records, resnet_results) -> None:
    """The centre pixel (the upper-left one of an even size) is on each pet; only Bengal_12's head box, which
    spans its whole photo, holds it (by hand: e.g. Abyssinian_1's head ends at row 30, the centre is row 35)."""
    for record, result in zip(records, resnet_results):
        mask = pets.pet_mask(tiny_pets, record)
        height, width = mask.shape
        centre = (height - 1) // 2, (width - 1) // 2
        gauss = result.localisation["gaussian"]
        assert gauss.pointing == mask[centre]
        assert _same(gauss.head_pointing, _in_box(*centre, _head_box(record.name)))
        assert 0.0 <= gauss.iou <= 1.0
        assert 0.0 <= gauss.rel_energy <= 1 / mask.mean()
    heads = {r.name: r.localisation["gaussian"].head_pointing for r in resnet_results}
    head_hits = {name: hit for name, hit in heads.items() if not math.isnan(hit)}
    assert head_hits == {"Abyssinian_1": 0.0, "american_bulldog_4": 0.0, "beagle_6": 0.0, "Bengal_12": 1.0}


def _gaussian_box(height: int, width: int) -> tuple[int, int, int, int]:
    """By hand: a centred Gaussian with sigma a quarter of each side keeps, at 20% of its peak pixel, one
    convex ellipse, so the largest region's box is the box of every pixel inside it."""
    ys = (np.arange(height) - (height - 1) / 2) / (0.25 * height)
    xs = (np.arange(width) - (width - 1) / 2) / (0.25 * width)
    gauss = np.exp(-0.5 * (ys[:, None] ** 2 + xs[None, :] ** 2))
    rows, cols = np.nonzero(gauss >= 0.2 * gauss.max())
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    inter = max(min(a[2], b[2]) - max(a[0], b[0]), 0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def big_pets(tiny_pets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny data set with the trimaps of Abyssinian_10 and beagle_7 all pet (value 1): their pet box is
    the whole photo."""
    root = tmp_path_factory.mktemp("big_pets")
    shutil.copytree(tiny_pets / "oxford-iiit-pet", root / "oxford-iiit-pet")
    for name in ("Abyssinian_10", "beagle_7"):
        path = root / "oxford-iiit-pet" / "annotations" / "trimaps" / f"{name}.png"
        with Image.open(path) as trimap:
            Image.new("L", trimap.size, pets.TRIMAP_PET).save(path)
    return root


def test_gaussian_box_localises_a_pet_filling_the_photo_and_misses_the_small_ones(big_pets, resnet18) -> None:
    """By hand the Gaussian's box covers about 0.8 of the photo: IoU about 0.8 with a whole-photo pet box,
    about 0.48 with the tiny ellipse pets' boxes (trimap values 1 and 3)."""
    records = pets.pet_index(big_pets)
    results = predict_records(big_pets, records, resnet18, MapOptions(size_px=SIZE_PX), random_model=resnet18)
    for record, result in zip(records, results):
        trimap = pets.trimap(big_pets, record)
        rows, cols = np.nonzero(trimap != pets.TRIMAP_BACKGROUND)
        pet_box = int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1
        iou = _iou(_gaussian_box(*trimap.shape), pet_box)
        assert abs(iou - 0.5) > 0.01, "too close to the criterion for a test"
        assert result.localisation["gaussian"].localised == (iou >= 0.5)
    assert [r.name for r in results if r.localisation["gaussian"].localised] == ["Abyssinian_10", "beagle_7"]


def test_scores_lie_in_their_ranges(tiny_pets, records, resnet_results) -> None:
    for record, result in zip(records, resnet_results):
        share = pets.pet_mask(tiny_pets, record).mean()
        assert list(result.localisation) == list(BASELINES)
        for scores in result.localisation.values():
            assert isinstance(scores.pointing, bool)
            assert isinstance(scores.localised, bool)
            assert 0.0 <= scores.iou <= 1.0
            assert 0.0 <= scores.rel_energy <= 1 / share + 1e-9
            head = scores.head_pointing
            assert math.isnan(head) if record.name not in TINY_HEAD_BOXES else head in (0.0, 1.0)


def test_random_baseline_is_the_given_model_else_the_seed0_randomised_copy(tiny_pets, records, resnet18,
                                                                            resnet_results) -> None:
    """The resnet18 fixture is torchvision's init under seed 0, which is what randomised(seed=0) rebuilds."""
    for result in resnet_results:  # made with the default random_model
        for score, value in result.localisation["model"].as_dict().items():
            assert _same(result.localisation["random"].as_dict()[score], value), score
    subset = records[:3]
    same = predict_records(tiny_pets, subset, resnet18, MapOptions(size_px=SIZE_PX), random_model=resnet18)
    for result in same:
        for score, value in result.localisation["model"].as_dict().items():
            assert _same(result.localisation["random"].as_dict()[score], value), score
    other = randomised(resnet18, seed=1)
    mixed = predict_records(tiny_pets, subset, resnet18, MapOptions(size_px=SIZE_PX), random_model=other)
    expected = predict_records(tiny_pets, subset, other, MapOptions(size_px=SIZE_PX))
    def energies(results: list, name: str) -> list[float]:
        return [r.localisation[name].rel_energy for r in results]

    assert energies(mixed, "random") == energies(expected, "model")
    assert energies(mixed, "random") != energies(mixed, "model")


def test_progress_is_called_after_each_batch_up_to_the_total(tiny_pets, records, resnet18) -> None:
    calls: list[tuple[int, int]] = []
    predict_records(tiny_pets, records, resnet18, MapOptions(size_px=SIZE_PX), batch_size=5, random_model=resnet18,
                    progress=lambda done, total: calls.append((done, total)))
    assert calls == [(5, 12), (10, 12), (12, 12)]


def test_gradcam_maps_are_scored_too(tiny_pets, records, resnet18) -> None:
    results = predict_records(tiny_pets, records[:2], resnet18, MapOptions(method="gradcam", size_px=SIZE_PX),
                              random_model=resnet18)
    assert len(results) == 2 and all(0.0 <= r.localisation["model"].iou <= 1.0 for r in results)


def test_batch_size_below_one_is_refused(tiny_pets, records, resnet18) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        predict_records(tiny_pets, records, resnet18, batch_size=0, random_model=resnet18)


def test_faithfulness_is_off_by_default_and_else_each_maps_own(tiny_pets, records, resnet18, resnet_results,
                                                               faithful_results) -> None:
    """Each map holds its own scores: the top-1 map's, the Gaussian's and the random map's, as
    explanation_faithfulness gives them for the photo alone."""
    assert all(list(r.faithfulness) == list(FAITHFULNESS_BASELINES) for r in (*resnet_results, *faithful_results))
    assert all(math.isnan(value) for r in resnet_results
               for scores in r.faithfulness.values() for value in scores.as_dict().values())
    for record, result in zip(records[:2], faithful_results):
        photo = load_image(pets.image_path(tiny_pets, record))
        (explained,) = explain([photo], resnet18, MapOptions(top_k=1, size_px=SIZE_PX))
        report = explanation_faithfulness(photo, resnet18, explained, steps=2)
        for name, scores in (("model", report.method), ("gaussian", report.gaussian_map),
                             ("random_map", report.random_map)):
            stored = result.faithfulness[name]
            assert stored.deletion_auc == pytest.approx(scores.deletion.auc)
            assert stored.insertion_auc == pytest.approx(scores.insertion.auc)
            assert stored.confidence_drop == pytest.approx(scores.drop)
            assert stored.confidence_increase == float(scores.increase)


def _state(model: LoadedModel) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in model.module.state_dict().items()}


def test_randomised_is_the_architectures_own_init_under_the_seed(resnet18) -> None:
    before, rng = _state(resnet18), torch.get_rng_state()
    copy = randomised(resnet18, seed=3)
    assert torch.equal(torch.get_rng_state(), rng)
    torch.manual_seed(3)
    fresh = torchvision.models.resnet18().state_dict()
    assert all(torch.equal(value, fresh[key]) for key, value in copy.module.state_dict().items())
    assert all(torch.equal(value, before[key]) for key, value in resnet18.module.state_dict().items())
    assert not torch.equal(copy.module.fc.weight, randomised(resnet18, seed=4).module.fc.weight)


def test_randomised_model_is_frozen_and_keeps_the_labels_and_cam_parts(resnet18, binary_resnet) -> None:
    for model in (resnet18, binary_resnet):
        copy = randomised(model)
        assert copy.module is not model.module and not copy.module.training
        assert not any(p.requires_grad for p in copy.module.parameters())
        assert (copy.class_names, copy.binary, copy.layers, copy.preprocessing) == \
            (model.class_names, model.binary, model.layers, model.preprocessing)
        assert copy.cam is not None and copy.cam.linear is not model.cam.linear
        assert copy.cam.linear.out_features == model.cam.linear.out_features


@pytest.mark.shared_data
def test_real_lite0_cams_localise_pets_better_than_both_baselines(lite0, pets_root: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    """`python -m camcore evaluate` on 80 photos spread over the mini data set's test split (docs/maps.md has the
    whole split's numbers), with the real weights that ship with the app; no calibration split, which would score
    the trainval photos too."""
    out = tmp_path / "lite0.json"
    assert main(["evaluate", "--data", str(pets_root.parent), "--split", "test", "--limit", "80", "--model",
                 lite0.spec, "--method", "cam", "--device", "cpu", "--calibrate-on", "none", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())["summary"]
    print(capsys.readouterr().out)
    assert summary["count"] == 80
    assert summary["pointing"]["model"] > 0.8
    for score in ("iou", "rel_energy", "localised"):
        assert summary[score]["model"] > max(summary[score]["gaussian"], summary[score]["random"])
    assert np.isfinite([summary["iou"]["model"], summary["rel_energy"]["model"]]).all()
    assert summary["head_pointing"]["model"] is None  # Oxford's head boxes are for trainval photos only


@pytest.mark.shared_data
def test_real_lite0_cams_are_more_faithful_than_a_random_map(lite0, pets_root: Path, tmp_path: Path) -> None:
    """Deletion and insertion on 4 photos: on 100 (docs/maps.md) CAM beat the random map photo by photo in 85 and 82,
    so these fixed 4 photos' means are safe; the drop in confidence is not (these 4: 0.25 against 0.19)."""
    out = tmp_path / "faithful.json"
    assert main(["evaluate", "--data", str(pets_root.parent), "--split", "test", "--limit", "4", "--model",
                 lite0.spec, "--device", "cpu", "--faithfulness", "5", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())["summary"]
    assert summary["deletion_auc"]["model"] < summary["deletion_auc"]["random_map"]
    assert summary["insertion_auc"]["model"] > summary["insertion_auc"]["random_map"]
