"""Training steps and evaluation on a resnet18 classifier and four generated 32 px photos, each checked against a
hand-made reference: the photos normalised and mirrored by hand, the loss of torch's own mean-reduced functions,
SGD's update computed from autograd's gradient on a copy of the model, and the confusion matrix counted in a loop
over the model's own eval-mode logits."""
from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from camcore.distributed import World
from camcore.train import steps
from camcore.train.config import TrainConfig
from camcore.train.data import PetTensors
from camcore.train.model import Classifier, build_classifier
from camcore.train.steps import epoch_order, evaluate, per_image_loss, predicted_class, train_step

LR = 0.1
FLIPS = torch.tensor([True, False, False, True])


def classifier_for(weights: Path, **changes: object) -> Classifier:
    config = TrainConfig(data_root="unused", arch="resnet18", weights=str(weights), image_size_px=32, seed=3,
                         device="cpu", **changes)
    return build_classifier(config, torch.device("cpu"))


@pytest.fixture
def data() -> PetTensors:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=generator)
    targets = torch.tensor([0, 1, 1, 0])
    return PetTensors(images=images, targets=targets, species=targets, names=("a", "b", "c", "d"))


@pytest.fixture
def frozen(resnet18_weights: Path) -> Classifier:
    """The head alone trains and BatchNorm keeps its statistics, so one image's gradient is its own."""
    classifier = classifier_for(resnet18_weights, freeze_backbone=True)
    classifier.train_mode()
    return classifier


def by_hand(classifier: Classifier, images: torch.Tensor, flips: torch.Tensor | None) -> torch.Tensor:
    """uint8 photos -> the normalised input, each mirrored left-right where flips says."""
    x = images.float() / 255
    if flips is not None:
        x = torch.stack([photo.flip(-1) if flip else photo for photo, flip in zip(x, flips)])
    mean = torch.tensor(classifier.preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(classifier.preprocessing.std).view(1, 3, 1, 1)
    return (x - mean) / std


def head_after_sgd(classifier: Classifier, x: torch.Tensor, targets: torch.Tensor,
                   scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(weight, bias) of the head after one SGD step on scale * the mean BCE loss of x, on a copy of the model; and
    the copy's logits before the step."""
    twin = copy.deepcopy(classifier.module)
    logits = twin(x)[:, 0]
    loss = scale * F.binary_cross_entropy_with_logits(logits, targets.float())
    weight_grad, bias_grad = torch.autograd.grad(loss, [twin.fc.weight, twin.fc.bias])
    return twin.fc.weight.detach() - LR * weight_grad, twin.fc.bias.detach() - LR * bias_grad, logits.detach()


def step(classifier: Classifier, data: PetTensors, indices: torch.Tensor, flips: torch.Tensor, world: World, *,
         stop: bool = False) -> steps.StepResult:
    optimizer = torch.optim.SGD(classifier.parameters(), lr=LR)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    return train_step(classifier, classifier.module, optimizer, scaler, data.images, data, indices, flips, world,
                      lambda: stop)


def test_losses_and_predictions_match_hand_worked_values() -> None:
    binary = per_image_loss(torch.tensor([[2.0], [-1.0]]), torch.tensor([1, 0]), binary=True)
    torch.testing.assert_close(binary, torch.tensor([math.log(1 + math.exp(-2)), math.log(1 + math.exp(-1))]))
    three = per_image_loss(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([2]), binary=False)
    torch.testing.assert_close(three, torch.tensor([math.log(math.e + math.e ** 2 + math.e ** 3) - 3]))
    assert predicted_class(torch.tensor([[0.5], [-0.1], [0.0]]), binary=True).tolist() == [1, 0, 0]  # dog if z > 0
    assert predicted_class(torch.tensor([[0.1, 0.7, 0.2], [3.0, -1.0, 2.0]]), binary=False).tolist() == [1, 0]


def test_an_epoch_s_order_is_a_permutation_fixed_by_seed_and_epoch() -> None:
    order, flips = epoch_order(50, seed=7, epoch=2)
    assert sorted(order.tolist()) == list(range(50)) and flips.dtype == torch.bool and flips.shape == (50,)
    again, flips_again = epoch_order(50, seed=7, epoch=2)  # another rank, or the same run after a resume
    assert torch.equal(order, again) and torch.equal(flips, flips_again)
    assert not torch.equal(order, epoch_order(50, seed=7, epoch=3)[0])
    assert not torch.equal(order, epoch_order(50, seed=8, epoch=2)[0])
    assert 10 < int(flips.sum()) < 40  # about half the photos mirrored


def test_one_step_is_sgd_on_the_mean_loss_of_the_mirrored_batch(frozen: Classifier, data: PetTensors) -> None:
    indices = torch.tensor([2, 0, 3])
    x = by_hand(frozen, data.images[indices], FLIPS[indices])
    weight, bias, logits = head_after_sgd(frozen, x, data.targets[indices])
    backbone = copy.deepcopy(frozen.module.layer4.state_dict())
    result = step(frozen, data, indices, FLIPS[indices], World())
    torch.testing.assert_close(frozen.head.weight.detach(), weight)
    torch.testing.assert_close(frozen.head.bias.detach(), bias)
    assert all(torch.equal(value, backbone[key]) for key, value in frozen.module.layer4.state_dict().items())
    expected_sum = F.binary_cross_entropy_with_logits(logits, data.targets[indices].float(), reduction="sum")
    assert result.loss_sum == pytest.approx(float(expected_sum), rel=1e-5)
    assert result.correct == int(((logits > 0).long() == data.targets[indices]).sum()) and result.images == 3
    assert not result.stop and result.elapsed_s > 0


def test_a_stop_is_rank_0_s_to_see(frozen: Classifier, data: PetTensors, monkeypatch: pytest.MonkeyPatch) -> None:
    indices = torch.tensor([0, 1])
    assert step(frozen, data, indices, FLIPS[:2], World(), stop=True).stop
    monkeypatch.setattr(steps, "all_sum", lambda values, world: values)  # this rank's sums as the world's
    assert not step(frozen, data, indices, FLIPS[:2], World(rank=1, size=2), stop=True).stop


def test_a_rank_steps_on_its_slice_scaled_to_the_global_batch(frozen: Classifier, data: PetTensors,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank 1 of 2 takes photo 1 of the global batch [0, 1, 2]: its loss is l_1 * 2 / 3, so that DDP's average of
    the two ranks' gradients is the gradient of the global batch's mean loss."""
    monkeypatch.setattr(steps, "all_sum", lambda values, world: values)
    indices = torch.tensor([0, 1, 2])
    x = by_hand(frozen, data.images[1:2], FLIPS[1:2])
    weight, bias, _ = head_after_sgd(frozen, x, data.targets[1:2], scale=2 / 3)
    result = step(frozen, data, indices, FLIPS[:3], World(rank=1, size=2))
    torch.testing.assert_close(frozen.head.weight.detach(), weight)
    torch.testing.assert_close(frozen.head.bias.detach(), bias)
    assert result.images == 1


def test_a_rank_with_no_photo_in_the_last_batch_joins_with_weight_zero(frozen: Classifier, data: PetTensors,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steps, "all_sum", lambda values, world: values)
    head = copy.deepcopy(frozen.head.state_dict())
    result = step(frozen, data, torch.tensor([3]), FLIPS[3:], World(rank=1, size=2))
    assert (result.loss_sum, result.correct, result.images) == (0.0, 0.0, 0.0)
    assert frozen.head.weight.grad is not None  # it took part in the backward, as DDP's all-reduce needs
    assert all(torch.equal(value, head[key]) for key, value in frozen.head.state_dict().items())


def test_evaluation_is_the_eval_mode_loss_accuracy_and_confusion(resnet18_weights: Path, data: PetTensors) -> None:
    """The breeds head (37 classes), the whole network in train mode beforehand (so BatchNorm's batch statistics
    would show), in batches of 3 over 4 photos."""
    classifier = classifier_for(resnet18_weights, task="breeds")
    classifier.train_mode()
    data = PetTensors(images=data.images, targets=torch.tensor([4, 0, 36, 4]), species=data.species, names=data.names)
    twin = copy.deepcopy(classifier.module).eval()
    with torch.no_grad():
        logits = twin(by_hand(classifier, data.images, None))
    confusion = [[0] * 37 for _ in range(37)]
    for truth, guess in zip(data.targets.tolist(), logits.argmax(dim=1).tolist()):
        confusion[truth][guess] += 1
    result = evaluate(classifier, data.images, data, World(), batch_size=3)
    assert result.loss == pytest.approx(float(F.cross_entropy(logits, data.targets)), rel=1e-5)
    assert result.accuracy == float((logits.argmax(dim=1) == data.targets).float().mean())
    assert result.confusion == confusion
    assert all(module.training for module in classifier.module.modules())  # put back as it was
