"""Where ImageNet weights come from: the packaged Lite0 (renamed to timm's keys), the default-model rule, and a
fast one-line failure for models whose weights are neither cached nor reachable."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import timm
import torch

from camcore import settings
from camcore.data.images import load_image
from camcore.data.samples import sample_photos
from camcore.errors import WeightsUnavailable
from camcore.explain import explain
from camcore.models import pretrained
from camcore.models.loading import LoadedModel, load_model
from camcore.options import MapOptions
from camcore.scores.labels import IMAGENET_CATS, IMAGENET_DOGS
from tests.conftest import LITE0_WEIGHTS


def test_packaged_keys_are_exactly_timms() -> None:
    """timm's own tf_efficientnet_lite0 names every key and shape the renamed package must fill."""
    expected = {key: tensor.shape for key, tensor in timm.create_model("tf_efficientnet_lite0").state_dict().items()}
    renamed = {key: tensor.shape for key, tensor in pretrained.packaged_lite0().items()}
    assert renamed == expected


def test_block_numbers_map_to_timm_stages() -> None:
    """Hand-worked from the README's table: block 0 -> (0, 0), 1 -> (1, 0), 7 -> (3, 2), 14 -> (5, 3), 15 -> (6, 0)."""
    assert pretrained.lite0_key("_blocks.0._project_conv.weight") == "blocks.0.0.conv_pw.weight"
    assert pretrained.lite0_key("_blocks.1._project_conv.weight") == "blocks.1.0.conv_pwl.weight"
    assert pretrained.lite0_key("_blocks.7._bn0.running_var") == "blocks.3.2.bn1.running_var"
    assert pretrained.lite0_key("_blocks.14._depthwise_conv.weight") == "blocks.5.3.conv_dw.weight"
    assert pretrained.lite0_key("_blocks.15._bn2.bias") == "blocks.6.0.bn3.bias"
    assert pretrained.lite0_key("_bn1.weight") == "bn2.weight" and pretrained.lite0_key("_fc.bias") == "classifier.bias"


def test_packaged_weights_equal_the_shared_timm_file() -> None:
    """../shared/data holds the same tensors, renamed by someone else: every one must be identical."""
    if not LITE0_WEIGHTS.is_file():
        pytest.skip(f"{LITE0_WEIGHTS} not present")
    reference = torch.load(LITE0_WEIGHTS, map_location="cpu", weights_only=True)
    packaged = pretrained.packaged_lite0()
    assert packaged.keys() == reference.keys()
    assert all(torch.equal(packaged[key], reference[key]) for key in reference)


def test_lite0_names_real_imagenet_classes_for_the_samples(lite0: LoadedModel) -> None:
    """The offline default is a real classifier: each shipped cat is called a cat, each dog a dog (Oxford's file
    names: capitalised breeds are cats)."""
    photos = sample_photos()
    assert len(photos) == 6
    explanations = explain([load_image(path) for path in photos], lite0, MapOptions(top_k=1))
    for path, explanation in zip(photos, explanations):
        top = explanation.predictions[0].class_index
        assert top in (IMAGENET_CATS if path.name[0].isupper() else IMAGENET_DOGS), (path.name, top)


def test_lite0_and_its_timm_name_load_the_same_weights(lite0: LoadedModel) -> None:
    by_timm_name = load_model("timm:tf_efficientnet_lite0", device="cpu")
    assert lite0.arch == by_timm_name.arch == pretrained.PACKAGED_ARCH
    theirs = by_timm_name.module.state_dict()
    assert all(torch.equal(tensor, theirs[key]) for key, tensor in lite0.module.state_dict().items())


def test_default_is_lite0_until_resnet18_weights_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert pretrained.default_model() == "lite0"
    cached = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"  # torchvision's published file name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert pretrained.torchvision_weights_file("resnet18") == cached
    assert pretrained.default_model() == "resnet18"


def test_the_servers_model_is_the_operators_else_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(settings.MODEL_ENV, raising=False)
    assert pretrained.server_model() == "lite0"
    monkeypatch.setenv(settings.MODEL_ENV, "timm:resnet10t")
    assert pretrained.server_model() == "timm:resnet10t"


def test_hub_probe_answers_within_its_timeout() -> None:
    start = time.perf_counter()
    pretrained.hub_reachable(timeout_s=1.0)
    assert time.perf_counter() - start < 3.0


def test_uncached_timm_model_offline_fails_fast_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Offline, huggingface_hub would retry for about 50 s; the probe says no at once and the cache is empty."""
    monkeypatch.setattr(pretrained, "hub_reachable", lambda timeout_s=pretrained.HUB_PROBE_S: False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match="timm:resnet10t weights are not in the Hugging Face cache") as info:
        load_model("timm:resnet10t", device="cpu")
    assert time.perf_counter() - start < 5.0
    assert "\n" not in str(info.value) and "lite0" in str(info.value)


def test_uncached_torchvision_model_offline_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr("torch.hub.download_url_to_file", _no_network)
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match="resnet18 weights are not in"):
        load_model("resnet18", device="cpu")
    assert time.perf_counter() - start < 5.0


def _no_network(*_args: object, **_kwargs: object) -> None:
    raise OSError("no network in this test")
