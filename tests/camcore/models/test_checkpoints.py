"""Our checkpoint format: a lossless round trip, atomic writes, and validation messages for bad files."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from camcore.errors import CheckpointError
from camcore.models import checkpoints
from camcore.models.checkpoints import Checkpoint, load_checkpoint, load_state_dict, save_checkpoint
from tests.conftest import SMALL


def _checkpoint(**changes: object) -> Checkpoint:
    fields = {"arch": "resnet18", "head": "binary", "class_names": ("cat", "dog"), "preprocessing": SMALL,
              "state_dict": {"fc.weight": torch.arange(6.0).reshape(1, 6), "fc.bias": torch.tensor([0.5])},
              "training": {"epochs": 2, "lr": 1e-3, "val_accuracy": 0.97, "history": [0.8, 0.97]}}
    return Checkpoint(**{**fields, **changes})


def _save_raw(path: Path, **changes: object) -> Path:
    """A checkpoint dict written directly with torch.save, to build malformed ones."""
    data = {"format": checkpoints.FORMAT, "version": checkpoints.VERSION, "arch": "resnet18", "head": "multiclass",
            "class_names": ["a", "b", "c"], "preprocessing": SMALL.to_dict(), "state_dict": {}, **changes}
    torch.save({key: value for key, value in data.items() if value is not None}, path)
    return path


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    original = _checkpoint()
    save_checkpoint(original, tmp_path / "model.pt")
    loaded = load_checkpoint(tmp_path / "model.pt")
    assert (loaded.arch, loaded.head, loaded.class_names) == ("resnet18", "binary", ("cat", "dog"))
    assert loaded.preprocessing == SMALL and loaded.training == original.training
    assert loaded.state_dict.keys() == original.state_dict.keys()
    assert all(torch.equal(loaded.state_dict[key], value) for key, value in original.state_dict.items())
    assert loaded.num_outputs == 1 and _checkpoint(head="multiclass", class_names=("a", "b", "c")).num_outputs == 3
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temp file left beside it


def test_pooling_round_trips_and_older_files_mean_average_pooling(tmp_path: Path) -> None:
    save_checkpoint(_checkpoint(pooling="tap:0.25"), tmp_path / "tap.pt")
    assert load_checkpoint(tmp_path / "tap.pt").pooling == "tap:0.25"
    assert load_checkpoint(_save_raw(tmp_path / "old.pt")).pooling == "avg"  # no pooling key: before TAP existed


def test_a_failed_save_leaves_nothing_and_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.pt"
    save_checkpoint(_checkpoint(), path)
    before = path.read_bytes()

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(_checkpoint(class_names=("x", "y")), path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"] and path.read_bytes() == before


def test_load_state_dict_reads_plain_weights_and_checkpoints(tmp_path: Path) -> None:
    weights = {"w": torch.ones(2, 3)}
    torch.save(weights, tmp_path / "plain.pth")
    save_checkpoint(_checkpoint(state_dict=weights), tmp_path / "ours.pt")
    for name in ("plain.pth", "ours.pt"):
        assert torch.equal(load_state_dict(tmp_path / name)["w"], weights["w"])


def test_load_state_dict_refuses_what_is_not_a_mapping_of_tensors(tmp_path: Path) -> None:
    torch.save({"w": torch.ones(1), "note": "text"}, tmp_path / "mixed.pth")
    with pytest.raises(CheckpointError, match="mixed.pth: not a state dict"):
        load_state_dict(tmp_path / "mixed.pth")


@pytest.mark.parametrize(("changes", "message"), [
    ({"state_dict": None}, "lacks state_dict"),
    ({"version": 99}, "version 99"),
    ({"head": "regression"}, "unknown head 'regression'"),
    ({"head": "binary"}, "two class names"),
    ({"format": "something-else"}, "not a CAM Explorer checkpoint"),
])
def test_malformed_checkpoints_say_what_is_wrong(tmp_path: Path, changes: dict, message: str) -> None:
    path = _save_raw(tmp_path / "bad.pt", **changes)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(info.value).startswith("bad.pt: ") and message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"", b"plain text, not tensors\n", b"PK\x03\x04 broken zip", bytes(range(256))])
def test_files_that_are_not_pytorch_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "odd.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="odd.pt: "):
        load_checkpoint(path)


_NO_MEAN = {key: value for key, value in SMALL.to_dict().items() if key != "mean"}


@pytest.mark.parametrize(("changes", "message"), [
    ({"preprocessing": _NO_MEAN}, "preprocessing lacks 'mean'"),
    ({"preprocessing": {**SMALL.to_dict(), "resize_px": "large"}}, "preprocessing is malformed"),
    ({"preprocessing": "imagenet"}, "preprocessing must be a dict"),
    ({"class_names": "abc"}, "class_names must be a non-empty list of strings"),  # not three classes a, b, c
    ({"class_names": [0, 1, 2]}, "class_names must be a non-empty list of strings"),
    ({"class_names": []}, "class_names must be a non-empty list of strings"),
    ({"state_dict": {"fc.weight": "not a tensor"}}, "state_dict is not a mapping of names to tensors"),
    ({"state_dict": [torch.ones(1)]}, "state_dict is not a mapping of names to tensors"),
    ({"arch": 18}, "arch is a int, not a str"),
    ({"training": ["epochs", 2]}, "training is a list, not a dict"),
    ({"pooling": "max"}, "Unknown pooling 'max'. Valid: avg, tap, tap:TAU"),
    ({"pooling": 0.1}, "pooling is a float, not a str"),
])
def test_malformed_fields_are_a_checkpoint_error(tmp_path: Path, changes: dict, message: str) -> None:
    path = _save_raw(tmp_path / "bad.pt", **changes)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(info.value).startswith("bad.pt: ") and message in str(info.value) and "\n" not in str(info.value)
