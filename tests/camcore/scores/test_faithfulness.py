"""Deletion / insertion curves and the drop / increase in confidence: a hand-worked toy model whose probability
is the share of one quadrant left visible, batching, pytorch-grad-cam's metrics as reference, model untouched."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_grad_cam.metrics.cam_mult_image import DropInConfidence, IncreaseInConfidence
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from torch import nn
from torchvision.transforms.v2.functional import gaussian_blur

from camcore.explain import explain
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from camcore.scores.faithfulness import (
    BLUR_KERNEL_PX,
    BLUR_SIGMA_PX,
    MapFaithfulness,
    explanation_faithfulness,
    forward_passes,
    map_faithfulness,
)
from tests.camcore.models.test_hooks import assert_untouched, model_state
from tests.conftest import SMALL

SIZE_PX = 64


class QuadrantModel(nn.Module):
    """Class 1's probability is q, the mean of channel 0 over the top-left 4x4 quadrant of an 8x8 input (the
    logits are log(1 - q), log(q), so softmax gives q back exactly). Counts its forward passes and batch sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(x.shape[0])
        q = x[:, 0, :4, :4].mean(dim=(1, 2))
        return torch.log(torch.stack([1 - q, q], dim=1))


def _toy() -> LoadedModel:
    return LoadedModel(spec="toy", arch="toy", module=QuadrantModel(), class_names=("other", "quadrant"),
                       binary=False, preprocessing=SMALL, layouts={}, default_layer="", cam=None,
                       device=torch.device("cpu"))


def _quadrant_map(ranks: list[list[float]]) -> np.ndarray:
    """(8, 8) map of four 4x4 quadrants with the 2x2 values `ranks` (highest deleted first)."""
    return np.kron(np.array(ranks), np.ones((4, 4))).astype(np.float32)


ON, AWAY = [[3, 2], [1, 0]], [[0, 1], [2, 3]]
"""Maps ranking the quadrant the model reads first, or last."""


def test_a_map_on_the_quadrant_the_model_reads_deletes_it_first() -> None:
    """Steps of 25% remove one quadrant each. Pointing at the read quadrant: q = 1, 0, 0, 0, 0 when deleting
    (AUC 0.25 * 1/2 = 0.125) and 0, 1, 1, 1, 1 when inserting (0.875); pointing away (it comes last): the mirror."""
    model, x = _toy(), torch.ones(3, 8, 8)
    on, away = map_faithfulness(model, x, [_quadrant_map(ON), _quadrant_map(AWAY)], 1, steps=4, fill="mean")
    np.testing.assert_allclose(on.deletion.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(on.deletion.probabilities, [1, 0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(away.deletion.probabilities, [1, 1, 1, 1, 0], atol=1e-6)
    np.testing.assert_allclose(on.insertion.probabilities, [0, 1, 1, 1, 1], atol=1e-6)
    assert on.deletion.auc == pytest.approx(0.125) and away.deletion.auc == pytest.approx(0.875)
    assert on.insertion.auc == pytest.approx(0.875) and away.insertion.auc == pytest.approx(0.125)


def test_drop_and_increase_follow_the_map_times_the_photo() -> None:
    """x * map keeps q = the map's mean over the quadrant: 1 for the right map (no drop), 0.5 for a half-strength
    one (drop 0.5), 0 away from it (drop 1); O > Y never, as Y = 1 already."""
    model, x = _toy(), torch.ones(3, 8, 8)
    half = np.full((8, 8), 0.5, dtype=np.float32)
    half[4:, 4:] = 1.0
    scores = map_faithfulness(model, x, [_quadrant_map(ON), half, _quadrant_map(AWAY)], 1,
                              steps=4, fill="mean")
    assert [s.masked_probability for s in scores] == pytest.approx([1.0, 0.5, 0.0], abs=1e-6)
    assert [s.drop for s in scores] == pytest.approx([0.0, 0.5, 1.0], abs=1e-6)
    assert not any(s.increase for s in scores)
    assert MapFaithfulness(scores[0].deletion, scores[0].insertion, 0.2, 0.3).increase


def test_deleted_pixels_become_the_blurred_photo() -> None:
    """All pixels deleted is the blurred photo (and no pixel inserted too): its q, computed here."""
    model, x = _toy(), torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    (scores,) = map_faithfulness(model, x, [np.random.default_rng(1).random((8, 8))], 1, steps=2)
    blurred = gaussian_blur(x, [BLUR_KERNEL_PX] * 2, [BLUR_SIGMA_PX] * 2)
    expected = float(blurred[0, :4, :4].mean())
    assert scores.deletion.probabilities[-1] == pytest.approx(expected, abs=1e-6)
    assert scores.insertion.probabilities[0] == pytest.approx(expected, abs=1e-6)
    assert scores.deletion.probabilities[0] == pytest.approx(float(x[0, :4, :4].mean()), abs=1e-6)


def test_each_maps_perturbed_copies_share_a_batch() -> None:
    """Per map 5 deleted + 5 inserted + 1 multiplied = 11 copies: 2 passes of at most 8 each, or 1 of 64."""
    model = _toy()
    maps = [_quadrant_map(ON), _quadrant_map(AWAY)]
    map_faithfulness(model, torch.ones(3, 8, 8), maps, 1, steps=4, batch_size=8)
    assert model.module.batches == [8, 3, 8, 3]
    model.module.batches.clear()
    map_faithfulness(model, torch.ones(3, 8, 8), maps, 1, steps=4)
    assert model.module.batches == [11, 11]


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="fill"):
        map_faithfulness(_toy(), torch.ones(3, 8, 8), [np.ones((8, 8))], 1, fill="black")
    with pytest.raises(ValueError, match="steps"):
        map_faithfulness(_toy(), torch.ones(3, 8, 8), [np.ones((8, 8))], 1, steps=0)


def test_drop_and_increase_agree_with_pytorch_grad_cam(resnet18: LoadedModel, photo: Image.Image) -> None:
    """pytorch-grad-cam multiplies the normalised input by the map too; its DropInConfidence is max(0, Y - O)
    (not divided by Y) and IncreaseInConfidence is O > Y."""
    x = resnet18.preprocessing.with_size(SIZE_PX).transform()(photo)
    explanations = explain([photo], resnet18, MapOptions(top_k=3, size_px=SIZE_PX))[0]
    maps = list(explanations.maps)
    classes = [p.class_index for p in explanations.predictions]
    ours = [map_faithfulness(resnet18, x, [grid], c, steps=2)[0] for grid, c in zip(maps, classes)]
    cams = np.stack([heatmap.normalise(heatmap.upsample(grid, tuple(x.shape[-2:]))) for grid in maps])
    batch, targets = x[None].repeat(len(maps), 1, 1, 1), [ClassifierOutputSoftmaxTarget(c) for c in classes]
    drops = DropInConfidence()(batch, cams, targets, resnet18.module)
    increases = IncreaseInConfidence()(batch, cams, targets, resnet18.module)
    assert [s.drop * s.probability for s in ours] == pytest.approx(list(drops), abs=1e-5)
    assert [float(s.increase) for s in ours] == list(increases)


def test_explanation_faithfulness_scores_three_maps_and_leaves_the_model_untouched(
        resnet18: LoadedModel, photo: Image.Image) -> None:
    state, grad_enabled = model_state(resnet18.module), torch.is_grad_enabled()
    explanation = explain([photo], resnet18, MapOptions(top_k=2, size_px=SIZE_PX))[0]
    report = explanation_faithfulness(photo, resnet18, explanation, rank=1, steps=4)
    assert report.class_index == explanation.predictions[1].class_index
    for scores in (report.method, report.random_map, report.gaussian_map):
        assert scores.probability == pytest.approx(explanation.predictions[1].probability, rel=1e-4)
        assert 0 <= scores.deletion.auc <= 1 and 0 <= scores.insertion.auc <= 1
    assert report.random_map.deletion.auc != report.gaussian_map.deletion.auc
    assert not math.isnan(report.method.drop)
    assert_untouched(resnet18.module, state)
    assert torch.is_grad_enabled() == grad_enabled


def test_forward_passes_counts_the_inputs_one_photos_scores_take(resnet18: LoadedModel, photo: Image.Image) -> None:
    """What the options offering the scores say they cost: 3 maps x (4 deleted + 4 inserted + 1 masked) = 27."""
    explanation = explain([photo], resnet18, MapOptions(top_k=1, size_px=SIZE_PX))[0]
    inputs: list[int] = []
    hook = resnet18.module.conv1.register_forward_pre_hook(lambda _module, args: inputs.append(args[0].shape[0]))
    try:
        explanation_faithfulness(photo, resnet18, explanation, steps=3)
    finally:
        hook.remove()
    assert sum(inputs) == forward_passes(3) == 27
