"""camcore.serving.paths: typed paths resolve inside the allowed roots or are refused with one line that reads the same
whether the path exists or not; uploads are kept by their SHA-256 and read with weights_only=True."""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
import torch
import torchvision

from camcore.errors import CheckpointError, PathRefused
from camcore.models.checkpoints import Checkpoint, save_checkpoint
from camcore.serving import paths
from camcore.serving.paths import allowed_model, allowed_path, allowed_roots, store_upload
from camcore.settings import ALLOWED_ENV, CACHE_ENV, DATA_ENV, RUNS_ENV
from tests.conftest import SMALL


class Planted:
    """Any class: pickling an instance stores a reference to code, which weights_only=True refuses."""


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path/data, /runs, /cache and /torch as the server's folders; tmp_path/outside holds secret.txt."""
    for name in ("data", "runs", "cache", "torch", "outside"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(ALLOWED_ENV, raising=False)
    (tmp_path / "outside" / "secret.txt").write_text("secret")
    (tmp_path / "data" / "escape").symlink_to(tmp_path / "outside")
    return tmp_path


def outside_paths(root: Path) -> list[str]:
    """Existing and missing paths outside the roots: plain, through a symlink in a root, and by "..". """
    return ["/etc/passwd", "/etc/no-such-file", str(root / "outside" / "secret.txt"), str(root / "outside" / "nope"),
            str(root / "data" / "escape" / "secret.txt"), str(root / "data" / "escape" / "nope"),
            str(root / "data" / ".." / "outside" / "secret.txt"), str(root / "data" / ".." / ".." / "nope")]


def refusal(typed: str) -> str:
    with pytest.raises(PathRefused) as caught:
        allowed_path(typed)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{typed}: ")
    return message[len(typed):]


def test_outside_paths_get_one_message_whether_they_exist_or_not(roots: Path) -> None:
    messages = {refusal(typed) for typed in outside_paths(roots)}
    assert len(messages) == 1 and ALLOWED_ENV in messages.pop()


def test_paths_in_each_root_resolve(roots: Path) -> None:
    for folder in ("data", "runs", "cache", "torch/hub/checkpoints"):
        typed = str(roots / folder / "sub" / ".." / "file.pth")
        assert allowed_path(typed) == (roots / folder / "file.pth").resolve()
    assert allowed_path(str(roots / "data")) == (roots / "data").resolve()
    assert all(root.is_absolute() for root in allowed_roots())


def test_a_sibling_folder_with_a_root_as_prefix_is_outside(roots: Path) -> None:
    (roots / "data-private").mkdir()
    refusal(str(roots / "data-private" / "x"))


def test_operator_folders_and_preset_files_are_allowed(roots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = str(roots / "outside" / "secret.txt")
    assert allowed_path(secret, operator_files=[secret, None]) == Path(secret).resolve()
    with pytest.raises(PathRefused):
        allowed_path(str(roots / "outside" / "other.txt"), operator_files=[secret])
    monkeypatch.setenv(ALLOWED_ENV, os.pathsep.join(["/nonexistent", str(roots / "outside")]))
    assert allowed_path(secret) == Path(secret).resolve()
    assert allowed_path(str(roots / "data" / "escape" / "nope")) == (roots / "outside" / "nope").resolve()


def test_model_names_pass_and_paths_are_checked(roots: Path) -> None:
    for name in ("resnet18", "lite0", "densenet121", "timm:resnet50.a1_in1k", "timm:tf_efficientnet_lite0"):
        assert allowed_model(name) == name
    checkpoint = roots / "runs" / "run-1" / "best.pt"
    assert allowed_model(str(checkpoint)) == str(checkpoint.resolve())
    for typed in ("timm:x/../../etc/passwd", "/etc/passwd", "timm:model.pt", *outside_paths(roots)):
        with pytest.raises(PathRefused):
            allowed_model(typed)


def saved(payload: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def test_an_uploaded_state_dict_is_kept_once_by_its_hash(roots: Path) -> None:
    weights = torchvision.models.resnet18().state_dict()
    data = saved(weights)
    path, is_checkpoint = store_upload(data)
    assert not is_checkpoint and path.parent == roots / "cache" / "uploads" and path.read_bytes() == data
    assert store_upload(data) == (path, False) and len(list(path.parent.iterdir())) == 1
    assert torch.equal(torch.load(path, weights_only=True)["fc.weight"], weights["fc.weight"])


def test_least_recently_used_uploads_go_when_over_the_cap(roots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, third = (saved({"weight": torch.full((64,), float(value))}) for value in range(3))
    monkeypatch.setattr(paths, "UPLOADS_KEPT_MB", (len(first) + len(third) + len(second) // 2) / 1_000_000)
    kept = {}
    for data in (first, second, first, third):  # the first is used again after the second came
        kept[data] = store_upload(data)[0]
        time.sleep(0.02)  # file times are coarse (a few ms)
    assert {path.name for path in (roots / "cache" / "uploads").iterdir()} == {kept[first].name, kept[third].name}


def test_an_uploaded_checkpoint_is_recognised(roots: Path, tmp_path: Path) -> None:
    file = tmp_path / "ckpt.pt"
    save_checkpoint(Checkpoint(arch="resnet18", head="binary", class_names=("cat", "dog"), preprocessing=SMALL,
                               state_dict=torchvision.models.resnet18(num_classes=1).state_dict()), file)
    assert store_upload(file.read_bytes())[1]


def test_a_pickle_with_code_is_refused_and_not_kept(roots: Path) -> None:
    with pytest.raises(CheckpointError, match="refused: it holds Python objects beyond tensors"):
        store_upload(saved({"weight": torch.zeros(2), "planted": Planted()}))
    assert not list((roots / "cache" / "uploads").iterdir())
