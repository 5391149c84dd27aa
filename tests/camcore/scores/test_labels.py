"""Judging a prediction against a pet's labels (camcore.scores.labels): ImageNet's dog and cat ranges, species for
a cat/dog model and ImageNet, breed for a breed model, none for other classes; by hand and in predict_records."""
from __future__ import annotations

import dataclasses
import statistics

import pytest

from camcore.models.loading import LoadedModel, imagenet_categories
from camcore.options import MapOptions
from camcore.scores.evaluate import predict_records
from camcore.scores.labels import (
    IMAGENET_CATS,
    IMAGENET_DOGS,
    imagenet_species,
    is_correct,
    judged_labels,
    true_class_index,
)
from camcore.scores.summary import summarise
from tests.camcore.scores.conftest import SIZE_PX


def test_imagenet_ranges_are_the_dogs_and_the_domestic_cats() -> None:
    names = imagenet_categories()
    assert (names[IMAGENET_DOGS[0]], names[IMAGENET_DOGS[-1]]) == ("Chihuahua", "Mexican hairless")
    assert (names[IMAGENET_CATS[0]], names[IMAGENET_CATS[-1]]) == ("tabby", "Egyptian cat")
    assert [imagenet_species(i) for i in (150, 151, 268, 269, 280, 281, 285, 286)] == \
        [None, "dog", "dog", None, None, "cat", "cat", None]


def test_imagenet_model_is_right_when_its_class_is_of_the_photos_species(resnet_results) -> None:
    for result in resnet_results:
        assert result.correct == (imagenet_species(result.predicted_index) == result.species)


def test_cat_dog_checkpoint_is_judged_by_species(tiny_pets, records, binary_resnet) -> None:
    results = predict_records(tiny_pets, records, binary_resnet, MapOptions(size_px=SIZE_PX),
                              random_model=binary_resnet)
    assert {r.predicted_name for r in results} <= {"cat", "dog"}
    assert [r.correct for r in results] == [r.predicted_name == r.species for r in results]


def test_breed_checkpoint_is_judged_by_breed(tiny_pets, records, breed_model) -> None:
    results = predict_records(tiny_pets, records, breed_model, MapOptions(size_px=SIZE_PX), random_model=breed_model)
    assert [r.correct for r in results] == \
        [r.predicted_name.lower().replace(" ", "_") == r.breed.lower() for r in results]
    assert summarise(results)["accuracy"] == pytest.approx(statistics.mean(r.correct for r in results))


def test_unknown_label_space_leaves_correct_undefined(tiny_pets, records, binary_resnet) -> None:
    other = dataclasses.replace(binary_resnet, class_names=("indoor", "outdoor"))
    results = predict_records(tiny_pets, records[:2], other, MapOptions(size_px=SIZE_PX), random_model=other)
    assert [r.correct for r in results] == [None, None]
    assert summarise(results)["accuracy"] is None


def test_true_class_is_the_species_breed_or_imagenet_class_of_the_same_name(resnet18, binary_resnet,
                                                                          breed_model) -> None:
    assert true_class_index(binary_resnet, "dog", "beagle") == 1
    assert true_class_index(binary_resnet, "cat", "Bengal") == 0
    assert true_class_index(breed_model, "dog", "american_bulldog") == 1
    assert resnet18.class_names[true_class_index(resnet18, "dog", "saint_bernard")] == "Saint Bernard"
    assert true_class_index(resnet18, "cat", "Abyssinian") is None
    assert true_class_index(breed_model, "dog", "pug") is None


def test_judged_labels_are_at_the_level_the_model_answers(resnet18: LoadedModel, binary_resnet: LoadedModel,
                                                          breed_model: LoadedModel) -> None:
    """By hand: ImageNet's 207 is golden retriever, 283 Persian cat, 0 tench (neither); the breed model's class 1 is
    "American Bulldog", 2 "Beagle"."""
    assert judged_labels(binary_resnet, "dog", "beagle", 0) == ("dog", "cat")
    assert judged_labels(resnet18, "dog", "beagle", 207) == ("dog", "dog")
    assert judged_labels(resnet18, "cat", "Bengal", 283) == ("cat", "cat")
    assert judged_labels(resnet18, "cat", "Bengal", 0) == ("cat", "other")
    assert judged_labels(breed_model, "dog", "american_bulldog", 1) == ("american_bulldog", "american_bulldog")
    assert judged_labels(breed_model, "dog", "american_bulldog", 2) == ("american_bulldog", "beagle")
    assert judged_labels(breed_model, "dog", "pug", 2) is None
    assert [is_correct(resnet18, "dog", "beagle", index) for index in (207, 283, 0)] == [True, False, False]
    assert is_correct(breed_model, "dog", "american_bulldog", 1) is True
    assert is_correct(breed_model, "dog", "pug", 1) is None
