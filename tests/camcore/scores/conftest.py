"""The evaluation's shared results on the tiny data set (predict_records once for the whole package: the runner's,
the labels' and the summary's tests read the same ones) and a 4-breed checkpoint."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from camcore.data import pets
from camcore.models.checkpoints import Checkpoint, save_checkpoint
from camcore.models.loading import LoadedModel, load_model
from camcore.options import MapOptions
from camcore.scores.evaluate import predict_records
from camcore.scores.record import ImageResult
from tests.conftest import SMALL

SIZE_PX = 64
"""Short side of the photos predict_records is given here: every forward in milliseconds."""


@pytest.fixture(scope="package")
def records(tiny_pets: Path) -> tuple[pets.PetRecord, ...]:
    return pets.pet_index(tiny_pets)


@pytest.fixture(scope="package")
def resnet_results(tiny_pets: Path, records, resnet18: LoadedModel) -> list[ImageResult]:
    return predict_records(tiny_pets, records, resnet18, MapOptions(size_px=SIZE_PX), batch_size=5)


@pytest.fixture(scope="package")
def faithful_results(tiny_pets: Path, records, resnet18: LoadedModel) -> list[ImageResult]:
    return predict_records(tiny_pets, records[:4], resnet18, MapOptions(size_px=SIZE_PX), batch_size=3,
                           faithfulness_steps=2)


@pytest.fixture(scope="package")
def breed_model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    """A 4-breed checkpoint named the way torchvision's classes are ("American Bulldog")."""
    torch.manual_seed(2)
    path = tmp_path_factory.mktemp("breeds") / "breeds.pt"
    save_checkpoint(Checkpoint(arch="resnet18", head="multiclass",
                               class_names=("Abyssinian", "American Bulldog", "Beagle", "Bengal"),
                               preprocessing=SMALL, state_dict=torchvision.models.resnet18(num_classes=4).state_dict()),
                    path)
    return load_model(str(path), device="cpu")
