"""Score-CAM's masked scores: the masks on a hand-worked case, and the scores of every (image, class, channel)
against a plain loop over torch's own interpolation, with constant channels, batching and progress counted by hand."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from camcore.cams import masking
from camcore.cams.masking import channel_masks, masked_scores


def test_channel_masks_upsample_with_corners_aligned_then_scale_to_0_1() -> None:
    """A 2 x 2 ramp upsampled to 3 x 3 with align_corners=True keeps its corners and averages between them:
    [[0, .5, 1], [1, 1.5, 2], [2, 2.5, 3]]; min-max then divides by 3."""
    acts = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])  # (B=1, h=2, w=2)
    expected = torch.tensor([[0.0, 0.5, 1.0], [1.0, 1.5, 2.0], [2.0, 2.5, 3.0]]) / 3.0
    masks = channel_masks(acts, (3, 3))
    assert masks.shape == (1, 1, 3, 3)
    torch.testing.assert_close(masks[0, 0], expected)


def test_channel_masks_min_max_each_channel_on_its_own() -> None:
    """A channel shifted and scaled gets the same mask; an all-zero one (a constant after the ReLU) the zero
    mask, 0 / (0 + eps), as pytorch-grad-cam's."""
    base = torch.tensor([[0.0, 4.0], [1.0, 2.0]])
    masks = channel_masks(torch.stack([base, 10 * base - 7, torch.zeros(2, 2)]), (4, 6))
    torch.testing.assert_close(masks[1], masks[0])
    assert float(masks[0].min()) == 0.0 and float(masks[0].max()) == pytest.approx(1.0)
    assert torch.equal(masks[2], torch.zeros(1, 4, 6))


N, C, H, W, CLASSES = 2, 3, 8, 12, 5
WEIGHTS = torch.randn(CLASSES, 3 * H * W, generator=torch.Generator().manual_seed(0))
BIAS = torch.arange(1.0, CLASSES + 1)
"""Non-zero, so the zero image's logits are not the zeros that fresh memory often holds."""


def linear_logits(batch: torch.Tensor) -> torch.Tensor:
    """A fixed affine classifier on the flattened input: (B, 3, H, W) -> (B, CLASSES)."""
    return batch.flatten(1) @ WEIGHTS.T + BIAS


def loop_scores(x: torch.Tensor, acts: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """The definition, one masked input at a time: mask = minmax(bilinear(A_c, align_corners=True)), (N, K, C)."""
    scores = torch.empty(N, classes.shape[1], C)
    for n in range(N):
        for c in range(C):
            up = F.interpolate(acts[n, c][None, None], size=(H, W), mode="bilinear", align_corners=True)
            mask = (up - up.min()) / (up.max() - up.min() + 1e-8)
            logits = linear_logits(x[n:n + 1] * mask)[0]
            for k in range(classes.shape[1]):
                scores[n, k, c] = logits[classes[n, k]]
    return scores


@pytest.fixture
def inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(N, 3, H, W, generator=generator)
    acts = torch.rand(N, C, 2, 3, generator=generator)
    classes = torch.tensor([[4, 1], [0, 2]])  # (N, K=2)
    return x, acts, classes


def test_masked_scores_are_the_logits_of_each_masked_input(inputs) -> None:
    x, acts, classes = inputs
    with torch.inference_mode():
        scores = masked_scores(x, acts, classes, linear_logits)
    assert scores.shape == (N, 2, C)
    torch.testing.assert_close(scores, loop_scores(x, acts, classes), rtol=1e-5, atol=1e-5)


def test_constant_channels_share_the_zero_image_s_forward_and_batches_are_counted(
        inputs, monkeypatch: pytest.MonkeyPatch) -> None:
    """Image 0's channel 1 is all zeros and image 1's channel 2 the constant 0.7: both score the zero image's
    logits (for 0.7 too, where upsampling's rounding noise would have been stretched to [0, 1]). With 2 masked
    inputs per forward, the 4 varying channels take forwards of 2 and 2 after the zero image's one, and progress
    counts 1, 3, 5 of 5."""
    x, acts, classes = inputs
    acts = acts.clone()
    acts[0, 1] = 0.0
    acts[1, 2] = 0.7
    monkeypatch.setattr(masking, "MASKED_PIXEL_BUDGET", 2 * H * W)
    batch_sizes: list[int] = []
    calls: list[tuple[int, int]] = []

    def counted(batch: torch.Tensor) -> torch.Tensor:
        batch_sizes.append(batch.shape[0])
        return linear_logits(batch)

    with torch.inference_mode():
        scores = masked_scores(x, acts, classes, counted, progress=lambda done, total: calls.append((done, total)))
    expected = loop_scores(x, acts, classes)
    zero_logits = linear_logits(torch.zeros(1, 3, H, W))[0]
    expected[1, :, 2] = zero_logits[classes[1]]
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(scores[0, :, 1], BIAS[classes[0]])  # the zero image scores the bias alone
    assert batch_sizes == [1, 2, 2]
    assert calls == [(1, 5), (3, 5), (5, 5)]


def test_without_constant_channels_there_is_no_zero_image_forward(inputs, monkeypatch: pytest.MonkeyPatch) -> None:
    x, acts, classes = inputs
    monkeypatch.setattr(masking, "MASKED_PIXEL_BUDGET", 4 * H * W)
    calls: list[tuple[int, int]] = []
    with torch.inference_mode():
        masked_scores(x, acts, classes, linear_logits, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(4, 6), (6, 6)]
