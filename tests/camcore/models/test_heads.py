"""camcore.models.heads: the spatial layers and default layer of a model, which heads allow exact CAM, and the probe
forwards that refuse unusable models in one line."""
from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from camcore.errors import ModelUnsupported
from camcore.models.heads import FinalReLU, expose_final_relu, find_cam_parts, map_layers
from camcore.models.loading import LoadedModel

CPU = torch.device("cpu")


class TinyNet(nn.Module):
    """torchvision's classifier convention (features, classifier) with a head given by the test."""

    def __init__(self, classifier: nn.Module, pool: str = "avg") -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Identity(),
                                      nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.Dropout2d(0.1))
        self.classifier = classifier
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.features(x)
        pooled = maps.mean(dim=(2, 3)) if self.pool == "avg" else maps.amax(dim=(2, 3))
        return self.classifier(pooled)


def tiny(classifier: nn.Module, pool: str = "avg") -> nn.Module:
    torch.manual_seed(0)
    return TinyNet(classifier, pool).eval()


class WithAux(nn.Module):
    """ResNet's convention (fc, avgpool) plus an auxiliary head as a child, as googlenet and inception_v3 have:
    children run one after the other would feed the aux head's output to the body."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.aux1 = nn.Linear(8, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.avgpool(self.conv(x)).flatten(1))


def test_map_layers_lists_spatial_modules_in_model_order_and_the_last_to_finish() -> None:
    layers = map_layers(tiny(nn.Linear(8, 3)), CPU)
    names, default = tuple(layers.layouts), layers.default
    assert names == ("features", "features.0", "features.1", "features.3")  # no Identity, Dropout or head
    assert default == "features"  # the whole block finishes after its children


def test_map_layers_of_resnet18_default_to_layer4(resnet18: LoadedModel) -> None:
    layers = map_layers(resnet18.module, CPU)
    names, default = tuple(layers.layouts), layers.default
    assert default == "layer4" and {"conv1", "layer3", "layer4.1.relu"} <= set(names)
    assert not {"avgpool", "fc"} & set(names)


def test_a_model_without_spatial_layers_is_refused_in_one_line() -> None:
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(3 * 128 * 128, 4)).eval()
    with pytest.raises(ModelUnsupported, match="nothing to map") as info:
        map_layers(mlp, CPU)
    assert "\n" not in str(info.value)


def test_a_model_whose_forward_fails_on_the_probe_is_refused_in_one_line() -> None:
    broken = tiny(nn.Linear(7, 3))  # 8 channels pooled, 7 expected by the head
    for probe in (map_layers, find_cam_parts):
        with pytest.raises(ModelUnsupported, match="RuntimeError") as info:
            probe(broken, CPU)
        assert "\n" not in str(info.value) and "probe" in str(info.value)


def test_a_model_that_returns_no_logits_tensor_is_refused() -> None:
    class Pair(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, x

    with pytest.raises(ModelUnsupported, match="tuple"):
        map_layers(Pair(), CPU)


@pytest.mark.parametrize("classifier", [nn.Linear(8, 3), nn.Sequential(nn.Dropout(0.2), nn.Linear(8, 3))],
                         ids=["linear", "dropout_linear"])
def test_find_cam_parts_accepts_a_gap_linear_head(classifier: nn.Module) -> None:
    model = tiny(classifier)
    parts = find_cam_parts(model, CPU)
    assert parts is not None and parts.linear is [m for m in model.modules() if isinstance(m, nn.Linear)][0]
    x = torch.randn(2, 3, 64, 96)
    with torch.inference_mode():
        torch.testing.assert_close(parts.linear(parts.features(x).mean(dim=(2, 3))), model(x))


@pytest.mark.parametrize(("classifier", "pool"), [
    (nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3)), "avg"),  # a two-layer head
    (nn.Linear(8, 3), "max"),  # Linear after global max pooling: the numeric check catches it
], ids=["two_layer_head", "max_pool"])
def test_find_cam_parts_refuses_other_heads(classifier: nn.Module, pool: str) -> None:
    assert find_cam_parts(tiny(classifier, pool), CPU) is None


def test_auxiliary_heads_are_left_out_of_the_body() -> None:
    model = WithAux().eval()
    parts = find_cam_parts(model, CPU)
    assert parts is not None
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(parts.linear(parts.features(x).mean(dim=(2, 3))), model(x))


def test_densenet_final_relu_changes_no_output_and_no_weights() -> None:
    torch.manual_seed(0)
    plain = torchvision.models.densenet121().eval()
    exposed = torchvision.models.densenet121().eval()
    exposed.load_state_dict(plain.state_dict())
    expose_final_relu(exposed)
    expose_final_relu(exposed)  # idempotent
    assert isinstance(exposed.features[-1], FinalReLU) and len(exposed.features) == len(plain.features) + 1
    assert exposed.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(exposed(x), plain(x))
        features = exposed.features(x)
        assert features.min() >= 0  # the output of `features` is what the head pools
    exposed.train()(x).sum().backward()  # torchvision's in-place F.relu after it must not break training
    assert exposed.features.conv0.weight.grad is not None
