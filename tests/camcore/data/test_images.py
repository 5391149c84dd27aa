"""camcore.data.images: every odd upload becomes the RGB image a viewer would see, or a one-line ImageError."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from camcore.data.images import MAX_PIXELS, load_image
from camcore.errors import ImageError

RED = (255, 0, 0)
WHITE = (255, 255, 255)


def _encode(image: Image.Image, fmt: str, **save_kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save_kwargs)
    return buffer.getvalue()


def _pixels(image: Image.Image) -> np.ndarray:
    assert image.mode == "RGB"
    return np.asarray(image).astype(int)


def _close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected))


def _load_error(source: object, **kwargs: object) -> str:
    """The message of the ImageError that load_image raises, checked to be one line with a cause."""
    with pytest.raises(ImageError) as info:
        load_image(source, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def _half_red_jpeg() -> bytes:
    image = Image.new("RGB", (32, 16), WHITE)
    image.paste(RED, (0, 0, 16, 16))
    return _encode(image, "JPEG", quality=95)


def test_bytes_path_and_stream_give_the_same_image(tmp_path: Path) -> None:
    data = _half_red_jpeg()
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    results = [load_image(data), load_image(path), load_image(str(path)), load_image(io.BytesIO(data))]
    for result in results:
        assert result.mode == "RGB" and result.size == (32, 16)
        assert _close(result.getpixel((4, 8)), RED, 8)
        assert _close(result.getpixel((28, 8)), WHITE, 8)
        assert np.array_equal(_pixels(result), _pixels(results[0]))


def test_result_is_loaded_and_outlives_its_stream() -> None:
    stream = io.BytesIO(_half_red_jpeg())
    image = load_image(stream)
    stream.close()
    assert _close(image.copy().getpixel((4, 8)), RED, 8)


def test_exif_orientation_is_applied() -> None:
    """Orientation 6 means "rotate 90° clockwise to view": the red top-left block ends up top-right."""
    image = Image.new("RGB", (40, 20), WHITE)
    image.paste(RED, (0, 0, 8, 8))
    exif = image.getexif()
    exif[0x0112] = 6
    rotated = load_image(_encode(image, "JPEG", quality=95, exif=exif.tobytes()))
    assert rotated.size == (20, 40)
    assert _close(rotated.getpixel((16, 3)), RED, 10)
    assert _close(rotated.getpixel((3, 3)), WHITE, 10)


def test_grayscale_and_one_bit_become_grey_rgb() -> None:
    grey = load_image(_encode(Image.new("L", (4, 4), 100), "PNG"))
    assert grey.getpixel((0, 0)) == (100, 100, 100)
    bits = Image.new("1", (4, 4), 0)
    bits.putpixel((1, 0), 1)
    result = load_image(_encode(bits, "PNG"))
    assert result.getpixel((0, 0)) == (0, 0, 0) and result.getpixel((1, 0)) == WHITE


def _palette_image() -> Image.Image:
    """Index 0 is black, index 1 is green: pixel (0, 0) has index 0, the rest index 1."""
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 0, 200, 0] + [0, 0, 0] * 254)
    image.putpixel((0, 0), 0)
    return image


def test_palette_colours_are_looked_up() -> None:
    result = load_image(_encode(_palette_image(), "PNG"))
    assert result.getpixel((0, 0)) == (0, 0, 0) and result.getpixel((2, 2)) == (0, 200, 0)


def test_palette_transparency_goes_on_white() -> None:
    result = load_image(_encode(_palette_image(), "PNG", transparency=0))
    assert result.getpixel((0, 0)) == WHITE and result.getpixel((2, 2)) == (0, 200, 0)


def test_grey_with_alpha_goes_on_white() -> None:
    image = Image.new("LA", (2, 1), (50, 255))
    image.putpixel((1, 0), (50, 0))
    result = load_image(_encode(image, "PNG"))
    assert result.getpixel((0, 0)) == (50, 50, 50) and result.getpixel((1, 0)) == WHITE


def test_rgba_is_composited_on_white_not_black() -> None:
    image = Image.new("RGBA", (3, 1), (0, 0, 0, 0))
    image.putpixel((1, 0), (255, 0, 0, 255))
    image.putpixel((2, 0), (0, 0, 0, 128))
    result = load_image(_encode(image, "PNG"))
    assert result.getpixel((0, 0)) == WHITE
    assert result.getpixel((1, 0)) == RED
    assert _close(result.getpixel((2, 0)), (127, 127, 127), 1)


def test_cmyk_jpeg_keeps_its_colours() -> None:
    image = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    image.paste((0, 0, 0, 0), (8, 0, 16, 16))
    result = load_image(_encode(image, "JPEG", quality=95))
    assert _close(result.getpixel((3, 8)), RED, 12)
    assert _close(result.getpixel((12, 8)), WHITE, 12)


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    ramp = (np.arange(256, dtype="<u2") * 257).tobytes()
    image = Image.frombytes("I;16", (256, 1), ramp)
    result = load_image(_encode(image, "PNG"))
    assert np.array_equal(_pixels(result)[0, :, 0], np.arange(256))
    assert np.array_equal(_pixels(result)[0, :, 1], np.arange(256))


def test_sixteen_bit_values_are_rounded_to_the_nearest_level() -> None:
    """65535 / 255 = 257 per level: 128 is below half a level, 129 above, 32768 is 127.5 levels."""
    image = Image.frombytes("I;16", (4, 1), np.array([128, 129, 32768, 65534], dtype="<u2").tobytes())
    assert list(_pixels(load_image(_encode(image, "PNG")))[0, :, 0]) == [0, 1, 128, 255]


def test_sixteen_bit_transparency_follows_the_rescaling() -> None:
    image = Image.frombytes("I;16", (3, 1), np.array([0, 32768, 65535], dtype="<u2").tobytes())
    result = load_image(_encode(image, "PNG", transparency=32768))
    assert [result.getpixel((x, 0)) for x in range(2)] == [(0, 0, 0), WHITE]


@pytest.mark.parametrize("mode", ["F", "I"])
def test_float_and_int32_images_are_stretched_to_full_range(mode: str) -> None:
    ramp = np.linspace(-1000, 3000, 64, dtype=np.float32).reshape(1, 64)
    image = Image.fromarray(ramp if mode == "F" else ramp.astype(np.int32))
    assert image.mode == mode
    grey = _pixels(load_image(_encode(image, "TIFF")))[0, :, 0]
    assert grey[0] == 0 and grey[-1] == 255
    assert np.all(np.diff(grey) > 0)


@pytest.mark.parametrize("fmt", ["GIF", "TIFF"])
def test_multi_frame_image_gives_its_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, (0, 0, 255))]
    data = _encode(frames[0], fmt, save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert _close(load_image(data).getpixel((4, 4)), RED, 8)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_is_refused(fmt: str) -> None:
    data = _encode(Image.linear_gradient("L").convert("RGB"), fmt)
    message = _load_error(data[: len(data) // 2], name=f"cut.{fmt.lower()}")
    assert message.startswith(f"cut.{fmt.lower()}: the file is truncated")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_messages_start_with_the_name_and_say_what_to_do(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    unknown = "cat.heic: this file is not an image this app can read. Pick a photo: JPEG, PNG or WebP."
    assert _load_error(noise, name="cat.heic") == unknown
    assert _load_error(b"\0\0\0\x18ftypheic" + noise, name="cat.heic").startswith(
        "cat.heic: this is an HEIC photo, which this app cannot read: save it as JPEG")
    assert _load_error(b"%PDF-1.7\n" + noise, name="scan.jpg") == (
        "scan.jpg: this file is a PDF document, not an image. Pick a photo: JPEG, PNG or WebP.")
    assert _load_error(b"") == "image: the file is empty. Upload the complete file again."
    assert _load_error(io.BytesIO(b"")).startswith("image: the file is empty.")
    (tmp_path / "empty.png").write_bytes(b"")
    assert _load_error(tmp_path / "empty.png").startswith("empty.png: the file is empty.")
    (tmp_path / "notes.txt").write_text("not a photo\n")
    (tmp_path / "notes.jpg").write_text("not a photo\n")
    assert _load_error(tmp_path / "notes.jpg") == ("notes.jpg: this file is not an image (it holds text). "
                                                   "Pick a photo: JPEG, PNG or WebP.")
    assert _load_error(str(tmp_path / "missing.png")) == "missing.png: no such file. Check the path."
    assert _load_error(tmp_path).startswith(f"{tmp_path.name}: cannot read this file.")


def test_the_cause_is_kept() -> None:
    with pytest.raises(ImageError) as info:
        load_image(b"GIF89a but not really")
    assert isinstance(info.value.__cause__, OSError)


def test_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="int"):
        load_image(42)  # type: ignore[arg-type]


def test_max_pixels_applies_to_ordinary_images() -> None:
    data = _half_red_jpeg()
    message = _load_error(data, name="small.jpg", max_pixels=32 * 16 - 1)
    assert message == "small.jpg: the image has more than 511 pixels. Resize it and upload again."
    assert load_image(data, max_pixels=32 * 16).size == (32, 16)


@pytest.fixture(scope="module")
def big_pngs() -> dict[int, bytes]:
    """1-bit PNGs of side 9000 (over MAX_PIXELS only), 10000 (Pillow warns), 20000 (Pillow refuses)."""
    assert MAX_PIXELS < 9000**2 and Image.MAX_IMAGE_PIXELS is not None
    assert 9000**2 < Image.MAX_IMAGE_PIXELS < 10000**2 < 2 * Image.MAX_IMAGE_PIXELS < 20000**2
    return {side: _encode(Image.new("1", (side, side)), "PNG") for side in (9000, 10000, 20000)}


@pytest.mark.parametrize(
    ("side", "max_pixels"), [(9000, MAX_PIXELS), (10000, MAX_PIXELS), (20000, MAX_PIXELS), (10000, 10**9)]
)
def test_decompression_bombs_are_refused_without_warnings(
    side: int, max_pixels: int, big_pngs: dict[int, bytes], recwarn: pytest.WarningsRecorder
) -> None:
    """Above Pillow's own limit the refusal quotes that limit, even when max_pixels allows more."""
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS)
    message = _load_error(big_pngs[side], name="bomb.png", max_pixels=max_pixels)
    assert message == f"bomb.png: the image has more than {limit:,} pixels. Resize it and upload again."
    assert not recwarn.list


def test_pixel_count_is_checked_before_decoding(big_pngs: dict[int, bytes]) -> None:
    """A cut-off bomb is refused as too large, not as truncated: its pixels were never decoded."""
    data = big_pngs[9000]
    assert "more than" in _load_error(data[: len(data) // 2])


PHONE_WH = (4032, 3024)
ORIENTATION = 0x0112


@pytest.fixture(scope="module")
def phone_photo() -> Image.Image:
    """A 12 MP photo-like picture (gradients, a disc, fine noise): what a phone uploads, before JPEG coding."""
    width, height = PHONE_WH
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    disc = ((xx - width * 0.6) ** 2 + (yy - height * 0.45) ** 2) < (height * 0.25) ** 2
    pixels = np.stack([xx * 200 / width, yy * 200 / height, 60 + 150 * disc], axis=-1)
    pixels += np.random.default_rng(0).integers(0, 12, size=(height, width, 1))
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def phone_jpegs(phone_photo: Image.Image) -> dict[int, bytes]:
    """The phone photo as JPEG by EXIF orientation: 1 as stored, 6 and 8 rotated 90 degrees to view."""
    jpegs = {}
    for orientation in (1, 6, 8):
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        jpegs[orientation] = _encode(phone_photo, "JPEG", quality=90, exif=exif.tobytes())
    return jpegs


def _dct_size(min_side_px: int) -> tuple[int, int]:
    """libjpeg's scales are 1/1, 1/2, 1/4, 1/8 (sides rounded up): the smallest whose shorter side covers
    min_side_px."""
    width, height = PHONE_WH
    scale = next((s for s in (8, 4, 2) if height // s >= min_side_px), 1)
    return -(-width // scale), -(-height // scale)


@pytest.mark.parametrize("min_side_px", [100, 224, 378, 379, 480, 640, 1512, 1513, 3024, 5000])
def test_a_large_jpeg_decodes_at_the_smallest_scale_that_covers_min_side_px(
    phone_jpegs: dict[int, bytes], min_side_px: int
) -> None:
    image = load_image(phone_jpegs[1], min_side_px=min_side_px)
    assert image.mode == "RGB" and image.size == _dct_size(min_side_px)
    shorter = min(image.size)
    assert shorter >= min(min_side_px, PHONE_WH[1])
    assert shorter < 2 * min_side_px or shorter == PHONE_WH[1] // 8  # 1/8 is the smallest scale there is


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_reduced_decode_matches_a_full_decode_then_resize(
    phone_jpegs: dict[int, bytes], orientation: int
) -> None:
    """The same picture, EXIF rotation applied after the reduced decode (the size request holds either way)."""
    reduced = load_image(phone_jpegs[orientation], min_side_px=480)
    full = load_image(phone_jpegs[orientation])
    rotated = orientation != 1
    assert full.size == (PHONE_WH[::-1] if rotated else PHONE_WH)
    assert reduced.size == ((756, 1008) if rotated else (1008, 756))
    difference = np.abs(_pixels(reduced) - _pixels(full.resize(reduced.size, Image.Resampling.BOX)))
    assert difference.mean() < 2.0 and np.percentile(difference, 99) < 12


def test_rotation_puts_the_reduced_picture_the_right_way_up(phone_jpegs: dict[int, bytes]) -> None:
    """Orientation 6 (rotate 90 degrees clockwise to view): the stored top row becomes the right-hand column."""
    stored = _pixels(load_image(phone_jpegs[1], min_side_px=480))
    viewed = _pixels(load_image(phone_jpegs[6], min_side_px=480))
    assert np.abs(viewed - np.rot90(stored, k=-1)).mean() < 1.0


def test_small_jpegs_and_other_formats_are_decoded_in_full(phone_photo: Image.Image) -> None:
    small = _encode(phone_photo.resize((500, 375)), "JPEG", quality=90)
    png = _encode(phone_photo.resize((2000, 1500)), "PNG")
    for data, size in ((small, (500, 375)), (png, (2000, 1500))):
        image = load_image(data, min_side_px=224)
        assert image.size == size
        assert np.array_equal(_pixels(image), _pixels(load_image(data)))


def test_reduced_decode_keeps_the_pixel_guard_and_the_error_paths(phone_jpegs: dict[int, bytes]) -> None:
    """The header's pixel count is checked even though a draft would decode far fewer pixels."""
    data = phone_jpegs[1]
    message = _load_error(data, name="phone.jpg", max_pixels=PHONE_WH[0] * PHONE_WH[1] - 1, min_side_px=224)
    assert message.startswith("phone.jpg: the image has more than")
    assert "truncated or damaged" in _load_error(data[:2000], min_side_px=224)
    assert "not an image (it holds text)" in _load_error(b"not an image at all", min_side_px=224)


def test_cmyk_and_grey_jpegs_decode_reduced_too(phone_photo: Image.Image) -> None:
    for mode in ("CMYK", "L"):
        data = _encode(phone_photo.convert(mode), "JPEG", quality=90)
        image = load_image(data, min_side_px=700)
        assert image.mode == "RGB" and image.size == (1008, 756)
        full = load_image(data).resize(image.size, Image.Resampling.BOX)
        assert np.abs(_pixels(image) - _pixels(full)).mean() < 2.0


@pytest.mark.parametrize("min_side_px", [0, -5])
def test_min_side_px_must_be_positive(min_side_px: int) -> None:
    with pytest.raises(ValueError, match="min_side_px"):
        load_image(_half_red_jpeg(), min_side_px=min_side_px)
