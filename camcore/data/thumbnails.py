"""Small JPEG copies of photos, made once and kept on disk, so that a grid page of 25 decodes no full photo."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image

from camcore.data.images import load_image
from camcore.errors import ImageError
from camcore.files import write_atomic
from camcore.settings import cache_root

JPEG_QUALITY = 85


def thumbnail(image: Path, *, size_px: int = 160, cache_dir: Path | None = None) -> Path:
    """The cached JPEG of `image` fitting in size_px x size_px (aspect kept, never enlarged); made on first call.

    Keyed by the absolute path, modification time, byte size and size_px: an edited photo gets a new thumbnail.
    Default folder: cache_root()/thumbnails.
    """
    source = Path(image).resolve()
    try:
        stat = source.stat()
    except OSError as exc:
        raise ImageError(f"{source.name}: no such file. Check the path.") from exc
    key = hashlib.sha256(f"{source}\0{stat.st_mtime_ns}\0{stat.st_size}\0{size_px}".encode()).hexdigest()
    folder = Path(cache_dir) if cache_dir is not None else cache_root() / "thumbnails"
    target = folder / f"{key[:32]}.jpg"
    if not target.is_file():
        photo = load_image(source)
        photo.thumbnail((size_px, size_px))
        _save_atomically(photo, target)
    return target


def _save_atomically(photo: Image.Image, target: Path) -> None:
    """Write a temp file beside `target` and os.replace it: a reader never sees half a JPEG, even when two
    sessions make the same thumbnail at once."""
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    write_atomic(target, buffer.getvalue())
