"""The shared model is left exactly as found: no hooks, same training/requires_grad flags, no .grad, same grad
mode, after every method, after an error midway, and for a model that was training when asked."""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from camcore.cams import METHODS
from camcore.explain import explain
from camcore.models.hooks import eval_mode, gradient_tap, output_shapes, output_tap
from camcore.models.loading import LoadedModel, load_model
from camcore.options import MapOptions
from tests.conftest import cheap_layer

SIZE_PX = 64


def model_state(module: nn.Module) -> tuple[list[bool], list[bool]]:
    """Each module's `training` and each parameter's `requires_grad`, in a fixed order."""
    return [m.training for m in module.modules()], [p.requires_grad for p in module.parameters()]


def assert_untouched(module: nn.Module, state: tuple[list[bool], list[bool]]) -> None:
    assert all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks for m in module.modules())
    assert model_state(module) == state
    assert all(p.grad is None for p in module.parameters())


def _layer_for(method: str) -> str | None:
    """An earlier layer for the gradient methods (so a failure in layer4 happens after their hook fired), and
    for Score-CAM one of 64 channels (one forward each)."""
    return cheap_layer(method, "layer3" if METHODS[method].needs_gradients else None)


def _raise(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("failed midway")


@pytest.fixture(scope="module")
def training_model(resnet18_weights: Path) -> LoadedModel:
    """Its own resnet18 (not the shared fixture), as if mid fine-tuning: training, mostly requiring grad,
    with a mix of flags that a blanket eval()/requires_grad_() could not restore."""
    model = load_model("resnet18", weights_path=resnet18_weights, device="cpu")
    model.module.train().requires_grad_(True)
    model.module.layer2.eval()
    model.module.layer1.requires_grad_(False)
    return model


@pytest.mark.parametrize("method", METHODS)
def test_explain_leaves_the_model_untouched(resnet18: LoadedModel, photo: Image.Image, method: str) -> None:
    state, grad_enabled = model_state(resnet18.module), torch.is_grad_enabled()
    explain([photo], resnet18, MapOptions(method=method, top_k=3, layer=_layer_for(method), size_px=SIZE_PX))
    assert_untouched(resnet18.module, state)
    assert torch.is_grad_enabled() == grad_enabled


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("failure", ["forward", "weights"])
def test_an_error_midway_leaves_the_model_untouched(resnet18: LoadedModel, photo: Image.Image,
                                                    monkeypatch: pytest.MonkeyPatch, method: str, failure: str) -> None:
    if failure == "forward":
        monkeypatch.setitem(vars(resnet18.module.layer4[1].bn2), "forward", _raise)  # undo deletes it again
    else:
        monkeypatch.setitem(METHODS, method, dataclasses.replace(METHODS[method], weights=_raise))
    state, grad_enabled = model_state(resnet18.module), torch.is_grad_enabled()
    with pytest.raises(RuntimeError, match="failed midway"):
        explain([photo], resnet18, MapOptions(method=method, top_k=3, layer=_layer_for(method), size_px=SIZE_PX))
    monkeypatch.undo()
    assert_untouched(resnet18.module, state)
    assert torch.is_grad_enabled() == grad_enabled


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("grad_enabled", [True, False])
def test_a_training_model_is_explained_in_eval_mode_and_restored(training_model: LoadedModel, resnet18: LoadedModel,
                                                                  photo: Image.Image, method: str,
                                                                  grad_enabled: bool) -> None:
    state = model_state(training_model.module)
    assert any(state[0]) and not all(state[0]) and any(state[1]) and not all(state[1])
    with torch.set_grad_enabled(grad_enabled):
        (explained,) = explain([photo], training_model,
                               MapOptions(method=method, top_k=3, size_px=SIZE_PX, layer=cheap_layer(method)))
        assert torch.is_grad_enabled() == grad_enabled
    assert_untouched(training_model.module, state)
    (reference,) = explain([photo], resnet18,
                           MapOptions(method=method, top_k=3, size_px=SIZE_PX, layer=cheap_layer(method)))
    assert [p.class_index for p in explained.predictions] == [p.class_index for p in reference.predictions]
    assert np.allclose(explained.maps, reference.maps, rtol=1e-4, atol=1e-6)


def test_eval_mode_restores_flags_after_an_exception(training_model: LoadedModel) -> None:
    state = model_state(training_model.module)
    with pytest.raises(RuntimeError), eval_mode(training_model.module):
        assert not any(m.training for m in training_model.module.modules())
        _raise()
    assert model_state(training_model.module) == state


def test_gradient_tap_ignores_other_threads_and_removes_its_hook(resnet18: LoadedModel) -> None:
    x = torch.randn(1, 3, SIZE_PX, SIZE_PX)
    with gradient_tap(resnet18.layer("layer4")) as tap, torch.no_grad():
        worker = threading.Thread(target=resnet18.module, args=(x,))
        worker.start()
        worker.join()
        assert tap == []  # another thread's forward is not this caller's
        resnet18.module(x)
        assert len(tap) == 1 and tap[0].requires_grad and tap[0].shape[:2] == (1, 512)
    assert_untouched(resnet18.module, model_state(resnet18.module))


def test_gradient_tap_turns_grad_mode_on_from_its_layer_and_back_off(resnet18: LoadedModel) -> None:
    with torch.no_grad():
        with gradient_tap(resnet18.layer("layer3")):
            logits = resnet18.module(torch.randn(1, 3, SIZE_PX, SIZE_PX))
            assert torch.is_grad_enabled() and logits.requires_grad
        assert not torch.is_grad_enabled()


def test_output_shapes_records_in_finish_order_and_cleans_up(resnet18: LoadedModel) -> None:
    with output_shapes(resnet18.module) as shapes, torch.inference_mode():
        resnet18.module(torch.randn(1, 3, SIZE_PX, SIZE_PX))
    names = [name for name, _ in shapes]
    assert names.index("layer4.1") < names.index("layer4") < names.index("fc")
    assert dict(shapes)["layer4"] == (1, 512, 2, 2) and dict(shapes)["fc"] == (1, 1000)
    assert_untouched(resnet18.module, model_state(resnet18.module))


def test_output_tap_ignores_other_threads_and_removes_its_hook_after_an_error(resnet18: LoadedModel) -> None:
    x, state = torch.randn(1, 3, SIZE_PX, SIZE_PX), model_state(resnet18.module)
    with pytest.raises(RuntimeError, match="failed midway"), output_tap(resnet18.layer("layer2")) as tap, \
            torch.inference_mode():
        worker = threading.Thread(target=resnet18.module, args=(x,))
        worker.start()
        worker.join()
        assert tap == []  # another thread's forward is not this caller's
        resnet18.module(x)
        assert len(tap) == 1 and tap[0].shape[:2] == (1, 128) and not tap[0].requires_grad
        _raise()
    assert_untouched(resnet18.module, state)
