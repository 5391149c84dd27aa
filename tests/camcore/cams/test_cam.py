"""CAM against its definition computed here by hand from torchvision's ResNet layers, not camcore.models.heads."""
from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torchvision.models import ResNet

from camcore.cams import compute_maps
from camcore.errors import UnsupportedMethod
from camcore.models.loading import LoadedModel
from tests.conftest import make_photo


def photo_batch(model: LoadedModel, size_px: int = 96) -> Tensor:
    """Two generated photos of one size, preprocessed as explain() does: (2, 3, 96, 128)."""
    transform = model.preprocessing.with_size(size_px).transform()
    return torch.stack([transform(make_photo(128, 96, seed)) for seed in (0, 1)])


def model_logits(model: LoadedModel, x: Tensor) -> Tensor:
    """The model's own forward; a one-logit output z read as the two classes (-z, z)."""
    with torch.inference_mode():
        out = model.module(x)
    return torch.cat([-out, out], dim=1) if model.binary else out


def head_rows(model: LoadedModel) -> tuple[Tensor, Tensor]:
    """(num_classes, C) weight and (num_classes,) bias of torchvision ResNet's fc, a one-logit head as (-w, w)."""
    fc = model.module.fc
    if model.binary:
        return torch.cat([-fc.weight, fc.weight]), torch.cat([-fc.bias, fc.bias])
    return fc.weight, fc.bias


def features_by_hand(resnet: ResNet, x: Tensor) -> Tensor:
    """conv1 .. layer4 run one by one: the (N, 512, h, w) maps that global average pooling feeds to fc."""
    with torch.inference_mode():
        x = resnet.maxpool(resnet.relu(resnet.bn1(resnet.conv1(x))))
        return resnet.layer4(resnet.layer3(resnet.layer2(resnet.layer1(x))))


def cam_per_cell_by_hand(model: LoadedModel, x: Tensor, class_indices: Tensor) -> Tensor:
    """(N, K, h, w) sum_c w_c A_c / (h w) from the hand-run features: where a gradient method's signed map lands
    on a GAP+Linear head, since there every pixel's gradient is w_c / (h w)."""
    features = features_by_hand(model.module, x)
    cam = torch.einsum("nkc,nchw->nkhw", head_rows(model)[0][class_indices], features)
    return cam / (features.shape[-2] * features.shape[-1])


def test_mean_of_each_map_plus_bias_is_the_logit(model: LoadedModel) -> None:
    x = photo_batch(model)
    batch = compute_maps(model, x, method="cam", top_k=3)
    logits = model_logits(model, x)
    torch.testing.assert_close(batch.logits, logits, rtol=1e-5, atol=1e-5)
    chosen_logits = logits.gather(1, batch.class_indices)
    torch.testing.assert_close(batch.signed_maps.mean(dim=(2, 3)) + batch.bias, chosen_logits, rtol=1e-5, atol=1e-5)
    assert torch.equal(batch.maps, batch.signed_maps)  # CAM keeps its sign
    assert torch.equal(batch.class_indices, logits.topk(min(3, logits.shape[1]), dim=1).indices)


def test_cam_is_the_head_rows_applied_to_hand_run_features(model: LoadedModel) -> None:
    x = photo_batch(model)
    batch = compute_maps(model, x, method="cam", top_k=3)
    weight, bias = head_rows(model)
    expected = torch.einsum("nkc,nchw->nkhw", weight[batch.class_indices], features_by_hand(model.module, x))
    torch.testing.assert_close(batch.signed_maps, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(batch.bias, bias[batch.class_indices])


def test_chosen_class_indices_are_mapped(resnet18: LoadedModel) -> None:
    x = photo_batch(resnet18)
    chosen = torch.tensor([[5, 900], [17, 0]])
    batch = compute_maps(resnet18, x, method="cam", class_indices=chosen)
    assert torch.equal(batch.class_indices, chosen)
    expected = torch.einsum("nkc,nchw->nkhw", resnet18.module.fc.weight[chosen], features_by_hand(resnet18.module, x))
    torch.testing.assert_close(batch.signed_maps, expected, rtol=1e-5, atol=1e-5)


def test_binary_cat_map_is_minus_the_dog_map(binary_resnet: LoadedModel) -> None:
    x = photo_batch(binary_resnet)
    batch = compute_maps(binary_resnet, x, method="cam", top_k=2)
    with torch.inference_mode():
        z = binary_resnet.module(x)[:, 0]
    for n in range(x.shape[0]):
        order = batch.class_indices[n].tolist()
        cat, dog = order.index(0), order.index(1)
        torch.testing.assert_close(batch.signed_maps[n, cat], -batch.signed_maps[n, dog])
        torch.testing.assert_close(batch.logits[n], torch.stack([-z[n], z[n]]))
        torch.testing.assert_close(batch.probabilities[n], torch.stack([1 - torch.sigmoid(z[n]), torch.sigmoid(z[n])]))


def test_cam_refuses_a_layer_other_than_the_head_features(resnet18: LoadedModel) -> None:
    with pytest.raises(UnsupportedMethod, match="gradcam"):
        compute_maps(resnet18, photo_batch(resnet18), method="cam", layer="layer3")


def test_clamped_weights_map_only_the_positive_head_rows_and_keep_the_logits(model: LoadedModel) -> None:
    """NWC (Bae et al., 2020): the map is sum_c max(w_c, 0) A_c from the hand-run features; the logits and the
    classes explained are the unclamped head's, so only the map changes."""
    x = photo_batch(model)
    plain = compute_maps(model, x, method="cam", top_k=3)
    clamped = compute_maps(model, x, method="cam", top_k=3, clamp_negative_weights=True)
    weight, _ = head_rows(model)
    expected = torch.einsum("nkc,nchw->nkhw", weight[clamped.class_indices].clamp(min=0),
                            features_by_hand(model.module, x))
    torch.testing.assert_close(clamped.signed_maps, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(clamped.logits, plain.logits)
    assert torch.equal(clamped.class_indices, plain.class_indices)
    assert not torch.allclose(clamped.signed_maps, plain.signed_maps)  # random heads have negative weights


def test_clamping_is_refused_for_methods_without_head_weights(resnet18: LoadedModel) -> None:
    with pytest.raises(UnsupportedMethod, match="NWC"):
        compute_maps(resnet18, photo_batch(resnet18), method="gradcam", clamp_negative_weights=True)
