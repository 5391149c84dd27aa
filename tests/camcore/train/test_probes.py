"""The user's own probe photos: refused before any run exists when they do not decode, copied into the run folder,
and explained before training and after every epoch with the map of the class the model predicts, checked against
the trained checkpoint's own forward pass."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode, v2

from camcore.cli.main import main
from camcore.errors import ImageError
from camcore.jobs import process
from camcore.jobs.runs import RunFolder, list_runs
from camcore.models.loading import load_model
from camcore.train.config import TrainConfig
from camcore.train.launch import start_run
from tests.camcore.train.helpers import run, train_args
from tests.conftest import make_photo

SIZE_PX = 64


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    make_photo(100, 70, seed=1).save(folder / "my cat.png")
    make_photo(60, 90, seed=2).save(folder / "dog.png")
    (folder / "notes.txt").write_text("not a photo, and not an image suffix: skipped")
    return folder


@pytest.fixture(scope="module")
def probe_run(tiny_pets: Path, resnet18_weights: Path, photos: Path,
              tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("runs") / "run"
    done = run(train_args(tiny_pets, resnet18_weights, "--epochs", "1", "--probes", "2", "--probe-images",
                          str(photos), "--out", str(out)))
    assert done.returncode == 0, done.stderr[-3000:]
    return RunFolder(out)


def test_uploads_are_copied_and_explained_before_and_after_every_epoch(probe_run: RunFolder, photos: Path) -> None:
    uploads = probe_run.path / "probes" / "uploads"
    assert sorted(path.name for path in uploads.iterdir()) == ["01-dog.png", "02-my_cat.png"]
    assert (uploads / "02-my_cat.png").read_bytes() == (photos / "my cat.png").read_bytes()
    assert probe_run.probe_epochs() == [0, 1]
    for epoch in (0, 1):
        probes = probe_run.probes(epoch)
        assert list(probes["names"][2:]) == ["upload-01-dog", "upload-02-my_cat"]
        assert probes["labels"].tolist()[2:] == [-1, -1] and min(probes["labels"][:2]) >= 0
        assert probes["maps"].shape == (4, 2, 2)
    assert (probe_run.path / "probes" / "images" / "upload-01-dog.jpg").is_file()


def test_an_upload_s_map_is_the_predicted_class_s_cam(probe_run: RunFolder, photos: Path) -> None:
    """The checkpoint of epoch 1 on each photo, squashed as torchvision resizes: its sigmoid gives the stored
    class and probability, and its layer4 features with the head's weights give the CAM, +-w.A (signed, as CAM
    maps are; the one logit is the dog's, the cat's virtual logit its negative)."""
    model = load_model(str(probe_run.checkpoint("last")), device="cpu")
    module, pre = model.module.eval(), model.preprocessing
    mean, std = torch.tensor(pre.mean).view(1, 3, 1, 1), torch.tensor(pre.std).view(1, 3, 1, 1)
    acts = []
    handle = module.layer4.register_forward_hook(lambda _, __, out: acts.append(out))
    probes = probe_run.probes(1)
    for index, name in ((2, "dog.png"), (3, "my cat.png")):
        image = v2.functional.to_image(Image.open(photos / name).convert("RGB"))
        square = v2.functional.resize(image, [SIZE_PX, SIZE_PX], InterpolationMode(pre.interpolation), antialias=True)
        with torch.no_grad():
            logit = float(module(((square.float() / 255).unsqueeze(0) - mean) / std)[0, 0])
        dog = logit > 0
        assert probes["predicted"][index] == int(dog)
        probability = torch.sigmoid(torch.tensor(abs(logit))).item()
        assert probes["probability"][index] == pytest.approx(probability, rel=1e-4)
        weights = module.fc.weight[0].detach()
        expected = (1 if dog else -1) * torch.einsum("c,chw->hw", weights, acts[-1][0])
        np.testing.assert_allclose(probes["maps"][index], expected.numpy(), rtol=1e-4, atol=1e-5)
    handle.remove()


def test_a_photo_that_does_not_decode_is_refused_before_any_run_exists(tiny_pets: Path, resnet18_weights: Path,
                                                                      tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cat.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64)
    out = tmp_path / "run"
    assert main(train_args(tiny_pets, resnet18_weights, "--probe-images", str(tmp_path / "cat.heic"),
                           "--out", str(out))) == 2
    assert capsys.readouterr().err.startswith("camcore: cat.heic: ") and not out.exists()
    with pytest.raises(ImageError, match="^cat.heic: "):
        start_run(tmp_path / "runs", TrainConfig(data_root=str(tiny_pets)),
                  probe_photos=[("cat.heic", (tmp_path / "cat.heic").read_bytes())])
    assert list_runs(tmp_path / "runs") == []


def test_the_page_s_uploads_are_copied_into_the_new_run(tiny_pets: Path, photos: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "start", lambda argv, run: 1)
    uploaded = [(name, (photos / name).read_bytes()) for name in ("my cat.png", "dog.png")]
    new = start_run(tmp_path / "runs", TrainConfig(data_root=str(tiny_pets)), probe_photos=uploaded)
    copies = sorted((new.path / "probes" / "uploads").iterdir())
    assert [(path.name, path.read_bytes()) for path in copies] == [("01-my_cat.png", uploaded[0][1]),
                                                                   ("02-dog.png", uploaded[1][1])]
