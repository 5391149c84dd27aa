"""Every architecture the app offers, with random weights saved to a local file and loaded as users load them
offline (load_model(..., weights_path=...)); built once per session, shared read-only by the maths tests."""
from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
import torchvision
from torch import Tensor

from camcore.models.loading import LoadedModel, load_model
from tests.conftest import make_photo

SWIN = "timm:swin_tiny_patch4_window7_224"
DEIT = "timm:deit_tiny_patch16_224"
GAP_LINEAR = ("resnet18", "resnet50", "efficientnet_b0", "densenet121", "timm:tf_efficientnet_lite0",
              "timm:resnet10t", SWIN, "binary_resnet")
"""Models whose head is global average pooling plus one Linear layer: torchvision's offered ones, two timm
CNNs, Swin-T (channels-last features, 224x224 inputs only) and a one-logit checkpoint (the `binary_resnet`
fixture of tests/conftest.py)."""
NOT_GAP_LINEAR = {"mobilenet_v3_large": "Linear → Hardswish → Linear", "timm:convnext_atto": "LayerNorm2d",
                  DEIT: "class token"}
"""Models without exact CAM, and what the refusal must say of why: MobileNetV3's head has layers after the
pooling, ConvNeXt normalises the pooled features, a ViT scores its class token. The gradient methods still run."""
MATHS_MODELS = ("resnet18", "binary_resnet")
"""A 1000-logit head and a one-logit head ("cat" = -z, "dog" = z): every hand-worked maths check runs on both."""
REFERENCE_CASES = [("resnet18", None), ("resnet18", "layer3"), ("binary_resnet", "layer3"),
                   ("mobilenet_v3_large", "features.10")]
"""(model, layer) where XGrad-CAM and HiResCAM are checked against pytorch-grad-cam's."""
SIZE_PX = 64
"""Short side of the test photos: 96x64 inputs, a 3x2 grid at stride 32, every forward in milliseconds."""


def random_weights(arch: str, folder: Path) -> Path:
    """The architecture's own random initialisation, saved as a plain state dict."""
    torch.manual_seed(0)
    if arch.startswith("timm:"):
        module = timm.create_model(arch.removeprefix("timm:"), pretrained=False)
    else:
        module = torchvision.models.get_model(arch, weights=None)
    path = folder / f"{arch.replace(':', '_')}.pth"
    torch.save(module.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """arch -> LoadedModel, each built on first use and kept for the session."""
    folder = tmp_path_factory.mktemp("zoo")
    models: dict[str, LoadedModel] = {}

    def get(arch: str) -> LoadedModel:
        if arch not in models:
            if arch == "binary_resnet":
                models[arch] = request.getfixturevalue("binary_resnet")
            else:
                models[arch] = load_model(arch, weights_path=random_weights(arch, folder), device="cpu")
        return models[arch]
    return get


@pytest.fixture(params=GAP_LINEAR)
def gap_model(request: pytest.FixtureRequest, zoo) -> LoadedModel:
    return zoo(request.param)


def photos(model: LoadedModel, size_px: int = SIZE_PX) -> Tensor:
    """Two generated photos preprocessed as explain() does: (2, 3, 64, 96), or a fixed-size model's own size."""
    fixed = model.preprocessing.fixed_size is not None
    transform = model.preprocessing.with_size(None if fixed else size_px).transform()
    return torch.stack([transform(make_photo(120, 80, seed)) for seed in (0, 1)])


def own_logits(model: LoadedModel, x: Tensor) -> Tensor:
    """The model's own forward pass, nothing of camcore's: a one-logit output z read as the classes (-z, z)."""
    with torch.inference_mode():
        out = model.module(x).float()
    return torch.cat([-out, out], dim=1) if model.binary else out


def assert_close_to(actual: Tensor, expected: Tensor, rtol: float = 1e-4) -> None:
    """float32 agreement, relative to the largest value expected (random-weight logits span many scales)."""
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=rtol * float(expected.abs().max().clamp_min(1e-6)))


@pytest.fixture(params=MATHS_MODELS)
def model(request: pytest.FixtureRequest) -> LoadedModel:
    """The tests/conftest.py fixture of each MATHS_MODELS name."""
    return request.getfixturevalue(request.param)
