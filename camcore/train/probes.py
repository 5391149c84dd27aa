"""Probe photos: a fixed handful of test photos whose CAMs are saved before training and after every epoch,
so that a page can show how the maps move as accuracy rises."""
from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from camcore.cams import compute_maps, exact_method
from camcore.files import write_atomic
from camcore.runs import RunFolder
from camcore.train.data import PetTensors, batch_to_device, normalise
from camcore.train.model import Classifier


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


def write_probe_images(run: RunFolder, test: PetTensors, indices: list[int]) -> None:
    """probes/images/NAME.jpg: each probe as the model sees it (the square resized copy), written once."""
    folder = run.path / "probes" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for index in indices:
        path = folder / f"{test.names[index]}.jpg"
        if not path.exists():
            buffer = io.BytesIO()
            Image.fromarray(test.images[index].permute(1, 2, 0).cpu().numpy()).save(buffer, format="JPEG",
                                                                                    quality=90)
            write_atomic(path, buffer.getvalue())


def write_probe_maps(run: RunFolder, epoch: int, classifier: Classifier, test: PetTensors,
                     indices: list[int]) -> None:
    """probes/epoch_NNN.npz: the map of each probe's labelled class (CAM, or Grad-CAM where the head does not
    allow CAM), the predicted class and its probability."""
    if not indices:
        return
    model = classifier.loaded
    chosen = torch.tensor(indices)
    x = normalise(batch_to_device(test.images, chosen, model.device), classifier.preprocessing, flips=None,
                  memory_format=torch.contiguous_format)
    labels = test.targets[chosen]
    batch = compute_maps(model, x, method=exact_method(model),
                         class_indices=labels.view(-1, 1))
    probability, predicted = batch.probabilities.max(dim=1)
    run.write_probes(epoch, names=np.array([test.names[index] for index in indices]),
                     labels=labels.numpy().astype(np.int64), maps=batch.maps[:, 0].float().cpu().numpy(),
                     predicted=predicted.cpu().numpy().astype(np.int64),
                     probability=probability.float().cpu().numpy(), class_names=np.array(classifier.class_names))
