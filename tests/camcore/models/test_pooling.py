"""camcore.models.pooling: TAP against a hand-worked tensor, its place in torchvision's and timm's networks, and
CAM on a TAP head: the map is still sum_c w_c F_c, the logit W . TAP(F) + b (not the map's mean plus the bias)."""
from __future__ import annotations

import pytest
import timm
import torch
from torchvision.models import resnet18

from camcore.cams import compute_maps, lesson
from camcore.errors import ModelUnsupported
from camcore.explain import explain
from camcore.models import heads
from camcore.models.loading import randomised
from camcore.models.pooling import ThresholdedAvgPool2d, install_pooling, parse_pooling, pooling_name, tap_of
from camcore.options import MapOptions
from tests.conftest import make_photo


def test_tap_by_hand() -> None:
    """Channel 0 [[1, 2], [3, 4]], tau 0.5: keeps > 2, i.e. 3 and 4: 3.5 (plain mean 2.5). Channel 1 all zeros:
    nothing is above 0, the count is clamped to 1: 0. Channel 2 [[5, 0], [0, 0]]: keeps 5 alone: 5 (mean 1.25)."""
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]], [[5.0, 0.0], [0.0, 0.0]]]])
    pooled = ThresholdedAvgPool2d(0.5)(x)
    assert pooled.shape == (1, 3, 1, 1)
    torch.testing.assert_close(pooled.flatten(), torch.tensor([3.5, 0.0, 5.0]))
    torch.testing.assert_close(ThresholdedAvgPool2d(0.0)(x).flatten(), torch.tensor([2.5, 0.0, 5.0]))


@pytest.mark.parametrize("text, tau", [("avg", None), ("tap", 0.1), ("tap:0.3", 0.3), ("tap:0", 0.0)])
def test_pooling_names_round_trip(text: str, tau: float | None) -> None:
    assert parse_pooling(text) == tau
    assert parse_pooling(pooling_name(tau)) == tau


@pytest.mark.parametrize("text", ["max", "tap:1", "tap:-0.1", "tap:x", "avg:0.1"])
def test_unknown_poolings_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="Valid: avg, tap, tap:TAU"):
        parse_pooling(text)


def test_tap_replaces_the_global_pool_of_resnet_and_timm_and_cam_parts_follow_it() -> None:
    """The model's own forward equals Linear(TAP(features)): find_cam_parts checks it numerically and keeps the
    TAP module; plain pooling keeps the mean."""
    for model in (resnet18(num_classes=5), timm.create_model("tf_efficientnet_lite0", pretrained=False,
                                                              num_classes=5)):
        model.eval()
        assert heads.find_cam_parts(model, torch.device("cpu")).pooling == "avg"
        install_pooling(model, 0.1)
        parts = heads.find_cam_parts(model, torch.device("cpu"))
        assert parts is not None and parts.pooling == "tap:0.1" and parts.tap is tap_of(model)


def test_a_network_without_a_pooling_module_is_refused() -> None:
    from torchvision.models import densenet121

    with pytest.raises(ModelUnsupported, match="TAP"):
        install_pooling(densenet121(), 0.1)


def test_cam_on_a_tap_head_maps_w_f_and_its_logit_is_w_tap_f_plus_b(tap_resnet) -> None:
    """On a TAP head the model's own forward is W . TAP(F) + b (here by hand from the hand-run features), CAM's
    map sum_c w_c F_c on the unthresholded F, and its mean plus the bias misses the logit."""
    model = tap_resnet
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    batch = compute_maps(model, x, method="cam", top_k=2)
    resnet = model.module
    with torch.inference_mode():
        f = resnet.layer4(resnet.layer3(resnet.layer2(resnet.layer1(resnet.maxpool(resnet.relu(resnet.bn1(
            resnet.conv1(x))))))))
        own = resnet(x)
    keep = f > 0.1 * f.amax(dim=(2, 3), keepdim=True)
    pooled = (f * keep).sum(dim=(2, 3)) / keep.sum(dim=(2, 3)).clamp_min(1)
    by_hand = pooled @ resnet.fc.weight.T + resnet.fc.bias
    torch.testing.assert_close(own, by_hand, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(batch.logits, own, rtol=1e-5, atol=1e-5)
    weight = resnet.fc.weight[batch.class_indices]
    torch.testing.assert_close(batch.signed_maps, torch.einsum("nkc,nchw->nkhw", weight, f), rtol=1e-5, atol=1e-5)
    identity = batch.signed_maps.mean(dim=(2, 3)) + batch.bias
    assert (identity - own.gather(1, batch.class_indices)).abs().max() > 1e-3


def test_explanations_and_the_lessons_pooling_say_the_head_pools_with_tap(tap_resnet) -> None:
    """Explanation.pooling tells the pages which identity holds; the Lesson's step 2 pools as the head does, so
    pooling first still gives the model's logit (from its own forward), and the swapped order does not."""
    photo = make_photo(96, 64)
    assert explain([photo], tap_resnet, MapOptions(top_k=1))[0].pooling == "tap:0.1"
    steps = lesson.pooling(tap_resnet, photo, 0)
    with torch.inference_mode():
        own = float(tap_resnet.module(lesson.model_input(tap_resnet, photo))[0, 0])
    assert steps.gap_then_linear == pytest.approx(own, rel=1e-4, abs=1e-4)
    assert abs(steps.linear_then_gap - own) > 1e-3


def test_the_random_baseline_of_a_tap_model_pools_with_tap_too(tap_resnet) -> None:
    assert randomised(tap_resnet).cam.pooling == "tap:0.1"
