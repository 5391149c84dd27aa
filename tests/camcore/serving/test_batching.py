"""Concurrent explain calls on one model share batches, and each caller gets exactly its own photos' results."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from camcore.explain import explain
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from camcore.serving import batching
from tests.conftest import make_photo


@pytest.fixture
def slow_first_call(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records how many photos each explain() call held; the first call waits until every other caller has
    queued its request, as a busy model does while requests arrive. The CPU batches here as a GPU does."""
    monkeypatch.setattr(batching, "BATCHED_DEVICES", {"cuda", "cpu"})
    calls: list[int] = []
    lock = threading.Lock()

    def recording(images, model, *options, **keywords):
        with lock:
            calls.append(len(images))
            first = len(calls) == 1
        if first:
            time.sleep(0.5)
        return explain(images, model, *options, **keywords)

    monkeypatch.setattr(batching, "explain", recording)
    return calls


def _concurrently(jobs) -> list:
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [future.result() if future.exception() is None else future.exception() for future in futures]


def test_concurrent_callers_share_a_batch_and_get_their_own_maps(resnet18: LoadedModel,
                                                                slow_first_call: list[int]) -> None:
    photos = [make_photo(96, 72, seed=seed) for seed in range(6)]
    options = MapOptions(method="gradcam", top_k=2, size_px=64)
    results = _concurrently([lambda p=p: batching.explain_batched([p], resnet18, options) for p in photos])
    assert sum(slow_first_call) == 6 and len(slow_first_call) < 6, slow_first_call
    for photo, (result,) in zip(photos, results):
        alone = explain([photo], resnet18, MapOptions(method="gradcam", top_k=2, size_px=64))[0]
        assert [p.class_index for p in result.predictions] == [p.class_index for p in alone.predictions]
        np.testing.assert_allclose(result.signed_maps, alone.signed_maps, rtol=1e-4, atol=1e-5)


def test_different_settings_in_one_queue_are_explained_with_their_own(resnet18: LoadedModel,
                                                                      slow_first_call: list[int]) -> None:
    photo = make_photo(80, 80, seed=3)
    cam, gradcam = _concurrently([
        lambda: batching.explain_batched([photo], resnet18, MapOptions(method="cam", top_k=1, size_px=64)),
        lambda: batching.explain_batched([photo], resnet18, MapOptions(method="gradcam", top_k=3, size_px=64))])
    assert (cam[0].method, len(cam[0].predictions)) == ("cam", 1)
    assert (gradcam[0].method, len(gradcam[0].predictions)) == ("gradcam", 3)


def test_a_bad_request_fails_only_its_caller(resnet18: LoadedModel, slow_first_call: list[int]) -> None:
    photos = [make_photo(64, 64, seed=seed) for seed in range(3)]
    classes = [(1,), (10_000,), (2,)]
    results = _concurrently([lambda p=p, c=c: batching.explain_batched([p], resnet18,
                                                                       MapOptions(size_px=64, classes=c))
                             for p, c in zip(photos, classes)])
    assert isinstance(results[1], ValueError) and "out of range" in str(results[1])
    assert [results[0][0].predictions[0].class_index, results[2][0].predictions[0].class_index] == [1, 2]


def test_a_batch_holds_at_most_the_device_s_share_of_photos(resnet18: LoadedModel, slow_first_call: list[int],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "GPU_BATCH_PHOTOS", 2)
    photos = [make_photo(64, 64, seed=seed) for seed in range(7)]
    _concurrently([lambda p=p: batching.explain_batched([p], resnet18, MapOptions(size_px=64)) for p in photos])
    assert sum(slow_first_call) == 7 and max(slow_first_call) == 2, slow_first_call


def test_on_a_cpu_each_caller_explains_at_once(resnet18: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """No queue where batching is slower (bench/bench_batching.py): two callers' passes overlap in time."""
    running, overlapped, lock = [0], [False], threading.Lock()

    def recording(images, model, *options, **keywords):
        with lock:
            running[0] += 1
        time.sleep(0.3)
        with lock:
            overlapped[0] |= running[0] > 1
            running[0] -= 1
        return explain(images, model, *options, **keywords)

    monkeypatch.setattr(batching, "explain", recording)
    results = _concurrently([lambda s=s: batching.explain_batched([make_photo(64, 64, seed=s)], resnet18,
                                                                  MapOptions(size_px=64))
                             for s in range(2)])
    assert overlapped[0] and all(len(result) == 1 for result in results)


def test_a_call_with_progress_does_not_wait_for_the_model(resnet18: LoadedModel,
                                                          slow_first_call: list[int]) -> None:
    """Score-CAM's minutes-long passes report to their own caller's bar and never queue behind (or hold) others."""
    with batching._QUEUES_LOCK:
        queue = batching._QUEUES.setdefault(resnet18, batching._Queue())
    reports: list[tuple[int, int]] = []
    with queue.model_lock, ThreadPoolExecutor(1) as pool:  # another batch holds the model meanwhile
        future = pool.submit(batching.explain_batched, [make_photo(64, 64)], resnet18, MapOptions(size_px=64),
                             progress=lambda done, total: reports.append((done, total)))
        (result,) = future.result(timeout=60)
    assert slow_first_call == [1] and len(result.predictions) == 5
