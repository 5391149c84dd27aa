"""The classifier being trained, on a random-weight resnet18 file: the backbone is the file's, the new head is
nn.Linear initialised from the config's seed alone (every rank alike, whatever ran before), a
frozen backbone leaves only the head to the optimiser and its BatchNorm in eval mode, and the checkpoint it
writes loads into a model whose own forward gives the classifier's logits."""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from camcore.errors import ModelUnsupported
from camcore.models.checkpoints import save_checkpoint
from camcore.models.loading import LoadedModel, load_model
from camcore.train.config import TrainConfig
from camcore.train.data import BREEDS
from camcore.train.model import Classifier, _head_name, build_classifier, to_checkpoint

CPU = torch.device("cpu")


def config(weights: Path, **changes: object) -> TrainConfig:
    """Seed 5 unless changed."""
    return TrainConfig(**{"data_root": "unused", "arch": "resnet18", "weights": str(weights), "image_size_px": 64,
                          "seed": 5, "device": "cpu", **changes})


@pytest.fixture(scope="module")
def binary(resnet18_weights: Path) -> Classifier:
    """Read-only here: tests that change a classifier's flags build their own."""
    return build_classifier(config(resnet18_weights), CPU)


def photos() -> torch.Tensor:
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))


def test_the_backbone_is_the_file_s_and_the_head_is_new_from_the_seed(binary: Classifier,
                                                                       resnet18_weights: Path) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        expected_head = nn.Linear(512, 1)  # what the seed alone makes, whatever ran before
    assert binary.module.fc is binary.head
    assert torch.equal(binary.head.weight, expected_head.weight) and torch.equal(binary.head.bias, expected_head.bias)
    saved = torch.load(resnet18_weights, weights_only=True)
    state = binary.module.state_dict()
    assert {key for key in state if not key.startswith("fc.")} == {key for key in saved if not key.startswith("fc.")}
    assert all(torch.equal(state[key], saved[key]) for key in state if not key.startswith("fc."))
    assert all(parameter.requires_grad for parameter in binary.module.parameters())
    assert binary.parameters() == list(binary.module.parameters())


def test_every_rank_starts_alike_whatever_its_random_stream_did_before(resnet18_weights: Path) -> None:
    """Two ranks whose random streams differ build equal heads; another seed builds another head."""
    torch.manual_seed(1)
    rank0 = build_classifier(config(resnet18_weights, seed=9), CPU)
    torch.manual_seed(2)
    rank1 = build_classifier(config(resnet18_weights, seed=9), CPU)
    assert torch.equal(rank0.head.weight, rank1.head.weight) and torch.equal(rank0.head.bias, rank1.head.bias)
    other = build_classifier(config(resnet18_weights, seed=10), CPU)
    assert not torch.equal(other.head.weight, rank0.head.weight)


def test_the_binary_classifier_s_views_name_cat_and_dog_and_map_through_the_new_head(binary: Classifier) -> None:
    assert binary.binary and binary.class_names == ("cat", "dog") and binary.pooling == "avg"
    view = binary.loaded
    assert view.module is binary.module and view.binary and view.class_names == ("cat", "dog")
    assert view.cam is not None and view.cam.linear is binary.head
    assert view.preprocessing.resize_px == 64 and view.preprocessing == binary.preprocessing
    net, x = binary.module, photos()
    with torch.inference_mode():
        features = net.layer4(net.layer3(net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x))))))))
        torch.testing.assert_close(view.cam.linear(view.cam.pool(view.cam.features(x))),
                                   binary.head(features.mean(dim=(2, 3))))


def test_a_frozen_backbone_trains_the_head_alone_with_batchnorm_in_eval_mode(resnet18_weights: Path) -> None:
    frozen = build_classifier(config(resnet18_weights, freeze_backbone=True), CPU)
    head_ids = {id(parameter) for parameter in frozen.head.parameters()}
    assert {id(parameter) for parameter in frozen.parameters()} == head_ids
    assert [id(p) for p in frozen.module.parameters() if p.requires_grad] == [id(p) for p in frozen.head.parameters()]
    frozen.module.train()
    frozen.train_mode()
    assert frozen.head.training and not frozen.module.bn1.training and not frozen.module.layer4[1].bn2.training


def test_an_unfrozen_classifier_trains_every_module(resnet18_weights: Path) -> None:
    whole = build_classifier(config(resnet18_weights), CPU)
    whole.module.eval()
    whole.train_mode()
    assert all(module.training for module in whole.module.modules())


def test_the_breeds_task_has_37_outputs_named_by_breed(resnet18_weights: Path) -> None:
    breeds = build_classifier(config(resnet18_weights, task="breeds"), CPU)
    assert breeds.head.out_features == 37 and not breeds.binary
    assert breeds.class_names == breeds.loaded.class_names == BREEDS and breeds.class_names[4] == "beagle"


@pytest.mark.parametrize("pooling", ["avg", "tap:0.2"])
def test_the_checkpoint_loads_into_a_model_with_the_classifier_s_logits(resnet18_weights: Path, tmp_path: Path,
                                                                        pooling: str) -> None:
    classifier = build_classifier(config(resnet18_weights, pooling=pooling), CPU)
    with torch.no_grad():
        classifier.head.weight.add_(0.5)  # as training would have moved it
    trained = classifier.head.weight.detach().clone()
    checkpoint = to_checkpoint(classifier, {"step": 4})
    assert (checkpoint.arch, checkpoint.head, checkpoint.class_names, checkpoint.pooling) == (
        "resnet18", "binary", ("cat", "dog"), pooling)
    with torch.no_grad():
        classifier.head.weight.add_(1.0)  # after the copy: the checkpoint must not follow
    assert torch.equal(checkpoint.state_dict["fc.weight"], trained)
    with torch.no_grad():
        classifier.head.weight.copy_(trained)
    save_checkpoint(checkpoint, tmp_path / "best.pt")
    loaded = load_model(str(tmp_path / "best.pt"), device="cpu")
    assert loaded.binary and loaded.class_names == ("cat", "dog") and loaded.training_summary["step"] == 4
    classifier.module.eval()
    x = photos()
    with torch.inference_mode():
        torch.testing.assert_close(loaded.module(x), classifier.module(x))


def test_a_model_without_a_linear_layer_has_no_head_to_replace(resnet18: LoadedModel) -> None:
    convolutional = dataclasses.replace(resnet18, spec="convnet", cam=None,
                                        module=nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1)))
    with pytest.raises(ModelUnsupported, match="^convnet has no final Linear layer to replace"):
        _head_name(convolutional)


def test_the_head_replaced_is_the_cam_head_even_when_another_linear_comes_later(resnet18: LoadedModel) -> None:
    """A Linear registered after fc (an auxiliary layer, say): the CAM head's name wins; without CAM parts, the
    last Linear of the module tree is the head."""
    module = copy.deepcopy(resnet18.module)
    module.add_module("auxiliary", nn.Linear(512, 8))
    assert resnet18.cam is not None
    with_cam = dataclasses.replace(resnet18, module=module, cam=dataclasses.replace(resnet18.cam, linear=module.fc))
    assert _head_name(with_cam) == "fc"
    assert _head_name(dataclasses.replace(with_cam, cam=None)) == "auxiliary"
