"""Any upload (path, bytes or stream) -> a fully loaded 8-bit RGB PIL image, or an ImageError."""
from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

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
) -> Image.Image:
    """Decode `source` to RGB with EXIF orientation applied; only the first frame of a GIF or TIFF.

    `name` is what messages call the file (default: the path's file name, else "image"). The pixel
    count is checked against `max_pixels` before any pixel is decoded (Image.open only reads the
    header). Pillow's DecompressionBombWarning is made an error with warnings.catch_warnings, which is
    not thread-safe before Python 3.14: concurrent calls may briefly see each other's warning filters.
    """
    is_path = isinstance(source, (str, os.PathLike))
    name = name or (Path(source).name if is_path else "image")
    data = _read_bytes(source, name)
    if not data:
        raise ImageError(f"{name}: the file is empty. Upload the complete file again.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > max_pixels:
                    raise ImageError(_too_large(name, max_pixels))
                return _to_rgb(ImageOps.exif_transpose(image))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        pillow_limit = Image.MAX_IMAGE_PIXELS or max_pixels
        raise ImageError(_too_large(name, min(max_pixels, pillow_limit))) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: Pillow cannot open this file. Save it as JPEG or PNG.") from exc
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
