"""cams.base: what compute_maps refuses before any work (explained classes out of range, wrong shape or type)."""
from __future__ import annotations

import pytest
import torch

from camcore.cams import METHODS, base, compute_maps
from camcore.models.loading import LoadedModel
from tests.camcore.cams.conftest import photos


@pytest.fixture
def no_device_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any forward at all fails the test: the checks must come first (on CUDA a bad index is a device-side
    assert that breaks CUDA for the whole process)."""
    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("device work started before the class indices were checked")

    monkeypatch.setattr(base, "_cam_steps", forbidden)
    monkeypatch.setattr(base, "_gradient_steps", forbidden)
    monkeypatch.setattr(base, "_activation_steps", forbidden)
    monkeypatch.setattr(base, "_masked_steps", forbidden)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("fixture", "indices", "error", "message"), [
    ("resnet18", [[5], [1000]], ValueError, "Class index 1000 is out of range: this model has 1000 classes"),
    ("resnet18", [[-1], [3]], ValueError, "Class index -1 is out of range"),
    ("binary_resnet", [[1], [2]], ValueError, "Class index 2 is out of range: this model has 2 classes"),
    ("resnet18", [[1.0], [2.0]], TypeError, "must be integers"),
    ("resnet18", [5, 6], ValueError, r"shape \(images, classes\) = \(2, K >= 1\), not \(2,\)"),
    ("resnet18", [[5], [6], [7]], ValueError, r"not \(3, 1\)"),
])
def test_bad_class_indices_are_refused_before_any_forward(request: pytest.FixtureRequest, no_device_work: None,
                                                          method: str, fixture: str, indices: list,
                                                          error: type[Exception], message: str) -> None:
    model: LoadedModel = request.getfixturevalue(fixture)
    with pytest.raises(error, match=message) as info:
        compute_maps(model, photos(model), method=method, class_indices=torch.tensor(indices))
    assert "\n" not in str(info.value)


def test_top_k_below_one_is_refused(resnet18: LoadedModel, no_device_work: None) -> None:
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        compute_maps(resnet18, photos(resnet18), method="cam", top_k=0)


def test_valid_indices_at_the_edges_are_mapped(resnet18: LoadedModel) -> None:
    chosen = torch.tensor([[0, 999], [999, 0]])
    batch = compute_maps(resnet18, photos(resnet18), method="gradcam", class_indices=chosen)
    assert torch.equal(batch.class_indices, chosen)


def test_method_kinds_come_from_how_each_method_is_registered() -> None:
    """The pages and explain() ask the registry, never a method's name: CAM alone reads the head's weights (its
    layer is fixed, NWC applies), Finer-CAM alone compares classes (it reports which)."""
    assert [key for key, method in METHODS.items() if method.needs_head] == ["cam"]
    assert [key for key, method in METHODS.items() if method.compares_classes] == ["finercam"]



def test_every_method_says_in_one_line_what_it_weighs_and_the_cli_shows_it(capsys: pytest.CaptureFixture) -> None:
    """The registry's summaries are the CLI's --method help (and the pages' method help): one line each, no two
    alike, and every method's key and summary reach `explain --help`."""
    from camcore.cli.main import build_parser

    summaries = [method.summary for method in METHODS.values()]
    assert all(summary and "\n" not in summary and not summary.endswith(".") for summary in summaries)
    assert len(set(summaries)) == len(summaries)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["explain", "--help"])
    cli_help = " ".join(capsys.readouterr().out.split())
    for key, method in METHODS.items():
        assert f"{key}: {' '.join(method.summary.split())}" in cli_help
