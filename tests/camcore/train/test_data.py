"""The in-memory split: decoded once to square uint8, targets per task, even seeded subsets, flips on device."""
from __future__ import annotations

import torch

from camcore.models.preprocessing import Preprocessing
from camcore.train.data import BREEDS, class_names, load_split, normalise, spread
from camcore.train.probes import choose_probes
from tests.conftest import TINY_PETS


def test_split_is_square_uint8_with_task_targets(tiny_pets) -> None:
    binary = load_split(tiny_pets, "test", task="binary", image_size_px=48)
    breeds = load_split(tiny_pets, "test", task="breeds", image_size_px=48)
    expected = sorted((name, class_id, species) for name, class_id, species, _, split in TINY_PETS if split == "test")
    assert binary.images.shape == (len(expected), 3, 48, 48) and binary.images.dtype == torch.uint8
    assert list(binary.names) == [name for name, _, _ in expected]
    assert binary.targets.tolist() == [species - 1 for _, _, species in expected]  # dog = 1
    assert breeds.targets.tolist() == [class_id - 1 for _, class_id, _ in expected]
    assert [BREEDS[label] for label in breeds.targets.tolist()] == [name.rsplit("_", 1)[0] for name in breeds.names]
    assert class_names("binary") == ("cat", "dog") and len(class_names("breeds")) == 37
    assert binary.images[binary.species == 1].float().mean() > 0  # decoded, not zeros


def test_limit_spreads_evenly_and_depends_on_the_seed() -> None:
    records = list(range(100))
    chosen = spread(records, 10, seed=1)  # type: ignore[arg-type]
    assert len(chosen) == 10 and all(9 <= b - a <= 11 for a, b in zip(chosen, chosen[1:]))
    assert spread(records, 10, seed=1) == chosen and spread(records, 10, seed=2) != chosen  # type: ignore[arg-type]
    assert spread(records, None, seed=1) == tuple(records)  # type: ignore[arg-type]


def test_normalise_flips_only_the_flagged_photos() -> None:
    batch = torch.arange(2 * 3 * 2 * 4, dtype=torch.uint8).view(2, 3, 2, 4)
    pre = Preprocessing(resize_px=64, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    plain = normalise(batch, pre, flips=None, memory_format=torch.contiguous_format)
    mixed = normalise(batch, pre, flips=torch.tensor([True, False]), memory_format=torch.contiguous_format)
    assert torch.allclose(plain, (batch.float() / 255 - 0.5) / 0.25)
    assert torch.equal(mixed[0], plain[0].flip(-1)) and torch.equal(mixed[1], plain[1])


def test_probes_are_half_cats_half_dogs(tiny_pets) -> None:
    test = load_split(tiny_pets, "test", task="binary", image_size_px=32)
    assert sorted(test.species[choose_probes(test, 4)].tolist()) == [0, 0, 1, 1]
    assert sorted(test.species[choose_probes(test, 6)].tolist()) == [0, 0, 1, 1, 1, 1]  # only 2 cats in the split
