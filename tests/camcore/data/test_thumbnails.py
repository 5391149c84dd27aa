"""The thumbnail cache: size, made once, remade when the photo changes, written whole or not at all."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from camcore import settings
from camcore.data import pets, thumbnails
from camcore.errors import ImageError
from tests.conftest import make_photo


@pytest.fixture
def jpeg(tmp_path: Path) -> Path:
    path = tmp_path / "photos" / "cat.jpg"
    path.parent.mkdir()
    make_photo(120, 90).save(path, quality=95)
    return path


def test_thumbnail_fits_the_size_and_keeps_the_aspect(jpeg: Path, tmp_path: Path) -> None:
    made = thumbnails.thumbnail(jpeg, size_px=64, cache_dir=tmp_path / "cache")
    assert made.parent == tmp_path / "cache" and made.suffix == ".jpg"
    with Image.open(made) as small:
        assert small.format == "JPEG"
        assert small.size == (64, round(64 * 90 / 120))
    with Image.open(thumbnails.thumbnail(jpeg, size_px=500, cache_dir=tmp_path / "cache")) as unchanged:
        assert unchanged.size == (120, 90)


def test_thumbnail_applies_exif_orientation(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    make_photo(120, 90).save(path, exif=exif)
    with Image.open(thumbnails.thumbnail(path, size_px=60, cache_dir=tmp_path / "cache")) as small:
        assert small.size == (round(60 * 90 / 120), 60)


def test_second_call_reuses_the_file_without_decoding(jpeg: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    first = thumbnails.thumbnail(jpeg, size_px=48, cache_dir=tmp_path)
    written_ns = first.stat().st_mtime_ns

    def refuse(*args, **kwargs):
        raise AssertionError("decoded the photo again")

    monkeypatch.setattr(thumbnails, "load_image", refuse)
    assert thumbnails.thumbnail(jpeg, size_px=48, cache_dir=tmp_path) == first
    assert first.stat().st_mtime_ns == written_ns


def test_a_touched_or_changed_photo_or_new_size_gets_a_new_thumbnail(jpeg: Path, tmp_path: Path) -> None:
    first = thumbnails.thumbnail(jpeg, size_px=48, cache_dir=tmp_path / "cache")
    assert thumbnails.thumbnail(jpeg, size_px=32, cache_dir=tmp_path / "cache") != first
    later_ns = jpeg.stat().st_mtime_ns + 2_000_000_000
    os.utime(jpeg, ns=(later_ns, later_ns))
    touched = thumbnails.thumbnail(jpeg, size_px=48, cache_dir=tmp_path / "cache")
    assert touched != first and first.is_file()
    make_photo(60, 120, seed=3).save(jpeg)
    os.utime(jpeg, ns=(later_ns + 2_000_000_000,) * 2)
    with Image.open(thumbnails.thumbnail(jpeg, size_px=48, cache_dir=tmp_path / "cache")) as changed:
        assert changed.size == (24, 48)


def test_cache_folder_comes_from_the_environment(jpeg: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path / "env-cache"))
    assert thumbnails.thumbnail(jpeg, size_px=32).is_relative_to(tmp_path / "env-cache")
    monkeypatch.delenv(settings.CACHE_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert thumbnails.thumbnail(jpeg, size_px=32).is_relative_to(tmp_path / "home" / ".cache" / "cam-explorer")


def test_a_failed_write_leaves_nothing(jpeg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(self, *args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        thumbnails.thumbnail(jpeg, size_px=32, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_missing_photo_is_an_image_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="gone.jpg: no such file"):
        thumbnails.thumbnail(tmp_path / "gone.jpg", cache_dir=tmp_path / "cache")


def test_thumbnails_of_the_tiny_data_set(tiny_pets: Path, tmp_path: Path) -> None:
    for record in pets.pet_index(tiny_pets)[:4]:
        with Image.open(thumbnails.thumbnail(pets.image_path(tiny_pets, record), size_px=40,
                                             cache_dir=tmp_path)) as small:
            assert max(small.size) == 40
    assert len(list(tmp_path.glob("*.jpg"))) == 4
