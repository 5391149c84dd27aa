"""Score-CAM against pytorch-grad-cam 1.5's ScoreCAM, its progress reports, its K classes from shared passes, and
the shared model left untouched. Kept cheap (pgc runs every pass once per class, 16 at a time): 64 px photos,
layer1 (64 channels) where the layer is free."""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from camcore.cams import compute_maps, map_steps, masking
from camcore.models.loading import LoadedModel, load_model
from tests.camcore.cams.conftest import photos
from tests.camcore.cams.test_reference_pgc import _target, assert_maps_agree, ours_and_pgcs, pgc_copy
from tests.camcore.models.test_hooks import assert_untouched, model_state

pgc = pytest.importorskip("pytorch_grad_cam", reason="grad-cam is a test-only dependency: requirements-dev.txt")


@pytest.mark.parametrize(("name", "layer", "top_k"), [
    ("resnet18", "layer2", 1),
    ("binary_resnet", "layer1", 2),  # a one-logit head: class 0 scores -z
])  # layer4, with its all-zero channels, is checked by hand below: pgc's 512 passes there take minutes here
def test_maps_match_pytorch_grad_cam(zoo, name: str, layer: str, top_k: int) -> None:
    model = zoo(name)
    x = photos(model, 64)[:1, :, :, :64]
    # pgc: one call per class rank, each running its C masked forwards, 16 at a time
    ours, theirs = ours_and_pgcs(model, x, "scorecam", pgc.ScoreCAM, top_k=top_k, layer=layer)
    assert_maps_agree(ours.maps.numpy(), theirs)


@pytest.mark.parametrize(("name", "layer"), [("resnet18", "layer2"), ("binary_resnet", "layer1")])
def test_channel_weights_are_pytorch_grad_cams(zoo, name: str, layer: str) -> None:
    """The weights themselves: on random weights the masked logits barely differ, so every weight is near 1 / C
    and the maps alone would pass even with uniform weights (checked: softmax(0 * scores) keeps r > 0.99)."""
    model = zoo(name)
    x = photos(model, 64)[:1, :, :, :64]
    steps = map_steps(model, x, method="scorecam", top_k=2, layer=layer)
    module = pgc_copy(model)
    extractor = pgc.ScoreCAM(model=module, target_layers=[module.get_submodule(layer)])
    try:
        for k in range(2):
            targets = [_target(model, int(c)) for c in steps.class_indices[:, k]]
            theirs = extractor.get_cam_weights(x, None, targets, steps.activations.numpy(), None)
            torch.testing.assert_close(steps.channel_weights[:, k, :, 0, 0], torch.from_numpy(theirs),
                                       rtol=1e-5, atol=0)
    finally:
        extractor.activations_and_grads.release()


def test_progress_reports_every_batch_up_to_the_total(resnet18: LoadedModel,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted against the batches the network's first convolution sees, through a hook of the test's own."""
    x = photos(resnet18)
    per_batch = 24
    monkeypatch.setattr(masking, "MASKED_PIXEL_BUDGET", per_batch * x.shape[-2] * x.shape[-1])
    sizes: list[int] = []
    handle = resnet18.module.conv1.register_forward_hook(lambda _m, inputs, _out: sizes.append(inputs[0].shape[0]))
    calls: list[tuple[int, int]] = []
    try:
        compute_maps(resnet18, x, method="scorecam", top_k=2, layer="layer1",
                     progress=lambda done, total: calls.append((done, total)))
    finally:
        handle.remove()
    masked = sizes[1:]  # the first forward is the photos' own
    assert len(calls) == len(masked) >= math.ceil(2 * 64 / per_batch)
    assert [done for done, _ in calls] == np.cumsum(masked).tolist()
    assert {total for _, total in calls} == {sum(masked)} and calls[-1][0] == sum(masked)


def test_k_classes_at_once_equal_k_separate_requests(resnet18: LoadedModel) -> None:
    x = photos(resnet18)
    together = compute_maps(resnet18, x, method="scorecam", top_k=2, layer="layer1")
    for k in range(2):
        alone = compute_maps(resnet18, x, method="scorecam", layer="layer1",
                             class_indices=together.class_indices[:, k:k + 1])
        torch.testing.assert_close(alone.maps[:, 0], together.maps[:, k], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(alone.logits, together.logits)


def test_the_shared_model_keeps_no_hook_grad_or_flag(resnet18_weights: Path) -> None:
    """Parameters that require grad and a module in training mode, as a user's model mid fine-tuning."""
    model = load_model("resnet18", weights_path=resnet18_weights, device="cpu")
    model.module.requires_grad_(True).layer3.train()
    state, grad_enabled = model_state(model.module), torch.is_grad_enabled()
    batch = compute_maps(model, photos(model), method="scorecam", top_k=2, layer="layer1")
    assert_untouched(model.module, state)
    assert torch.is_grad_enabled() == grad_enabled
    assert not batch.maps.requires_grad
    with pytest.raises(ValueError, match="layer9"):
        compute_maps(model, photos(model), method="scorecam", layer="layer9")
    assert_untouched(model.module, state)


def test_weights_are_the_softmax_of_masked_logits_by_hand(resnet18: LoadedModel) -> None:
    """pgc's formula in plain torch, every channel masked and run (the all-zero ones too, which ours scores with
    one forward of the zero image): upsample, min-max, mask, forward, softmax over channels."""
    x = photos(resnet18)[:1, :, :, :64]  # 64x64: a 2x2 grid at layer4, where some channels are all zero
    steps = map_steps(resnet18, x, method="scorecam", top_k=1, layer="layer4")
    acts, cls = steps.activations[0], int(steps.class_indices[0, 0])
    assert (acts.flatten(1).amax(1) == acts.flatten(1).amin(1)).any(), "no constant channel: shortcut not exercised"
    up = torch.nn.functional.interpolate(acts[None], size=x.shape[-2:], mode="bilinear", align_corners=True)[0]
    low, high = up.amin(dim=(1, 2), keepdim=True), up.amax(dim=(1, 2), keepdim=True)
    with torch.inference_mode():
        logits = resnet18.module(x * ((up - low) / (high - low + 1e-8)).unsqueeze(1))[:, cls]
    torch.testing.assert_close(steps.channel_weights[0, 0, :, 0, 0], torch.softmax(logits, 0), rtol=1e-4, atol=1e-7)


def test_threads_get_the_maps_of_one_by_one(resnet18: LoadedModel) -> None:
    """Four sessions at once on the shared model: each thread's tap sees only its own forward passes."""
    x = photos(resnet18)
    alone = [compute_maps(resnet18, x[i:i + 1], method="scorecam", top_k=1, layer="layer1").maps for i in (0, 1)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda i: compute_maps(resnet18, x[i % 2:i % 2 + 1], method="scorecam", top_k=1,
                                                        layer="layer1").maps, range(4)))
    for i, maps in enumerate(together):
        torch.testing.assert_close(maps, alone[i % 2], rtol=1e-5, atol=1e-7)
