"""Concurrent explain() calls on one shared model become one batched call, as model servers batch requests.

Many sessions explaining at once would otherwise each start their own forward pass: on a CPU the passes fight
for the same cores (each one's intra-op threads oversubscribe them), and on a GPU each launches small kernels
that leave the card idle. Here a call queues its photos and waits for the model; whichever caller gets the model
next explains everything queued by then in one explain() per setting (photos of one input shape share a batch),
so while one batch runs the next one gathers. No thread of its own: nothing to stop when a model is evicted.

Only on a GPU, where batching is what fills the card (up to GPU_BATCH_PHOTOS photos a pass). On these 2-core CPUs
each caller explains on its own, at once: one batch of 16 photos takes about twice as long as 16 single passes
(small caches), and queueing single passes one after another leaves a core idle (`python -m bench.bench_batching`).
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from PIL import Image

from camcore.cams import Progress
from camcore.explain import Explanation, explain
from camcore.models.loading import LoadedModel
from camcore.options import DEFAULTS, MapOptions


@dataclass(frozen=True)
class _Request:
    images: Sequence[Image.Image]
    options: MapOptions  # photos with equal options share an explain() call
    result: Future = field(default_factory=Future)


class _Queue:
    """One model's waiting requests; `model_lock` lets one batch at a time use the model."""

    def __init__(self) -> None:
        self.model_lock = threading.Lock()
        self._pending: list[_Request] = []
        self._pending_lock = threading.Lock()

    def put(self, request: _Request) -> None:
        with self._pending_lock:
            self._pending.append(request)

    def take_all(self) -> list[_Request]:
        with self._pending_lock:
            taken, self._pending = self._pending, []
        return taken


BATCHED_DEVICES = {"cuda"}
"""Device types whose callers queue and share batches; elsewhere explain_batched is explain."""
GPU_BATCH_PHOTOS = 32
"""Most photos in one batched pass on a GPU."""

_QUEUES: weakref.WeakKeyDictionary[LoadedModel, _Queue] = weakref.WeakKeyDictionary()
_QUEUES_LOCK = threading.Lock()


def explain_batched(images: Sequence[Image.Image], model: LoadedModel, options: MapOptions = DEFAULTS, *,
                    progress: Progress | None = None) -> list[Explanation]:
    """explain(), with the photos of concurrent callers on the same model explained together.

    Results equal explain()'s (images are independent in eval mode); elapsed_s is that of the batch that held
    these photos, queueing excluded. Errors reach only the callers whose batch raised them. A call that wants
    progress (Score-CAM's passes, seconds to minutes) runs on its own: its bar is its caller's, and it must not hold
    the model while other sessions' quick maps wait.
    """
    if model.device.type not in BATCHED_DEVICES or progress is not None:
        return explain(images, model, options, progress=progress)
    with _QUEUES_LOCK:
        queue = _QUEUES.setdefault(model, _Queue())
    request = _Request(images, options)
    queue.put(request)
    with queue.model_lock:
        if not request.result.done():
            taken = queue.take_all()
            try:
                _run(model, taken)
            finally:  # an interrupt in this caller's thread must not leave the others waiting forever
                for other in taken:
                    if not other.result.done():
                        other.result.set_exception(RuntimeError("The batch holding this photo was interrupted."))
    return request.result.result()


def _run(model: LoadedModel, requests: list[_Request]) -> None:
    """One explain() per distinct setting over every queued photo, results handed back per request."""
    groups: dict[tuple[MapOptions, bool], list[_Request]] = {}
    for request in requests:
        groups.setdefault(_shared(request.options), []).append(request)
    for group in (chunk for same in groups.values() for chunk in _chunks(same, GPU_BATCH_PHOTOS)):
        try:
            _explain_group(model, group)
        except Exception as exc:  # noqa: BLE001 - retried alone, so that a bad request fails only its caller
            if len(group) == 1:
                group[0].result.set_exception(exc)
            else:
                _run_alone(model, group)


def _chunks(requests: list[_Request], most_photos: int) -> list[list[_Request]]:
    """Consecutive runs of requests holding at most `most_photos` photos (a larger request runs alone)."""
    chunks: list[list[_Request]] = []
    photos = 0
    for request in requests:
        if not chunks or photos + len(request.images) > most_photos:
            chunks.append([])
            photos = 0
        chunks[-1].append(request)
        photos += len(request.images)
    return chunks


def _run_alone(model: LoadedModel, group: list[_Request]) -> None:
    for request in group:
        try:
            _explain_group(model, [request])
        except Exception as exc:  # noqa: BLE001 - handed to its caller, who raises it as its own
            request.result.set_exception(exc)


def _explain_group(model: LoadedModel, group: list[_Request]) -> None:
    images = [image for request in group for image in request.images]
    options, chosen = _shared(group[0].options)
    classes = [request.options.classes or () for request in group for _ in request.images] if chosen else None
    explained = explain(images, model, options, per_photo_classes=classes)
    start = 0
    for request in group:
        mine = explained[start:start + len(request.images)]
        request.result.set_result([replace(explanation, options=request.options) for explanation in mine])
        start += len(request.images)


def _shared(options: MapOptions) -> tuple[MapOptions, bool]:
    """What photos must share to be explained in one call, and whether they name their classes: the classes
    themselves may differ (explain's per_photo_classes), as long as each request names as many."""
    return replace(options, classes=None, top_k=options.explained), options.classes is not None
