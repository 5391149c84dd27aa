"""Serving a class, in AppTest: every path a visitor types (model box, weights box, the Dataset and Training pages'
data folders) is refused outside the allowed roots with the same line whether it exists or not; uploads load a real
state dict or checkpoint and refuse a pickle with code; the operator's lock and no-downloads switches hide what
they should and refuse hub downloads at once."""
from __future__ import annotations

import io
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torchvision
from streamlit.testing.v1 import AppTest

from camcore.errors import WeightsUnavailable
from camcore.jobs.runs import RunStatus
from camcore.models import pretrained
from camcore.settings import (
    ALLOWED_ENV,
    CACHE_ENV,
    DATA_ENV,
    LOCK_ENV,
    MODEL_ENV,
    NO_DOWNLOADS_ENV,
    NO_SLOW_METHODS_ENV,
    RUNS_ENV,
    WEIGHTS_ENV,
)
from ui.common import models
from ui.common.inputs import OTHER_MODEL
from ui.common.text import read_back

PAGES = Path(__file__).resolve().parents[2] / "app_pages"
TIMEOUT_S = 60
REFUSED = ": this server opens files only in"


class Planted:
    """Any class: a pickled instance is a reference to code, which weights_only=True refuses."""


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, resnet18_weights: Path, tiny_pets: Path) -> Path:
    """Data = a copy of the tiny pets, runs and cache in tmp_path; resnet18 with random weights preset (allowed as
    the operator's own file); tmp_path/outside holds a real weights file, and data/escape links to it."""
    shutil.copytree(tiny_pets, tmp_path / "data")
    (tmp_path / "outside").mkdir()
    shutil.copy(resnet18_weights, tmp_path / "outside" / "weights.pth")
    (tmp_path / "data" / "escape").symlink_to(tmp_path / "outside")
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(MODEL_ENV, "resnet18")
    monkeypatch.setenv(WEIGHTS_ENV, str(resnet18_weights))
    for name in (ALLOWED_ENV, LOCK_ENV, NO_DOWNLOADS_ENV, NO_SLOW_METHODS_ENV):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def outside(root: Path) -> list[str]:
    """Outside paths, existing then missing: plain, a symlink inside a root, a ".." escape."""
    return ["/etc/passwd", "/etc/no-such-file", str(root / "outside" / "weights.pth"), str(root / "outside" / "nope"),
            str(root / "data" / "escape" / "weights.pth"), str(root / "data" / "escape" / "nope"),
            str(root / "data" / ".." / "outside" / "weights.pth"), str(root / "data" / ".." / ".." / "nope")]


def page(name: str, **state: object) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT_S)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def refusals(at: AppTest, typed: str) -> list[str]:
    """The refusal's text after the typed path, for each error on the page that refuses `typed`."""
    return [read_back(error.value)[len(typed.strip()):] for error in at.error
            if read_back(error.value).startswith(typed.strip()) and REFUSED in read_back(error.value)]


@pytest.mark.parametrize("box", ["model", "weights", "dataset", "training"])
def test_each_typed_path_box_refuses_outside_paths_alike(server: Path, box: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    messages = set()
    for typed in outside(server):
        at = typed_into(box, typed, monkeypatch, started)
        assert not at.exception
        found = refusals(at, typed)
        assert len(found) == 1, [read_back(e.value) for e in at.error]
        messages.add(found[0])
    assert len(messages) == 1 and not started


def typed_into(box: str, typed: str, monkeypatch: pytest.MonkeyPatch, started: list[object]) -> AppTest:
    """The page after `typed` went into `box`; a training run that would start is recorded, not started."""
    if box == "model":
        return page("1_Explain.py", **{"explain.device": "cpu", "explain.model": OTHER_MODEL,
                                       "explain.model_other": typed})
    if box == "weights":
        return page("1_Explain.py", **{"explain.device": "cpu", "explain.weights": typed})
    if box == "dataset":
        return page("2_Dataset.py", **{"dataset.root": typed})
    monkeypatch.setattr("camcore.train.launch.start_run",
                        lambda *args, **options: started.append(args) or SimpleNamespace(
                            name="x", status=lambda: RunStatus("starting")))
    at = page("3_Training.py", **{"training.data_root": typed})
    return at.button[[b.label for b in at.button].index("Start training")].click().run()


def loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """(spec, weights_path) of every model the pages ask for."""
    calls: list[tuple[str, str | None]] = []
    real = models.shared_model
    monkeypatch.setattr(models, "shared_model", lambda spec, weights, device: calls.append((spec, weights)) or
                        real(spec, weights, device))
    return calls


def test_allowed_paths_work_in_each_box(server: Path, binary_checkpoint: Path, resnet18_weights: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = loads(monkeypatch)
    shutil.copy(binary_checkpoint, server / "data" / "cats.pt")
    shutil.copy(resnet18_weights, server / "data" / "w.pth")
    at = page("1_Explain.py", **{"explain.device": "cpu", "explain.model": OTHER_MODEL,
                                 "explain.model_other": str(server / "data" / "sub" / ".." / "cats.pt")})
    assert not at.error and calls[-1][0] == str((server / "data" / "cats.pt").resolve())
    at = page("1_Explain.py", **{"explain.device": "cpu", "explain.weights": "  " + str(server / "data" / "w.pth")})
    assert not at.error and calls[-1] == ("resnet18", str((server / "data" / "w.pth").resolve()))
    monkeypatch.setenv(ALLOWED_ENV, str(server / "outside"))
    at = page("1_Explain.py", **{"explain.device": "cpu", "explain.weights": str(server / "outside" / "weights.pth")})
    assert not at.error and calls[-1][1] == str((server / "outside" / "weights.pth").resolve())
    at = page("2_Dataset.py", **{"dataset.root": str(server / "data")})
    assert not at.error and at.image
    started: list[object] = []
    at = typed_into("training", str(server / "data"), monkeypatch, started)
    assert not at.error and len(started) == 1 and started[0][1].data_root == str((server / "data").resolve())


def saved(payload: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def test_uploads_load_weights_and_checkpoints_and_refuse_code(server: Path, binary_checkpoint: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls = loads(monkeypatch)
    torch.manual_seed(7)
    weights = saved(torchvision.models.resnet18().state_dict())
    at = page("1_Explain.py", **{"explain.device": "cpu"})
    at = at.file_uploader(key="explain.weights_upload").set_value(("mine.pth", weights, "application/octet-stream"))
    at = at.run()
    (stored,) = (server / "cache" / "uploads").iterdir()
    assert not at.error and calls[-1] == ("resnet18", str(stored)) and stored.read_bytes() == weights
    assert "Upload a photo" in read_back(at.info[0].value)
    at.file_uploader(key="explain.weights_upload").set_value(
        ("cats.pt", binary_checkpoint.read_bytes(), "application/octet-stream")).run()
    assert not at.error and calls[-1][0].endswith(".pt") and calls[-1][1] is None
    at.file_uploader(key="explain.weights_upload").set_value(
        ("evil.pth", saved({"w": torch.zeros(1), "x": Planted()}), "application/octet-stream")).run()
    assert "refused: it holds Python objects beyond tensors" in read_back(at.error[0].value) and len(at.error) == 1
    assert len(list((server / "cache" / "uploads").iterdir())) == 2


def test_locked_model_has_no_box_and_no_upload(server: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = page("1_Explain.py", **{"explain.device": "cpu"})
    assert at.selectbox(key="explain.model") and at.file_uploader(key="explain.weights_upload") and at.text_input
    calls = loads(monkeypatch)
    monkeypatch.setenv(LOCK_ENV, "1")
    at = page("1_Explain.py", **{"explain.device": "cpu", "explain.model": OTHER_MODEL,
                                 "explain.model_other": "/etc/passwd", "explain.weights": "/etc/passwd"})
    assert not at.error and not at.text_input
    assert [uploader.key for uploader in at.file_uploader] == ["explain.uploads"]  # photos only
    assert "explain.model" not in [box.key for box in at.selectbox]
    assert calls[-1][0] == "resnet18" and "chosen by whoever runs this server" in "".join(c.value for c in at.caption)


def test_no_slow_methods_hides_scorecam_even_from_a_link(server: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "Score-CAM" in page("1_Explain.py", **{"explain.device": "cpu"}).selectbox(key="explain.method").options
    monkeypatch.setenv(NO_SLOW_METHODS_ENV, "1")
    at = page("1_Explain.py", **{"explain.device": "cpu", "explain.method": "scorecam"})
    method = at.selectbox(key="explain.method")
    assert not at.exception and "Score-CAM" not in method.options and method.value == "cam"  # the link's is dropped
    assert "Grad-CAM" in method.options and "Score-CAM is turned off" in "".join(c.value for c in at.caption)


def test_no_downloads_hides_the_data_set_download(server: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = {"dataset.root": str(server / "data" / "none")}
    assert [b for b in page("2_Dataset.py", **missing).button if b.key == "dataset.download"]
    monkeypatch.setenv(NO_DOWNLOADS_ENV, "1")
    at = page("2_Dataset.py", **missing)
    assert not at.exception and not [b for b in at.button if b.key == "dataset.download"]
    assert "Downloads are turned off" in read_back(at.info[0].value)


def test_no_downloads_refuses_uncached_hub_weights_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import timm

    def network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was used")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv(NO_DOWNLOADS_ENV, "1")
    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", network)
    monkeypatch.setattr(pretrained, "hub_reachable", network)
    with pytest.raises(WeightsUnavailable, match="resnet50 weights are not in"):
        pretrained.imagenet_state_dict("resnet50")
    with pytest.raises(WeightsUnavailable, match="not in the Hugging Face cache"):
        pretrained.load_timm_weights(timm.create_model("resnet10t", pretrained=False), "timm:resnet10t")
    monkeypatch.setenv(NO_DOWNLOADS_ENV, "0")
    with pytest.raises(AssertionError, match="network"):
        pretrained.imagenet_state_dict("resnet50")
