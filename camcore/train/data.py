"""A split of Oxford-IIIT Pet as uint8 tensors in memory, decoded and resized once, and batches made from them.

Each photo is squashed to a square image_size_px x image_size_px, as the lesson resizes, and kept as uint8 (a
quarter of float32's memory): every epoch after the first decode costs only indexing, flips and a normalisation,
done on the training device.
"""
from __future__ import annotations

import os
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms import InterpolationMode, v2

from camcore.data.images import load_image
from camcore.data.pets import SPECIES, PetRecord, filter_records, image_path, pet_index
from camcore.errors import DataNotFound
from camcore.models.preprocessing import Preprocessing

BREEDS = ("Abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle", "Bengal",
          "Birman", "Bombay", "boxer", "British_Shorthair", "chihuahua", "Egyptian_Mau", "english_cocker_spaniel",
          "english_setter", "german_shorthaired", "great_pyrenees", "havanese", "japanese_chin", "keeshond",
          "leonberger", "Maine_Coon", "miniature_pinscher", "newfoundland", "Persian", "pomeranian", "pug",
          "Ragdoll", "Russian_Blue", "saint_bernard", "samoyed", "scottish_terrier", "shiba_inu", "Siamese",
          "Sphynx", "staffordshire_bull_terrier", "wheaten_terrier", "yorkshire_terrier")
"""The 37 breeds by official CLASS_ID - 1, as the file names spell them. A subset lacks some breeds, yet a breeds
head has all 37 outputs and each needs its name; load_split checks every record against this list."""
DECODE_THREADS = min(8, os.cpu_count() or 1)
"""Pillow releases the GIL while decoding and resizing, so threads decode photos in parallel."""


@dataclass(frozen=True, eq=False)
class PetTensors:
    """A split in memory: images (N, 3, S, S) uint8, targets (N,) int64 (0/1 for binary, 0..36 for breeds),
    species (N,) int64 (0 cat, 1 dog, for choosing probes) and each photo's name."""

    images: torch.Tensor
    targets: torch.Tensor
    species: torch.Tensor
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)


def class_names(task: str) -> tuple[str, ...]:
    """The head's classes: ("cat", "dog") for binary (dog = 1, the logit's class), else the 37 breeds."""
    return SPECIES if task == "binary" else BREEDS


def spread(records: Sequence[PetRecord], limit: int | None, seed: int) -> tuple[PetRecord, ...]:
    """`limit` records spread evenly over the name-sorted list (so every breed tends to appear), starting at a
    seeded offset within the first stride; all of them without a limit."""
    if limit is None or limit >= len(records):
        return tuple(records)
    offset = random.Random(seed).random()
    return tuple(records[int((index + offset) * len(records) / limit)] for index in range(limit))


def load_split(root: Path, split: str, *, task: str, image_size_px: int, limit: int | None = None,
               seed: int = 0, interpolation: str = "bilinear") -> PetTensors:
    """Decodes the split's photos (or `limit` of them) once, squashed to image_size_px, in a few threads."""
    records = spread(filter_records(pet_index(root), split=split), limit, seed)
    if not records:
        raise DataNotFound(f"{root}: the {split} split lists no photos. Check annotations/{split}.txt.")
    for record in records:
        if BREEDS[record.label] != record.breed:
            raise DataNotFound(f"{record.name}: class id {record.label + 1} is {BREEDS[record.label]}, not "
                               f"{record.breed}. Download the annotations again.")

    def decode(record: PetRecord) -> torch.Tensor:
        photo = load_image(image_path(root, record), min_side_px=image_size_px)
        return squared(photo, image_size_px, interpolation)

    with ThreadPoolExecutor(DECODE_THREADS) as pool:
        images = torch.stack(list(pool.map(decode, records)))
    species = torch.tensor([SPECIES.index(record.species) for record in records])
    targets = species if task == "binary" else torch.tensor([record.label for record in records])
    return PetTensors(images=images, targets=targets, species=species,
                      names=tuple(record.name for record in records))


def squared(photo: Image.Image, image_size_px: int, interpolation: str) -> torch.Tensor:
    """A photo squashed to (3, S, S) uint8 at S = image_size_px, as the lesson resizes (aspect not kept)."""
    resize = v2.Resize((image_size_px, image_size_px), interpolation=InterpolationMode(interpolation),
                       antialias=True)
    return resize(v2.functional.to_image(photo))


def on_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The uint8 images where batches are cut from: the GPU itself when they take under a quarter of its free
    memory (no copy per step), else pinned host memory, so each batch's copy can be asynchronous."""
    if device.type != "cuda":
        return images
    free_bytes, _ = torch.cuda.mem_get_info(device)
    if images.numel() < free_bytes // 4:
        return images.to(device)
    return images.pin_memory()


def batch_to_device(images: torch.Tensor, indices: torch.Tensor, device: torch.device) -> torch.Tensor:
    """images[indices] on the device, (B, 3, S, S) uint8; a batch cut from pinned memory is copied asynchronously
    (its pinned staging copy is kept alive by the caching host allocator until the copy is done)."""
    if images.device == device:
        return images[indices.to(device)]
    batch = images[indices]
    if device.type == "cuda":
        batch = batch.pin_memory()
    return batch.to(device, non_blocking=True)


def normalise(batch: torch.Tensor, preprocessing: Preprocessing, *, flips: torch.Tensor | None,
              memory_format: torch.memory_format) -> torch.Tensor:
    """(B, 3, S, S) uint8 on the device -> float32 normalised as the weights expect; photos whose `flips` (B,)
    bool is set are mirrored left-right: the cheap augmentation, done where the batch already is."""
    x = batch.float().div_(255.0)
    if flips is not None and bool(flips.any()):
        mask = flips.to(x.device).view(-1, 1, 1, 1)
        x = torch.where(mask, x.flip(-1), x)
    mean = torch.tensor(preprocessing.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(preprocessing.std, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=memory_format)
