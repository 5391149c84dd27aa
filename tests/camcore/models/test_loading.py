"""load_model: torchvision archs from local weights files, checkpoints, and every refusal a user can act on."""
from __future__ import annotations

import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from camcore.cli.main import main
from camcore.errors import CheckpointError, ModelUnsupported, UnsupportedMethod, WeightsUnavailable
from camcore.explain import explain
from camcore.models.loading import TORCHVISION_CHOICES, LoadedModel, imagenet_categories, load_model
from camcore.options import MapOptions
from tests.conftest import SMALL, make_photo

RESNET18_FILE = "resnet18-f37072fd.pth"
"""The file name of torchvision's resnet18 ImageNet weights, as torch.hub caches it."""


def _write_marker(path: str) -> None:
    Path(path).write_text("unpickling ran code")


class RunsCodeWhenLoaded:
    """A pickle payload: loading it calls _write_marker, which a weights-only load must never do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return _write_marker, (str(self.marker),)


@pytest.fixture
def unsafe_file(tmp_path: Path) -> tuple[Path, Path]:
    """(a .pth holding weights and a code-running object, the file that object would write)."""
    marker = tmp_path / "marker.txt"
    path = tmp_path / "unsafe.pth"
    torch.save({"conv1.weight": torch.zeros(1), "payload": RunsCodeWhenLoaded(marker)}, path)
    return path, marker


def _random_weights(arch: str, folder: Path) -> Path:
    torch.manual_seed(0)
    path = folder / f"{arch}_random.pth"
    torch.save(torchvision.models.get_model(arch).state_dict(), path)
    return path


def _assert_frozen(model: LoadedModel) -> None:
    assert not any(m.training for m in model.module.modules())
    assert not any(p.requires_grad for p in model.module.parameters())


def test_resnet18_from_a_local_weights_file(resnet18: LoadedModel, resnet18_weights: Path) -> None:
    assert resnet18.default_layer == "layer4" and {"layer3", "layer4.1.relu", "layer1.0"} <= set(resnet18.layers)
    assert resnet18.cam is not None and not resnet18.binary and resnet18.device == torch.device("cpu")
    assert resnet18.class_names == imagenet_categories() and len(resnet18.class_names) == 1000
    assert resnet18.preprocessing.resize_px == 224
    assert resnet18.preprocessing.mean == pytest.approx((0.485, 0.456, 0.406))
    saved = torch.load(resnet18_weights, weights_only=True)
    assert all(torch.equal(value, saved[key]) for key, value in resnet18.module.state_dict().items())
    _assert_frozen(resnet18)


def test_unknown_layer_names_valid_ones(resnet18: LoadedModel) -> None:
    with pytest.raises(ValueError, match="layer4"):
        resnet18.layer("layer5")


@pytest.mark.parametrize(("arch", "has_cam"), [("mobilenet_v3_large", False), ("efficientnet_b0", True),
                                               ("densenet121", True)])
def test_other_torchvision_archs(arch: str, has_cam: bool, tmp_path: Path) -> None:
    """mobilenet_v3's head (Linear, Hardswish, Linear) is not GAP+Linear: gradient methods only."""
    model = load_model(arch, weights_path=_random_weights(arch, tmp_path), device="cpu")
    _assert_frozen(model)
    assert (model.cam is not None) == has_cam
    photo = make_photo()
    (grad,) = explain([photo], model, MapOptions(method="gradcam", top_k=2, size_px=64))
    assert np.isfinite(grad.maps).all() and grad.layer == model.default_layer
    if not has_cam:
        with pytest.raises(UnsupportedMethod, match="gradcam"):
            explain([photo], model, MapOptions(method="cam", size_px=64))
        return
    (cam,) = explain([photo], model, MapOptions(method="cam", top_k=2, size_px=64))
    with torch.inference_mode():  # the model's own forward on the input explain() built, not camcore's logits
        own = model.module(model.preprocessing.with_size(64).transform()(photo)[None])[0].numpy()
    indices = [p.class_index for p in cam.predictions]
    assert indices == [p.class_index for p in grad.predictions] and np.allclose(own[indices], np.sort(own)[::-1][:2])
    assert np.allclose(cam.signed_maps.mean(axis=(1, 2)) + np.array(cam.bias), own[indices], rtol=1e-4, atol=1e-4)


def test_checkpoint_spec_brings_its_classes_head_and_preprocessing(binary_resnet: LoadedModel) -> None:
    assert binary_resnet.class_names == ("cat", "dog") and binary_resnet.binary
    assert binary_resnet.preprocessing == SMALL and binary_resnet.training_summary == {"epochs": 0}
    assert binary_resnet.cam is not None and binary_resnet.cam.linear.out_features == 1
    _assert_frozen(binary_resnet)


def test_unknown_model_name_lists_valid_names() -> None:
    with pytest.raises(ValueError) as info:
        load_model("resnet19", device="cpu")
    assert "resnet19" in str(info.value) and all(name in str(info.value) for name in TORCHVISION_CHOICES)


def test_weights_of_another_architecture_are_refused(resnet18_weights: Path) -> None:
    with pytest.raises(CheckpointError, match=resnet18_weights.name):
        load_model("mobilenet_v3_large", weights_path=resnet18_weights, device="cpu")


@pytest.mark.parametrize("as_checkpoint", [False, True], ids=["weights_path", "checkpoint_spec"])
def test_a_pickle_that_runs_code_is_refused_without_running_it(unsafe_file: tuple[Path, Path],
                                                                as_checkpoint: bool) -> None:
    path, marker = unsafe_file
    with pytest.raises(CheckpointError, match="refused"):
        if as_checkpoint:
            load_model(str(path), device="cpu")
        else:
            load_model("resnet18", weights_path=path, device="cpu")
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is live: an unsafe load would have written the marker
    assert marker.exists()


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    path.write_text("just some notes\n")
    with pytest.raises(CheckpointError, match="notes.pt"):
        load_model(str(path), device="cpu")


def test_a_plain_state_dict_given_as_checkpoint_says_how_to_use_it(resnet18_weights: Path) -> None:
    with pytest.raises(CheckpointError, match="--weights"):
        load_model(str(resnet18_weights), device="cpu")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        load_model(str(tmp_path / "gone.pt"), device="cpu")
    with pytest.raises(CheckpointError, match="gone.pth"):
        load_model("resnet18", weights_path=tmp_path / "gone.pth", device="cpu")


def _offline(monkeypatch: pytest.MonkeyPatch, torch_home: Path) -> None:
    """An empty TORCH_HOME and a download that fails as it does without internet (never touches the net)."""
    def no_internet(url: str, *_args: object, **_kwargs: object) -> None:
        raise urllib.error.URLError(f"no internet for {url}")

    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_internet)


def test_offline_download_says_which_file_to_put_where(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _offline(monkeypatch, tmp_path)
    with pytest.raises(WeightsUnavailable) as info:
        load_model("resnet18", device="cpu")
    message = str(info.value)
    assert RESNET18_FILE in message and "$TORCH_HOME/hub/checkpoints" in message
    assert str(tmp_path / "hub" / "checkpoints") in message and "\n" not in message


def test_weights_already_in_torch_home_load_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    resnet18_weights: Path) -> None:
    _offline(monkeypatch, tmp_path)
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    shutil.copy(resnet18_weights, tmp_path / "hub" / "checkpoints" / RESNET18_FILE)
    model = load_model("resnet18", device="cpu")
    assert torch.equal(model.module.fc.weight, torch.load(resnet18_weights, weights_only=True)["fc.weight"])


def test_a_planted_file_in_torch_home_is_not_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 unsafe_file: tuple[Path, Path]) -> None:
    path, marker = unsafe_file
    _offline(monkeypatch, tmp_path / "home")
    (tmp_path / "home" / "hub" / "checkpoints").mkdir(parents=True)
    shutil.copy(path, tmp_path / "home" / "hub" / "checkpoints" / RESNET18_FILE)
    with pytest.raises(CheckpointError, match=RESNET18_FILE):
        load_model("resnet18", device="cpu")
    assert not marker.exists()


@pytest.fixture(scope="module")
def levit_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight LeViT: its attention biases are built for a 224 px input (a 14x14 grid), and nothing in
    its module tree says so, so the 128 px probe at load fails."""
    import timm

    path = tmp_path_factory.mktemp("levit") / "levit_random.pth"
    torch.save(timm.create_model("levit_128s", pretrained=False).state_dict(), path)
    return path


def test_a_model_that_fails_the_probe_is_refused_in_one_line(levit_weights: Path) -> None:
    with pytest.raises(ModelUnsupported) as info:
        load_model("timm:levit_128s", weights_path=levit_weights, device="cpu")
    message = str(info.value)
    assert message.startswith("timm:levit_128s: ") and "RuntimeError" in message and "\n" not in message


def test_the_cli_reports_an_unusable_model_in_one_line(levit_weights: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "cat.png"
    make_photo().save(photo)
    status = main(["explain", str(photo), "--model", "timm:levit_128s", "--weights", str(levit_weights),
                   "--device", "cpu", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith("camcore: timm:levit_128s: ") and "\n" not in err
    assert "Traceback" not in err
