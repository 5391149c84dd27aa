"""Step 1 of every map: a layer's activations are the layer's own output of the model's forward pass, in eval mode,
with no hook left behind; and the stages a student picks from are the network's top-level ones."""
from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch import nn

from camcore.cams import layer_activations, stage_layers
from camcore.errors import UnsupportedMethod
from camcore.models.layouts import NCHW
from camcore.models.loading import LoadedModel
from tests.camcore.cams.conftest import photos
from tests.camcore.models.test_hooks import assert_untouched, model_state


def test_layer_activations_are_the_layers_own_output_and_leave_no_hook(resnet18: LoadedModel) -> None:
    x, state = photos(resnet18), model_state(resnet18.module)
    net = resnet18.module
    with torch.inference_mode():
        expected = net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x))))))
    assert torch.allclose(layer_activations(resnet18, x, "layer2"), expected, atol=1e-5)
    assert_untouched(net, state)
    with pytest.raises(ValueError, match="Unknown layer"):
        layer_activations(resnet18, x, "layer9")


def _own_copy(model: LoadedModel, **extra_layers: nn.Module) -> LoadedModel:
    """A private copy of a shared model (which tests must not change), with `extra_layers` added as mappable."""
    module = copy.deepcopy(model.module)
    for name, layer in extra_layers.items():
        module.add_module(name, layer)
    return dataclasses.replace(model, module=module, layouts={**model.layouts, **{name: NCHW for name in extra_layers}})


def test_a_training_model_is_read_in_eval_mode_and_left_training(resnet18: LoadedModel) -> None:
    """BatchNorm with its running statistics, not the batch's: the eval-mode forward's layer1, checked by hand;
    afterwards every module is back in train mode (and the running statistics unchanged, which a train-mode
    forward would have updated)."""
    model = _own_copy(resnet18)
    net = model.module
    x = photos(model)
    net.train()
    state = model_state(net)
    acts = layer_activations(model, x, "layer1")
    assert_untouched(net, state)
    assert all(module.training for module in net.modules())
    net.eval()
    with torch.inference_mode():
        expected = net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x)))))
    assert acts.dtype == torch.float32 and acts.shape == (2, 64, 16, 24)
    torch.testing.assert_close(acts, expected, rtol=1e-5, atol=1e-5)
    net.train()
    with torch.inference_mode():
        batch_stats = net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x)))))
    assert not torch.allclose(batch_stats, expected, atol=1e-3)  # the two modes differ, so the check can tell


def test_a_layer_the_forward_never_runs_is_refused_in_one_line(resnet18: LoadedModel) -> None:
    model = _own_copy(resnet18, unused=nn.Conv2d(512, 8, 1))
    state = model_state(model.module)
    with pytest.raises(UnsupportedMethod, match=r"^Layer unused is not used by .*'s forward pass; pick another\.$"):
        layer_activations(model, photos(model), "unused")
    assert_untouched(model.module, state)


def test_stage_layers_are_the_top_level_stages(resnet18: LoadedModel, zoo) -> None:
    assert stage_layers(resnet18) == ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    lite0 = zoo("timm:tf_efficientnet_lite0")
    assert stage_layers(lite0) == ("conv_stem", "bn1", *[f"blocks.{i}" for i in range(7)], "conv_head", "bn2")
    efficientnet = zoo("efficientnet_b0")
    assert stage_layers(efficientnet) == tuple(f"features.{i}" for i in range(9))
    for model in (resnet18, lite0, efficientnet):
        stages = stage_layers(model)
        assert set(stages) <= set(model.layers)
        sizes = [layer_activations(model, photos(model), name).shape[-1] for name in stages]
        assert sizes[0] > sizes[-1]  # from the first convolution down to the last block
