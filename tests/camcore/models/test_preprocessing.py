"""camcore.models.preprocessing: input sizes on the network's stride grid, the long-side cap, the tensor values, and the
dict form that checkpoints store."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from camcore.models.preprocessing import Preprocessing

PLAIN = Preprocessing(resize_px=224, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
IMAGENET = Preprocessing(resize_px=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                         interpolation="bicubic")


@pytest.mark.parametrize(("photo_wh", "expected_hw"), [
    ((500, 375), (224, 288)),   # 298.7 wide at 224 -> 9 cells of 32
    ((333, 517), (352, 224)),   # 347.8 tall -> 11 cells
    ((1001, 251), (224, 896)),  # 893.3 wide -> 28 cells, just under the 4 x 224 cap
    ((224, 224), (224, 224)),
    ((60, 40), (224, 352)),     # small photos are enlarged: 336 -> 352 (10.5 cells round up)
])
def test_input_size_is_on_the_stride_grid(photo_wh: tuple[int, int], expected_hw: tuple[int, int]) -> None:
    assert PLAIN.input_size(photo_wh) == expected_hw
    assert tuple(PLAIN.transform()(Image.new("RGB", photo_wh)).shape) == (3, *expected_hw)


def test_every_size_is_a_stride_multiple_within_half_a_stride_of_the_aspect() -> None:
    rng = np.random.default_rng(0)
    for width, height in rng.integers(40, 5000, size=(300, 2)):
        for resize_px in (224, 240, 260, 512):
            pre = PLAIN.with_size(resize_px)
            in_h, in_w = pre.input_size((int(width), int(height)))
            assert in_h % 32 == 0 and in_w % 32 == 0 and min(in_h, in_w) >= 32
            scale = min(resize_px / min(width, height), 4 * resize_px / max(width, height))
            assert abs(in_h - height * scale) <= 16 or in_h == 32
            assert abs(in_w - width * scale) <= 16 or in_w == 32
            assert max(in_h, in_w) <= 4 * resize_px


def test_the_shorter_side_is_resize_px_to_the_nearest_stride() -> None:
    assert [PLAIN.with_size(px).short_side_px for px in (224, 240, 250, 260, 512, 10)] == [224, 256, 256, 256,
                                                                                            512, 32]
    assert PLAIN.with_size(240).input_size((400, 300)) == (256, 320)  # 320 x 240: 7.5 cells round up, 10 stay


def test_long_side_is_capped_at_four_times_resize_px() -> None:
    """A panorama cannot ask for an input of any length: 4 x 224 = 896, the short side no less than one stride."""
    assert PLAIN.input_size((4000, 100)) == (32, 896)
    assert PLAIN.input_size((100, 4000)) == (896, 32)
    assert PLAIN.input_size((2000, 400)) == (192, 896)  # 179.2 -> 192
    assert PLAIN.with_size(260).input_size((4000, 400)) == (96, 1024)  # cap 1040 floors to 1024, never above


def test_tensor_values_are_normalised_as_the_weights_expect() -> None:
    colour = (200, 100, 50)
    tensor = IMAGENET.transform()(Image.new("RGB", (400, 300), colour))
    assert tensor.dtype == torch.float32 and tuple(tensor.shape) == (3, 224, 288)
    expected = [(c / 255 - m) / s for c, m, s in zip(colour, IMAGENET.mean, IMAGENET.std)]
    assert torch.allclose(tensor.mean(dim=(1, 2)), torch.tensor(expected), atol=1e-4)
    assert torch.allclose(tensor.amin(dim=(1, 2)), tensor.amax(dim=(1, 2)), atol=1e-4)


def test_the_whole_photo_is_stretched_onto_the_input_nothing_cropped() -> None:
    """A bright band in the photo's last 10% of width lands in the input's last 10%: no crop, no padding."""
    pixels = np.zeros((375, 500, 3), dtype=np.uint8)
    pixels[:, 450:] = 255
    tensor = PLAIN.transform()(Image.fromarray(pixels))
    column_means = tensor.mean(dim=(0, 1)).numpy()
    width = column_means.size
    assert column_means[: int(width * 0.88)].max() < 0.02
    assert column_means[int(width * 0.92):].min() > 0.98
    assert tensor[:, :, 0].abs().max() < 0.02 and tensor[:, 0, -1].min() > 0.98


def test_photos_of_nearly_the_same_aspect_share_an_input_shape() -> None:
    """What lets explain() batch them: 500x375 and 500x380 were 299x224 and 295x224 before the stride grid."""
    shapes = {PLAIN.input_size(size) for size in ((500, 375), (500, 380), (480, 360), (520, 400))}
    assert shapes == {(224, 288)}


def test_with_size_changes_the_input_size_only() -> None:
    assert IMAGENET.with_size(None) is IMAGENET
    bigger = IMAGENET.with_size(512)
    assert bigger.resize_px == 512 and IMAGENET.resize_px == 224
    assert (bigger.mean, bigger.std, bigger.interpolation) == (IMAGENET.mean, IMAGENET.std, IMAGENET.interpolation)
    assert bigger.input_size((500, 375)) == (512, 672)  # 682.7 -> 21 cells


def test_dict_form_round_trips_through_json() -> None:
    data = json.loads(json.dumps(IMAGENET.to_dict()))
    assert data == {"resize_px": 224, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                    "interpolation": "bicubic"}
    restored = Preprocessing.from_dict(data)
    assert restored == IMAGENET and isinstance(restored.mean, tuple) and isinstance(restored.std, tuple)
    assert Preprocessing.from_dict({**data, "resize_px": "96"}).resize_px == 96


def test_preprocessing_is_immutable() -> None:
    with pytest.raises(AttributeError):
        IMAGENET.resize_px = 96  # type: ignore[misc]
