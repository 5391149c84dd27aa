"""Probe photos: a fixed handful of test photos, and the user's own, whose CAMs are saved before training and after
every epoch, so that a page can show how the maps move as accuracy rises.

The user's photos are copied into RUN_DIR/probes/uploads/ when the run is created: the run folder is complete on
its own, and a resumed trainer (or another machine) finds them there, whatever became of the upload.
"""
from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from camcore.cams import compute_maps, exact_method
from camcore.data.images import load_image
from camcore.errors import ImageError
from camcore.files import write_atomic
from camcore.jobs.runs import RunFolder
from camcore.train.data import PetTensors, normalise, squared
from camcore.train.model import Classifier

MAX_UPLOADS = 12
"""The figure shows every probe after every epoch; a dozen photos keep it readable."""
UNLABELLED = -1
"""The target of a user's photo: no true class is known, so its map is the predicted class's."""


def choose_probes(test: PetTensors, count: int) -> list[int]:
    """`count` test photos, half cats and half dogs where the split has enough, each half spread evenly over its
    (name-sorted) photos; cats first."""
    by_species = [torch.nonzero(test.species == value).flatten().tolist() for value in (0, 1)]
    wanted = [min(len(by_species[0]), max(count // 2, count - len(by_species[1])))]
    wanted.append(min(len(by_species[1]), count - wanted[0]))
    chosen = []
    for indices, take in zip(by_species, wanted):
        chosen += [indices[position * len(indices) // take] for position in range(take)]
    return chosen


def checked_uploads(photos: Sequence[tuple[str, bytes]]) -> dict[str, bytes]:
    """File name -> bytes of the user's probe photos, each decoded once here (ImageError naming the file) before
    any run exists; named NN-STEM.SUFFIX, so the order is kept and names are unique and safe on any disk."""
    if len(photos) > MAX_UPLOADS:
        raise ImageError(f"{len(photos)} probe photos: at most {MAX_UPLOADS} fit the figure. Pick fewer.")
    named = {}
    for index, (name, data) in enumerate(photos, start=1):
        load_image(data, name=name)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem).strip("._") or "photo"
        suffix = re.sub(r"[^A-Za-z0-9.]+", "", Path(name).suffix.lower()) or ".img"
        named[f"{index:02d}-{stem[:40]}{suffix}"] = data
    return named


def keep_uploads(run: RunFolder, named: Mapping[str, bytes]) -> None:
    """Writes checked_uploads' photos into RUN_DIR/probes/uploads/ (each atomically)."""
    folder = run.probe_uploads_dir
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in named.items():
        write_atomic(folder / name, data)


def probe_set(run: RunFolder, test: PetTensors, indices: list[int], *, image_size_px: int,
              interpolation: str) -> PetTensors:
    """The run's probes: the chosen test photos, then the user's photos from probes/uploads/ squashed like the
    test ones (target and species UNLABELLED, name "upload-" + file stem)."""
    files = sorted(path for path in run.probe_uploads_dir.glob("*") if path.is_file())
    chosen = torch.tensor(indices, dtype=torch.long)
    uploaded = [squared(load_image(path, min_side_px=image_size_px), image_size_px, interpolation) for path in files]
    unlabelled = torch.full((len(files),), UNLABELLED, dtype=torch.long)
    return PetTensors(images=torch.cat([test.images[chosen], *[image[None] for image in uploaded]]),
                      targets=torch.cat([test.targets[chosen], unlabelled]),
                      species=torch.cat([test.species[chosen], unlabelled]),
                      names=(*(test.names[index] for index in indices), *(f"upload-{path.stem}" for path in files)))


def write_probe_images(run: RunFolder, probes: PetTensors) -> None:
    """probes/images/NAME.jpg: each probe as the model sees it (the square resized copy), written once."""
    folder = run.probe_images_dir
    folder.mkdir(parents=True, exist_ok=True)
    for image, name in zip(probes.images, probes.names):
        path = folder / f"{name}.jpg"
        if not path.exists():
            buffer = io.BytesIO()
            Image.fromarray(image.permute(1, 2, 0).cpu().numpy()).save(buffer, format="JPEG", quality=90)
            write_atomic(path, buffer.getvalue())


def write_probe_maps(run: RunFolder, epoch: int, classifier: Classifier, probes: PetTensors) -> None:
    """probes/epoch_NNN.npz: each probe's map (CAM, or Grad-CAM where the head does not allow CAM) of its
    labelled class, or of the predicted class for the user's unlabelled photos; the predicted class and its
    probability."""
    if not len(probes):
        return
    model = classifier.loaded
    x = normalise(probes.images.to(model.device), classifier.preprocessing, flips=None,
                  memory_format=torch.contiguous_format)
    method = exact_method(model)
    batch = compute_maps(model, x, method=method, top_k=1)
    labelled = probes.targets != UNLABELLED
    if bool(labelled.any()):
        wanted = torch.where(labelled, probes.targets, batch.class_indices[:, 0].cpu())
        batch = compute_maps(model, x, method=method, class_indices=wanted.view(-1, 1))
    probability, predicted = batch.probabilities.max(dim=1)
    run.write_probes(epoch, names=np.array(probes.names), labels=probes.targets.numpy().astype(np.int64),
                     maps=batch.maps[:, 0].float().cpu().numpy(), predicted=predicted.cpu().numpy().astype(np.int64),
                     probability=probability.float().cpu().numpy(), class_names=np.array(classifier.class_names))
