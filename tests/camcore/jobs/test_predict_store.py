"""camcore.jobs.predict_store and predict.predict_missing: results round-trip exactly, keys follow the model version,
a half-written result counts as missing, and only missing photos are predicted, each stored as it comes."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from camcore.data import pets
from camcore.data.images import load_image
from camcore.data.pets import pet_index
from camcore.explain import explain
from camcore.jobs import predict
from camcore.jobs.predict_store import PredictStore
from camcore.models.loading import LoadedModel, randomised
from camcore.options import MapOptions
from camcore.scores.evaluate import predict_records
from camcore.scores.faithfulness import explanation_faithfulness
from camcore.scores.record import ImageResult

NAMES = ("Abyssinian_1", "beagle_7", "Bengal_12")
"""beagle_7 has no head box: its head_pointing scores are NaN, which JSON must carry."""
SIZE_PX = 64
"""Small inputs where the faithfulness curves' forward passes would otherwise dominate."""


@pytest.fixture(scope="module")
def expected(tiny_pets: Path, resnet18: LoadedModel) -> dict[str, ImageResult]:
    records = [record for record in pet_index(tiny_pets) if record.name in NAMES]
    results = predict_records(tiny_pets, records, resnet18, random_model=randomised(resnet18))
    return {result.name: result for result in results}


def fields(result: ImageResult) -> dict:
    """Every field but the map, nested ones as dicts (each map's scores, the WSOL curves' arrays)."""
    return {key: value for key, value in dataclasses.asdict(result).items() if key != "top_map"}


def leaves(nested: dict, path: str = "") -> dict:
    """{"localisation": {"model": {"iou": x}}} -> {"localisation.model.iou": x}."""
    flat: dict = {}
    for key, value in nested.items():
        flat |= leaves(value, f"{path}{key}.") if isinstance(value, dict) else {f"{path}{key}": value}
    return flat


def store_of(tiny_pets: Path, weights: Path, tmp_path: Path, method: str = "cam") -> PredictStore:
    return PredictStore.for_model(tiny_pets, "resnet18", str(weights), MapOptions(method=method),
                                  cache_dir=tmp_path / "store")


def test_results_round_trip_exactly_nan_included(tiny_pets: Path, resnet18_weights: Path, tmp_path: Path,
                                                 expected: dict[str, ImageResult]) -> None:
    store = store_of(tiny_pets, resnet18_weights, tmp_path)
    for result in expected.values():
        store.write(result)
    assert np.isnan(expected["beagle_7"].localisation["model"].head_pointing)
    again = PredictStore(store.path).results([*NAMES, "beagle_8"])
    assert sorted(again) == sorted(NAMES)
    for name, result in expected.items():
        np.testing.assert_equal(fields(again[name]), fields(result))  # assert_equal takes NaN == NaN
        assert again[name].top_map.dtype == result.top_map.dtype
        np.testing.assert_array_equal(again[name].top_map, result.top_map)
    leftovers = [path.name for path in (store.path / "results").iterdir() if path.name.startswith(".")]
    assert leftovers == []


def test_a_result_without_its_map_counts_as_missing(tiny_pets: Path, resnet18_weights: Path, tmp_path: Path,
                                                    expected: dict[str, ImageResult]) -> None:
    store = store_of(tiny_pets, resnet18_weights, tmp_path)
    store.write(expected["Abyssinian_1"])
    (store.path / "results" / "Abyssinian_1.npy").unlink()
    assert store.read("Abyssinian_1") is None and store.results(["Abyssinian_1"]) == {}
    with pytest.raises(ValueError, match="needs its top_map"):
        store.write(dataclasses.replace(expected["beagle_7"], top_map=None))
    assert not store.has("beagle_7")
    with pytest.raises(ValueError, match="not a photo's file name"):
        store.read("../key")


def test_the_key_follows_model_version_method_and_data_folder(tiny_pets: Path, resnet18_weights: Path,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "weights.pth"
    shutil.copy(resnet18_weights, weights)
    first = store_of(tiny_pets, weights, tmp_path)
    monkeypatch.chdir(tiny_pets.parent)  # the same folder named relatively is the same store
    assert store_of(Path(tiny_pets.name), weights, tmp_path) == first
    assert store_of(tiny_pets, weights, tmp_path, method="gradcam") != first
    assert store_of(tmp_path, weights, tmp_path) != first
    key = json.loads((first.path / "key.json").read_text())
    assert key["weights"] == str(weights.resolve()) and key["method"] == "cam"
    assert key["weights_mtime_ns"] == weights.stat().st_mtime_ns and key["model_mtime_ns"] is None
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # retrained at the same path
    assert store_of(tiny_pets, weights, tmp_path) != first


def test_predict_missing_predicts_only_what_the_store_lacks(tiny_pets: Path, resnet18_weights: Path, tmp_path: Path,
                                                            resnet18: LoadedModel, expected: dict[str, ImageResult],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    store = store_of(tiny_pets, resnet18_weights, tmp_path)
    store.write(expected["beagle_7"])
    batches: list[list[str]] = []
    progress: list[tuple[int, int]] = []

    def counted(root: Path, records: list, *args: object, **kwargs: object) -> list[ImageResult]:
        earlier = [name for batch in batches for name in batch]
        batches.append([record.name for record in records])
        assert all(store.has(name) for name in earlier) and not any(store.has(name) for name in batches[-1])
        return predict_records(root, records, *args, **kwargs)

    monkeypatch.setattr(predict, "predict_records", counted)
    monkeypatch.setattr(predict, "BATCH_SIZE", 1)
    records = [record for record in pet_index(tiny_pets) if record.name in NAMES]
    count = predict.predict_missing(store, tiny_pets, records, resnet18, MapOptions(method="cam"),
                                    progress=lambda done, total: progress.append((done, total)))
    assert count == 2 and batches == [["Abyssinian_1"], ["Bengal_12"]] and progress == [(1, 2), (2, 2)]
    for name, result in expected.items():  # batches of one: the same numbers up to float rounding
        stored = leaves(fields(store.read(name)))
        assert stored.keys() == leaves(fields(result)).keys()
        for key, value in leaves(fields(result)).items():
            if isinstance(value, (float, np.ndarray)):  # scores, and the WSOL curves' arrays
                np.testing.assert_allclose(stored[key], value, rtol=1e-5, equal_nan=True, err_msg=key)
            else:
                assert stored[key] == value, key
    assert predict.predict_missing(store, tiny_pets, records, resnet18, MapOptions(method="cam")) == 0
    assert len(batches) == 2


def test_faithfulness_gets_its_own_store_and_the_key_without_it_hashes_as_before(tiny_pets: Path,
                                                                                resnet18_weights: Path,
                                                                                tmp_path: Path) -> None:
    plain = store_of(tiny_pets, resnet18_weights, tmp_path)
    faithful = PredictStore.for_model(tiny_pets, "resnet18", str(resnet18_weights), MapOptions(method="cam"),
                                      faithfulness_steps=10, cache_dir=tmp_path / "store")
    assert faithful != plain
    assert json.loads((faithful.path / "key.json").read_text())["faithfulness_steps"] == 10
    before = {"data_root": str(tiny_pets.resolve()), "model": "resnet18", "model_mtime_ns": None,
              "weights": str(resnet18_weights.resolve()), "weights_mtime_ns": resnet18_weights.stat().st_mtime_ns,
              "method": "cam", "size_px": None}  # the key as it was before faithfulness existed
    assert plain.path.name == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:24]


def test_predict_missing_with_faithfulness_stores_each_photos_own_scores(tiny_pets: Path, resnet18_weights: Path,
                                                                        tmp_path: Path,
                                                                        resnet18: LoadedModel) -> None:
    """The stored scores equal explanation_faithfulness run on each photo alone, for all three maps."""
    store = PredictStore.for_model(tiny_pets, "resnet18", str(resnet18_weights),
                                   MapOptions(method="cam", size_px=SIZE_PX), faithfulness_steps=2,
                                   cache_dir=tmp_path / "store")
    records = [record for record in pet_index(tiny_pets) if record.name in NAMES[:2]]
    assert predict.predict_missing(store, tiny_pets, records, resnet18, MapOptions(method="cam", size_px=SIZE_PX),
                                   faithfulness_steps=2) == 2
    for record in records:
        stored = store.read(record.name)
        photo = load_image(pets.image_path(tiny_pets, record))
        explanation = explain([photo], resnet18, MapOptions(top_k=1, size_px=SIZE_PX))[0]
        report = explanation_faithfulness(photo, resnet18, explanation, steps=2)
        for name, scores in (("model", report.method), ("gaussian", report.gaussian_map),
                             ("random_map", report.random_map)):
            read = stored.faithfulness[name]
            assert read.deletion_auc == pytest.approx(scores.deletion.auc, rel=1e-4)
            assert read.insertion_auc == pytest.approx(scores.insertion.auc, rel=1e-4)
            assert read.confidence_drop == pytest.approx(scores.drop, rel=1e-4, abs=1e-6)
            assert read.confidence_increase == float(scores.increase)
        model = stored.faithfulness["model"]
        assert all(math.isfinite(value) for value in (model.deletion_auc, model.insertion_auc))
