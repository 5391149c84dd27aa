"""Shared first-time work done by many sessions in the same instant, as on a fresh server: the model cache's first
load happens once, and the prediction store and thumbnails that several sessions create together come out whole.
(The first-time imports themselves: tests/browser/test_first_visit.py, in a real browser.)"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from camcore.data import thumbnails
from camcore.data.pets import pet_index
from camcore.jobs.predict_store import PredictStore
from camcore.models import loading
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from camcore.scores.evaluate import predict_records
from tests.conftest import make_photo
from ui.common import models

SESSIONS = 8
T = TypeVar("T")


def all_at_once(work: Callable[[int], T]) -> list[T]:
    """`work(i)` on SESSIONS threads released together by a barrier."""
    barrier = threading.Barrier(SESSIONS)

    def released(index: int) -> T:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(SESSIONS) as pool:
        return list(pool.map(released, range(SESSIONS)))


def test_the_first_model_load_happens_once_for_sessions_arriving_together(resnet18_weights: Path,
                                                                          monkeypatch) -> None:
    loads: list[str] = []
    real = loading.load_model

    def counted(*args, **kwargs) -> LoadedModel:
        loads.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(models, "load_model", counted)
    models._model_on.clear()
    models._default_model_on.clear()
    got = all_at_once(lambda _: models.shared_model("resnet18", str(resnet18_weights), "cpu"))
    assert loads == ["resnet18"]
    assert all(model is got[0] for model in got)


def test_a_store_created_and_filled_by_sessions_at_once_is_whole(tiny_pets: Path, resnet18: LoadedModel,
                                                                 resnet18_weights: Path, tmp_path: Path) -> None:
    [result] = predict_records(tiny_pets, pet_index(tiny_pets)[:1], resnet18)

    def create_and_write(_: int) -> PredictStore:
        store = PredictStore.for_model(tiny_pets, "resnet18", str(resnet18_weights), MapOptions(method="cam"),
                                       cache_dir=tmp_path / "store")
        store.write(result)
        return store

    stores = all_at_once(create_and_write)
    assert len({store.path for store in stores}) == 1
    [again] = PredictStore(stores[0].path).results([result.name]).values()
    np.testing.assert_array_equal(again.top_map, result.top_map)
    assert again.predicted_index == result.predicted_index
    assert not [path for path in stores[0].path.rglob(".*")]  # no temporary file left behind


def test_thumbnails_made_by_sessions_at_once_are_whole(tmp_path: Path) -> None:
    photo = tmp_path / "cat.jpg"
    make_photo(400, 300).save(photo, quality=95)
    made = all_at_once(lambda _: thumbnails.thumbnail(photo, size_px=64, cache_dir=tmp_path / "cache"))
    assert len(set(made)) == 1
    with Image.open(made[0]) as small:
        small.load()
        assert small.size == (64, 48)
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [made[0].name]
