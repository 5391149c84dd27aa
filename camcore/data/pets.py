"""Oxford-IIIT Pet on disk (torchvision's folder layout): where it is, its index of labels, trimaps and head boxes.

The index is read from the annotation lists alone, so filtering the 7,349 photos opens none of them.
"""
from __future__ import annotations

import os
import shutil
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from torchvision.datasets import OxfordIIITPet
from torchvision.datasets.utils import verify_str_arg

from camcore.errors import DataNotFound
from camcore.settings import DATA_ENV

SPLITS = ("trainval", "test")
SPECIES = ("cat", "dog")
_SPECIES_IDS = {str(number): species for number, species in enumerate(SPECIES, start=1)}
"""The list files' SPECIES column."""
TRIMAP_PET, TRIMAP_BACKGROUND, TRIMAP_BORDER = 1, 2, 3
"""Trimap pixel values, as the data set's annotations README defines them."""
SITE = "https://www.robots.ox.ac.uk/~vgg/data/pets/"
DOWNLOAD_BYTES = 811_000_000
"""About the size of the two archives torchvision fetches (images 755 MiB, annotations 18 MiB): the 100% of
download()'s progress."""
PROGRESS_EVERY_S = 0.5
STAGING = ".oxford-iiit-pet.partial"
"""The hidden folder in ROOT where download() fetches and unpacks before anything moves into place."""
_FOLDER = "oxford-iiit-pet"


@dataclass(frozen=True)
class PetRecord:
    """One photo's labels. `label` is the official CLASS_ID - 1 (0..36), torchvision's `category` target."""

    name: str
    split: str
    label: int
    breed: str
    species: str


def pet_images(root: Path) -> list[Path]:
    """Sorted root/oxford-iiit-pet/images/*.jpg, the layout torchvision's OxfordIIITPet downloads."""
    folder = _base(root) / "images"
    images = sorted(folder.glob("*.jpg"))
    if not images:
        raise DataNotFound(_not_found(folder, root))
    return images


def pet_index(root: Path) -> tuple[PetRecord, ...]:
    """Every photo of annotations/trainval.txt and test.txt, sorted by name.

    The breed comes from the file name, not from torchvision's `classes`, which on a subset lists only the
    breeds present, so that `classes[label]` names the wrong breed.
    """
    records = [record for split in SPLITS for record in _read_split(root, split)]
    return tuple(sorted(records, key=lambda record: record.name))


def filter_records(records: Iterable[PetRecord], *, split: str | None = None, species: str | None = None,
                   breed: str | None = None, name_contains: str = "") -> tuple[PetRecord, ...]:
    """The records matching every given filter; the name search ignores case."""
    if split is not None:
        verify_str_arg(split, "split", SPLITS)
    if species is not None:
        verify_str_arg(species, "species", SPECIES)
    needle = name_contains.strip().lower()
    return tuple(record for record in records
                 if split in (None, record.split) and species in (None, record.species)
                 and breed in (None, record.breed) and needle in record.name.lower())


def image_path(root: Path, record: PetRecord) -> Path:
    return _base(root) / "images" / f"{record.name}.jpg"


def trimap(root: Path, record: PetRecord) -> np.ndarray:
    """(H, W) uint8 trimap of the photo, same size as it: TRIMAP_PET, TRIMAP_BACKGROUND or TRIMAP_BORDER."""
    path = _base(root) / "annotations" / "trimaps" / f"{record.name}.png"
    try:
        with Image.open(path) as image:
            return np.array(image, dtype=np.uint8)
    except FileNotFoundError as exc:
        raise DataNotFound(_not_found(path, root)) from exc


def pet_mask(root: Path, record: PetRecord) -> np.ndarray:
    """(H, W) bool: pet or its border (see is_pet)."""
    return is_pet(trimap(root, record))


def is_pet(trimap: np.ndarray) -> np.ndarray:
    """A trimap -> (H, W) bool: pet or its border. The border belongs to the animal (fur, whiskers), so it counts
    as pet."""
    return np.isin(trimap, (TRIMAP_PET, TRIMAP_BORDER))


def head_box(root: Path, record: PetRecord) -> tuple[int, int, int, int] | None:
    """The head's [x0, y0, x1, y1] in pixels (x1/y1 exclusive, as heatmap.bounding_box), None without an xml.

    The xmls are PASCAL VOC: 1-based and inclusive, hence x0 = xmin - 1 and x1 = xmax. ElementTree's expat
    parser fetches no external entities.
    """
    path = _base(root) / "annotations" / "xmls" / f"{record.name}.xml"
    if not path.is_file():
        return None
    try:
        box = ElementTree.parse(path).getroot().find("object/bndbox")
        xmin, ymin, xmax, ymax = (int(box.findtext(key)) for key in ("xmin", "ymin", "xmax", "ymax"))  # type: ignore[union-attr, arg-type]  # None: caught below
    except (ElementTree.ParseError, AttributeError, TypeError, ValueError) as exc:
        raise DataNotFound(f"{path}: no readable PASCAL VOC head box. Download the annotations again.") from exc
    return xmin - 1, ymin - 1, xmax, ymax


def download(root: Path, progress: Callable[[int], None] | None = None,
             stop: Callable[[], bool] | None = None) -> bool:
    """Fetch and unpack the data set (about 800 MB) with torchvision, unless it is there already; False when
    stop() asked for it first (nothing of it is kept).

    torchvision fetches and unpacks into ROOT/STAGING, and images/ and annotations/ move into place only once both
    are complete: a stopped or failed download never leaves half a data set where the app reads it. Its download
    reports only to a console bar and cannot be interrupted, so it runs in a daemon thread while this one calls
    progress(bytes of the archives on disk so far) and polls stop() about twice a second; a stopped fetch is
    abandoned (its thread ends with the process).
    """
    root = Path(root)
    if _complete(_base(root)):
        return True
    staging = root / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # what an abandoned fetch left
    failures: list[BaseException] = []
    worker = threading.Thread(target=_fetch_into, args=(staging, failures), name="pets-download", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(PROGRESS_EVERY_S)
            if stop is not None and worker.is_alive() and stop():
                return False
            if progress is not None:
                progress(sum(path.stat().st_size for path in _base(staging).glob("*.tar.gz")))
        if failures and isinstance(failures[0], (OSError, RuntimeError)):  # URLError; a bad checksum
            raise DataNotFound(_failed(failures[0], root)) from failures[0]
        if failures:
            raise failures[0]
        for part in ("images", "annotations"):
            if (_base(staging) / part).is_dir() and not (_base(root) / part).exists():
                _base(root).mkdir(parents=True, exist_ok=True)
                os.replace(_base(staging) / part, _base(root) / part)
        return True
    finally:  # an abandoned fetch may still write into it: what it adds later goes with the next download
        shutil.rmtree(staging, ignore_errors=True)


def _fetch_into(staging: Path, failures: list[BaseException]) -> None:
    try:
        _fetch(staging)
    except BaseException as exc:  # noqa: BLE001  (handed to the waiting thread, which raises it)
        failures.append(exc)


def _fetch(root: Path) -> None:
    for split in SPLITS:
        OxfordIIITPet(root, split=split, download=True)


def _failed(exc: BaseException, root: Path) -> str:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return (f"Downloading Oxford-IIIT Pet failed ({reason}). Without internet, get images.tar.gz and "
            f"annotations.tar.gz from {SITE} and unpack both into {_base(root)}.")


def _complete(base: Path) -> bool:
    """torchvision's own test of a data set in place."""
    return (base / "images").is_dir() and (base / "annotations").is_dir()


def _base(root: Path) -> Path:
    return Path(root) / _FOLDER


def _not_found(path: Path, root: Path) -> str:
    return (f"Oxford-IIIT Pet not found: {path} is missing or empty. Download it on the Dataset page or with "
            f"torchvision's OxfordIIITPet({str(root)!r}, download=True), "
            f"or set {DATA_ENV} to the folder that holds {_FOLDER}/.")


def _read_split(root: Path, split: str) -> list[PetRecord]:
    """The records of annotations/<split>.txt, whose lines are `NAME CLASS_ID SPECIES BREED_ID`."""
    path = _base(root) / "annotations" / f"{split}.txt"
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError as exc:
        raise DataNotFound(_not_found(path, root)) from exc
    return [_record(line, split, f"{path}:{number}")
            for number, line in enumerate(lines, start=1) if line.strip()]


def _record(line: str, split: str, where: str) -> PetRecord:
    try:
        name, class_id, species_id, _ = line.split()
        return PetRecord(name=name, split=split, label=int(class_id) - 1, breed=name.rsplit("_", 1)[0],
                         species=_SPECIES_IDS[species_id])
    except (ValueError, KeyError) as exc:
        raise DataNotFound(f"{where}: expected 'NAME CLASS_ID SPECIES BREED_ID', got {line!r}. "
                           f"Download the annotations again.") from exc
