"""How the Dataset page orders and filters photos by a model's answers: sort orders, confusion cells, mistakes."""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from camcore.data.pets import PetRecord
from camcore.models.loading import LoadedModel
from camcore.scores.labels import judged_labels
from camcore.scores.record import ImageResult

BY_NAME, RANDOM, CONFIDENCE, WRONG_FIRST = "name", "random", "confidence", "wrong_first"
ORDERS = (BY_NAME, RANDOM, CONFIDENCE, WRONG_FIRST)
"""The sort orders (the page words them: ui.dataset.inputs); the last two need the model's answers."""


def shuffled(records: Sequence[PetRecord], order: str, seed: int) -> list[PetRecord]:
    """The records in file-name order, or shuffled reproducibly by `seed` for the random order."""
    ordered = list(records)
    if order == RANDOM:
        random.Random(seed).shuffle(ordered)
    return ordered


def confusion_pairs(model: LoadedModel, results: Sequence[ImageResult]) -> list[tuple[str, str]]:
    """(true, predicted) at the level the model answers; the breed and class name where it answers neither."""
    return [judged_labels(model, r.species, r.breed, r.predicted_index) or (r.breed, r.predicted_name)
            for r in results]


def by_answers(records: Sequence[PetRecord], results: Mapping[str, ImageResult], pairs: Sequence[tuple[str, str]],
               *, cell: tuple[str, str] | None, mistakes_only: bool, order: str) -> list[PetRecord]:
    """The records whose (true, predicted) pair is `cell` (None: any) and, with mistakes_only, that the model got
    wrong; sorted by confidence (lowest first) or wrong first when `order` asks (a stable sort otherwise)."""
    kept = [record for record, pair in zip(records, pairs)
            if cell in (None, pair) and not (mistakes_only and results[record.name].correct is not False)]
    if order == CONFIDENCE:
        kept.sort(key=lambda record: results[record.name].probability)
    elif order == WRONG_FIRST:
        kept.sort(key=lambda record: results[record.name].correct is not False)
    return kept
