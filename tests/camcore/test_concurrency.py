"""One shared model explained from many threads at once, as the app does for concurrent sessions: the results
equal those made one by one, the model is left untouched, and nothing accumulates."""
from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from camcore.cams import METHODS
from camcore.explain import Explanation, explain
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from tests.camcore.models.test_hooks import assert_untouched, model_state
from tests.conftest import make_photo

THREADS = 8
SIZE_PX = 64
Task = tuple[str, "str | None", int]
QUICK_METHODS = [key for key, method in METHODS.items() if not method.masked_scores]
"""Score-CAM runs a forward per channel: its threads are tested at a 64-channel layer in cams/test_scorecam.py."""


def _tasks(count: int) -> list[Task]:
    """(method, layer, photo seed): every method, the gradient ones at the default layer and at layer3."""
    methods = QUICK_METHODS
    tasks = []
    for i in range(count):
        method = methods[i % len(methods)]
        layer = "layer3" if METHODS[method].needs_gradients and (i // len(methods)) % 2 else None
        tasks.append((method, layer, i))
    return tasks


def _run(model: LoadedModel, task: Task) -> Explanation:
    method, layer, seed = task
    photo = make_photo(96 + 8 * (seed % 3), 80, seed=seed)
    (explanation,) = explain([photo], model, MapOptions(method=method, top_k=3, layer=layer, size_px=SIZE_PX))
    return explanation


def _in_threads(model: LoadedModel, tasks: list[Task]) -> list[Explanation]:
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(lambda task: _run(model, task), tasks))


def _live_tensors() -> int:
    gc.collect()
    return sum(issubclass(type(obj), torch.Tensor) for obj in gc.get_objects())  # type(): no proxy __class__


def test_threads_give_the_same_explanations_as_one_by_one(resnet18: LoadedModel) -> None:
    tasks = _tasks(2 * THREADS)
    state = model_state(resnet18.module)
    alone = [_run(resnet18, task) for task in tasks]
    together = _in_threads(resnet18, tasks)
    for task, one, other in zip(tasks, alone, together):
        assert [p.class_index for p in one.predictions] == [p.class_index for p in other.predictions], task
        assert np.allclose([p.probability for p in one.predictions], [p.probability for p in other.predictions])
        assert (one.method, one.layer) == (other.method, other.layer)
        assert np.allclose(one.maps, other.maps, rtol=1e-5, atol=1e-7), task
    assert_untouched(resnet18.module, state)


def test_memory_stays_flat_over_many_explanations(resnet18: LoadedModel) -> None:
    _in_threads(resnet18, _tasks(THREADS))  # warm-up: lazily built caches are not growth
    before = _live_tensors()
    _in_threads(resnet18, _tasks(30))
    assert _live_tensors() <= before


@pytest.mark.parametrize("method", QUICK_METHODS)
def test_one_method_from_all_threads_on_one_photo_agrees(resnet18: LoadedModel, method: str) -> None:
    """The hardest overlap: the same layer hooked by eight threads at once."""
    task = (method, None, 0)
    results = _in_threads(resnet18, [task] * THREADS)
    expected = _run(resnet18, task)
    assert all(np.allclose(result.maps, expected.maps, rtol=1e-5, atol=1e-7) for result in results)
