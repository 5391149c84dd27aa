"""Judging a prediction against a pet's labels: its species (a cat/dog model, ImageNet's dogs and cats) or breed."""
from __future__ import annotations

from collections.abc import Sequence

from camcore.data import pets
from camcore.models.loading import LoadedModel, imagenet_categories

IMAGENET_DOGS = range(151, 269)
"""ImageNet-1k indices 151..268: the dog breeds (Chihuahua .. Mexican hairless)."""
IMAGENET_CATS = range(281, 286)
"""ImageNet-1k indices 281..285: the domestic cats (tabby, tiger cat, Persian, Siamese, Egyptian cat)."""


def judged_labels(model: LoadedModel, species: str, breed: str, class_index: int) -> tuple[str, str] | None:
    """(true, predicted) at the level the model answers: the species for a cat/dog model or an ImageNet one
    (an ImageNet class that is neither a cat nor a dog is "other"), the breed for a model whose classes are
    breed names ("American Bulldog" matches american_bulldog); None when the model answers neither."""
    names = model.class_names
    if _answers_species(model):
        return species, names[class_index]
    if names == imagenet_categories():
        return species, imagenet_species(class_index) or "other"
    return None if _breed_index(names, breed) is None else (_breed_key(breed), _breed_key(names[class_index]))


def is_correct(model: LoadedModel, species: str, breed: str, class_index: int) -> bool | None:
    """Whether class_index names the pet's species or breed at the level the model answers (judged_labels); None
    when the model's classes say neither."""
    labels = judged_labels(model, species, breed, class_index)
    return None if labels is None else labels[0] == labels[1]


def true_class_index(model: LoadedModel, species: str, breed: str) -> int | None:
    """The model's class for a photo's label: its species for a cat/dog model, else the class named like its
    breed (ImageNet too has some: "Saint Bernard" is saint_bernard); None when the model has no such class."""
    if _answers_species(model):
        return model.class_names.index(species)
    return _breed_index(model.class_names, breed)


def imagenet_species(class_index: int) -> str | None:
    """"cat", "dog" or None for an ImageNet-1k class index."""
    if class_index in IMAGENET_DOGS:
        return "dog"
    return "cat" if class_index in IMAGENET_CATS else None


def _answers_species(model: LoadedModel) -> bool:
    return set(model.class_names) == set(pets.SPECIES)


def _breed_index(names: Sequence[str], breed: str) -> int | None:
    keys = [_breed_key(name) for name in names]
    return keys.index(_breed_key(breed)) if _breed_key(breed) in keys else None


def _breed_key(name: str) -> str:
    return name.strip().lower().replace(" ", "_")
