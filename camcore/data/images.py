"""Any upload (path, bytes or stream) -> a fully loaded 8-bit RGB PIL image, or an ImageError."""
from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from camcore.errors import ImageError

MAX_PIXELS: int = 64_000_000
_WHITE = (255, 255, 255, 255)

# What Pillow's plugins raise on malformed input; Image.open itself catches the last three while probing.
_DECODE_ERRORS = (OSError, EOFError, ValueError, SyntaxError, IndexError, struct.error)
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


def load_image(
    source: str | os.PathLike[str] | bytes | BinaryIO,
    *,
    name: str | None = None,
    max_pixels: int = MAX_PIXELS,
    min_side_px: int | None = None,
) -> Image.Image:
    """Decode `source` to RGB with EXIF orientation applied; only the first frame of a GIF or TIFF.

    `name` is what messages call the file (default: the path's file name, else "image"). The pixel
    count is checked against `max_pixels` before any pixel is decoded (Image.open only reads the
    header). Pillow's DecompressionBombWarning is made an error with warnings.catch_warnings, which is
    not thread-safe before Python 3.14: concurrent calls may briefly see each other's warning filters.

    `min_side_px` lets a JPEG decode at a reduced DCT scale (1/2, 1/4 or 1/8, libjpeg's own) as long as its
    shorter side stays >= min_side_px: a 12 MP phone photo then costs a third to a half of its full decode (the
    entropy decoding that remains dominates). None decodes every pixel (full-resolution exports); other formats
    are always decoded in full.
    """
    if min_side_px is not None and min_side_px < 1:
        raise ValueError(f"min_side_px must be a positive number of pixels or None, not {min_side_px}")
    name = name or (Path(source).name if isinstance(source, (str, os.PathLike)) else "image")
    data = _read_bytes(source, name)
    if not data:
        raise ImageError(f"{name}: the file is empty. Upload the complete file again.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > max_pixels:
                    raise ImageError(_too_large(name, max_pixels))
                if min_side_px is not None:
                    _draft(image, min_side_px)
                return _to_rgb(ImageOps.exif_transpose(image))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        pillow_limit = Image.MAX_IMAGE_PIXELS or max_pixels
        raise ImageError(_too_large(name, min(max_pixels, pillow_limit))) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: {_what_it_is(data)} Pick a photo: JPEG, PNG or WebP.") from exc
    except ImageError:
        raise
    except _DECODE_ERRORS as exc:
        message = f"{name}: the file is truncated or damaged. Upload the complete file again."
        raise ImageError(message) from exc


def _read_bytes(source: str | os.PathLike[str] | bytes | BinaryIO, name: str) -> bytes:
    """All of `source` in memory, so the returned image never depends on a file or stream left open."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            return Path(source).read_bytes()
        except FileNotFoundError as exc:
            raise ImageError(f"{name}: no such file. Check the path.") from exc
        except OSError as exc:
            raise ImageError(f"{name}: cannot read this file. Check that it is a readable file.") from exc
    if hasattr(source, "read"):
        return source.read()
    raise TypeError(f"load_image takes a path, bytes or a binary stream, not {type(source).__name__}")


def _draft(image: Image.Image, min_side_px: int) -> None:
    """Asks a JPEG for its smallest DCT scale whose shorter side is still >= min_side_px; a no-op otherwise.

    Must run before anything loads pixels. Pillow picks the largest scale s in (8, 4, 2, 1) with s <= both
    width // w and height // h, so a square (m, m) request is bounded by the shorter side alone and holds in the
    stored orientation and after a 90-degree EXIF rotation alike (which swaps width and height).
    """
    if isinstance(image, JpegImageFile):  # MPO, the format of many phone photos, is a JpegImageFile too
        image.draft("RGB", (min_side_px, min_side_px))


_SIGNATURES = ((4, b"ftypheic", "this is an HEIC photo, which this app cannot read: save it as JPEG (on an iPhone: "
                 "Settings > Camera > Formats > Most Compatible)."),
               (4, b"ftypmif1", "this is an HEIF photo, which this app cannot read: save it as JPEG."),
               (4, b"ftypavif", "this is an AVIF image, which this app cannot read: save it as JPEG or PNG."),
               (0, b"%PDF", "this file is a PDF document, not an image."),
               (0, b"PK\x03\x04", "this file is a zip archive (or an Office document), not an image."),
               (4, b"ftyp", "this file is a video, not an image."))
"""(offset, leading bytes, what the file is) for the non-images people upload most, in their words."""


def _what_it_is(data: bytes) -> str:
    """What a file Pillow cannot identify holds, from its first bytes (never from its name, which may lie)."""
    for offset, signature, description in _SIGNATURES:
        if data[offset:offset + len(signature)] == signature:
            return description
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "this file is not an image this app can read."
    return "this file is not an image (it holds text)."


def _too_large(name: str, limit: int) -> str:
    return f"{name}: the image has more than {limit:,} pixels. Resize it and upload again."


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparent parts go on white, as the photo looks in a browser."""
    if image.mode in _SIXTEEN_BIT_MODES:
        image = _rescale_to_l(image, 0, 65535)
    elif image.mode in ("I", "F"):
        image = _rescale_to_l(image, *image.getextrema())
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba).convert("RGB")
    return image.convert("RGB")


def _rescale_to_l(image: Image.Image, low: float, high: float) -> Image.Image:
    """Map `low..high` linearly onto 0..255: convert("L") alone clips 16-bit and float values at 255.

    32-bit int and float images have no fixed white level, so callers pass their own extrema.
    """
    scale = 255 / (high - low) if high > low else 0.0
    offset = 0.5 - low * scale  # convert("L") truncates; +0.5 rounds
    rescaled = image.convert("F").point(lambda v: v * scale + offset).convert("L")
    if "transparency" in image.info:  # a PNG's 16-bit tRNS grey value, moved to its 8-bit level
        rescaled.info["transparency"] = int(image.info["transparency"] * scale + offset)
    return rescaled
