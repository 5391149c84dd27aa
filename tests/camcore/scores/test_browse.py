"""The Dataset page's orders and filters by the model's answers (camcore.scores.browse), on hand-made results."""
from __future__ import annotations

import math
import random

from camcore.data.pets import PetRecord
from camcore.models.loading import LoadedModel
from camcore.scores import browse
from camcore.scores.record import ImageResult, MapScores

SCORES = {name: MapScores(pointing=False, iou=math.nan, rel_energy=math.nan, localised=False, head_pointing=math.nan)
          for name in ("model", "gaussian", "random")}


def record(name: str, species: str, breed: str) -> PetRecord:
    return PetRecord(name=name, label=0, species=species, breed=breed, split="test")


def result(rec: PetRecord, predicted: str, probability: float, correct: bool | None) -> ImageResult:
    return ImageResult(name=rec.name, split=rec.split, breed=rec.breed, species=rec.species, label=rec.label,
                       predicted_index=0 if predicted == "cat" else 1, predicted_name=predicted,
                       probability=probability, correct=correct, localisation=SCORES)


RECORDS = [record("Bengal_1", "cat", "Bengal"), record("beagle_2", "dog", "beagle"), record("pug_3", "dog", "pug")]
RESULTS = {r.name: result(r, predicted, p, correct) for r, (predicted, p, correct) in
           zip(RECORDS, [("cat", 0.9, True), ("cat", 0.6, False), ("dog", 0.3, True)])}


def test_random_order_is_reproducible_and_name_order_is_kept() -> None:
    assert browse.shuffled(RECORDS, browse.BY_NAME, 7) == RECORDS
    expected = list(RECORDS)
    random.Random(7).shuffle(expected)
    assert browse.shuffled(RECORDS, browse.RANDOM, 7) == expected


def test_confusion_pairs_answer_at_the_species_level_for_a_cat_dog_model(binary_resnet: LoadedModel) -> None:
    pairs = browse.confusion_pairs(binary_resnet, [RESULTS[r.name] for r in RECORDS])
    assert pairs == [("cat", "cat"), ("dog", "cat"), ("dog", "dog")]


def test_cells_mistakes_and_orders_by_answers() -> None:
    pairs = [("cat", "cat"), ("dog", "cat"), ("dog", "dog")]

    def names(**options: object) -> list[str]:
        return [r.name for r in browse.by_answers(RECORDS, RESULTS, pairs, **options)]

    assert names(cell=("dog", "cat"), mistakes_only=False, order=browse.BY_NAME) == ["beagle_2"]
    assert names(cell=None, mistakes_only=True, order=browse.BY_NAME) == ["beagle_2"]
    assert names(cell=("cat", "cat"), mistakes_only=True, order=browse.BY_NAME) == []
    assert names(cell=None, mistakes_only=False, order=browse.CONFIDENCE) == ["pug_3", "beagle_2", "Bengal_1"]
    assert names(cell=None, mistakes_only=False, order=browse.WRONG_FIRST) == ["beagle_2", "Bengal_1", "pug_3"]
