"""Oxford-IIIT Pet records -> predictions, CAMs and localisation scores beside two baselines, and their means.

Every score of the model's map is computed in the same way for a centred Gaussian map and for the map of the
same architecture with randomised weights (Adebayo et al., 2018): on these centred photos a centre guess
already hits the pet 96% of the time, so only the gap to the baselines says the model looks at the pet.
"""
from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from camcore.cams import Progress, check_applicable
from camcore.data import pets
from camcore.data.images import load_image
from camcore.explain import Explanation, explain
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel, imagenet_categories, randomised
from camcore.scores import faithfulness, localisation, sanity, wsol
from camcore.scores.wsol import MapCurves

IMAGENET_DOGS = range(151, 269)
"""ImageNet-1k indices 151..268: the dog breeds (Chihuahua .. Mexican hairless)."""
IMAGENET_CATS = range(281, 286)
"""ImageNet-1k indices 281..285: the domestic cats (tabby, tiger cat, Persian, Siamese, Egyptian cat)."""
DECODE_WORKERS = min(8, os.cpu_count() or 1)
"""Threads decoding the next batch's photos and masks while the device explains the current one."""
SCORE_NAMES = {"pointing": "Pointing game", "iou": "Mask IoU", "rel_energy": "Relative energy",
               "localised": "Box IoU>=0.5", "head_pointing": "Head pointing"}
"""Each localisation score's key in ImageResult and summaries, and its name in tables and charts."""
THRESHOLD_SCORES = ("iou", "localised")
"""The scores that depend on the threshold (heatmap.threshold_mask), which tables print beside them."""
SCORES = tuple(SCORE_NAMES)
"""The per-image scores, each stored for the model's map and as gauss_* and random_* for the baselines."""
BASELINES = {"model": "", "gaussian": "gauss_", "random": "random_"}
"""summarise()'s name of each map -> its prefix in ImageResult's field names."""
CURVE_FIELDS = {name: prefix + "curves" for name, prefix in BASELINES.items()}
"""Each map's ImageResult field of WSOL curves (camcore.scores.wsol.MapCurves): arrays, kept out of JSON."""
FAITHFULNESS_NAMES = {"deletion_auc": "Deletion AUC", "insertion_auc": "Insertion AUC",
                      "confidence_drop": "Drop in conf.", "confidence_increase": "Increase in conf."}
"""The faithfulness scores (camcore.scores.faithfulness), NaN unless predict_records was asked for them: the curves'
areas, max(0, Y - O) / Y (its mean x 100 is the average drop %) and 1.0 / 0.0 whether O > Y."""
FAITHFULNESS_BASELINES = {"model": "", "gaussian": "gauss_", "random_map": "random_map_"}
"""The maps faithfulness compares, all explaining the model's own top-1 class: its map, the centred Gaussian and
a seeded random map (not the random-weights model of BASELINES, whose class differs)."""


@dataclass(frozen=True)
class ImageResult:
    """One photo: its labels, the model's top-1 prediction, and the localisation scores of three maps.

    correct: whether the prediction names the photo's species (a cat/dog or an ImageNet model) or breed (a
    breed model); None when the model's classes say neither. iou and rel_energy are NaN where undefined.
    localised: the CAM paper's score, heatmap.threshold_box's box has IoU >= 0.5 with the pet's box (around
    trimap 1 and 3). head_pointing: 1.0 / 0.0 whether the map's peak lies in the head box of
    annotations/xmls, NaN for the photos without one (a float, so that means skip them).
    """

    name: str
    split: str
    breed: str
    species: str
    label: int
    predicted_index: int
    predicted_name: str
    probability: float
    correct: bool | None
    pointing: bool
    iou: float
    rel_energy: float
    localised: bool
    head_pointing: float
    gauss_pointing: bool
    gauss_iou: float
    gauss_rel_energy: float
    gauss_localised: bool
    gauss_head_pointing: float
    random_pointing: bool
    random_iou: float
    random_rel_energy: float
    random_localised: bool
    random_head_pointing: float
    randomised_spearman: float = math.nan
    """Spearman of the map with the same class's map once all but the stem is re-initialised (camcore.scores.sanity)."""
    top_map: np.ndarray | None = field(default=None, compare=False, repr=False)
    """(h, w) the top-1 class's map at the layer's resolution, for overlays on thumbnails; not in JSON."""
    deletion_auc: float = math.nan
    insertion_auc: float = math.nan
    confidence_drop: float = math.nan
    confidence_increase: float = math.nan
    gauss_deletion_auc: float = math.nan
    gauss_insertion_auc: float = math.nan
    gauss_confidence_drop: float = math.nan
    gauss_confidence_increase: float = math.nan
    random_map_deletion_auc: float = math.nan
    random_map_insertion_auc: float = math.nan
    random_map_confidence_drop: float = math.nan
    random_map_confidence_increase: float = math.nan
    curves: MapCurves | None = field(default=None, compare=False, repr=False)
    """The WSOL scores' per-photo curves (camcore.scores.wsol) of the model's map; gauss_curves and random_curves
    of the baselines'. Pooled over a split by summarise; not in the CLI's per-photo JSON."""
    gauss_curves: MapCurves | None = field(default=None, compare=False, repr=False)
    random_curves: MapCurves | None = field(default=None, compare=False, repr=False)


def predict_records(root: Path, records: Sequence[pets.PetRecord], model: LoadedModel, *, method: str = "cam",
                    threshold_frac: float = heatmap.DEFAULT_THRESHOLD, batch_size: int = 16,
                    random_model: LoadedModel | None = None, size_px: int | None = None,
                    faithfulness_steps: int | None = None, stem_model: LoadedModel | None = None,
                    progress: Progress | None = None, clamp_negative_weights: bool = False,
                    threshold_standard: heatmap.ThresholdStandard = heatmap.MAXIMUM) -> list[ImageResult]:
    """Explains each record's photo (top-1 class) and scores the map against its pet mask, in record order.
    threshold_frac is a fraction of what threshold_standard says (the maximum, or a percentile: PaS), for the
    scores at a threshold and the WSOL sweeps; clamp_negative_weights: CAM's NWC, for the model and its baselines.

    batch_size photos at a time: one batch on the device, and only that many full-size photos in memory.
    random_model defaults to models.randomised(model); the random baseline maps that model's own top class.
    faithfulness_steps: also the FAITHFULNESS_NAMES scores, curves of that many steps (about 3 x (2 x steps + 3)
    forward passes per photo: off by default). stem_model (sanity.randomised_above_stem(model)): also
    randomised_spearman, from one more map per photo. progress(done, total) is called after each batch.
    """
    check_applicable(model, method, clamp_negative_weights=clamp_negative_weights)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    random_model = randomised(model) if random_model is None else random_model
    groups = [records[first:first + batch_size] for first in range(0, len(records), batch_size)]
    results: list[ImageResult] = []
    with ThreadPoolExecutor(max_workers=DECODE_WORKERS) as pool:
        loading = [pool.submit(_load, root, record) for record in groups[0]] if groups else []
        for index, group in enumerate(groups):
            photos, trimaps, head_boxes = zip(*(future.result() for future in loading))
            if index + 1 < len(groups):  # the next batch decodes while this one runs on the device
                loading = [pool.submit(_load, root, record) for record in groups[index + 1]]
            nwc = clamp_negative_weights
            explained = explain(photos, model, method=method, top_k=1, size_px=size_px, clamp_negative_weights=nwc)
            baseline = explain(photos, random_model, method=method, top_k=1, size_px=size_px,
                               clamp_negative_weights=nwc)
            stemmed = [None] * len(photos) if stem_model is None else explain(
                photos, stem_model, method=method, size_px=size_px, clamp_negative_weights=nwc,
                classes=[[mine.predictions[0].class_index] for mine in explained])
            faithful = [_faithfulness(photo, model, mine, size_px, faithfulness_steps)
                        | _randomised_spearman(photo, model, mine, after, size_px)
                        for photo, mine, after in zip(photos, explained, stemmed)]
            results.extend(_result(record, trimap, head, mine, theirs, model, threshold_frac, threshold_standard,
                                   scores)
                           for record, trimap, head, mine, theirs, scores
                           in zip(group, trimaps, head_boxes, explained, baseline, faithful))
            if progress is not None:
                progress(len(results), len(records))
    return results


def _load(root: Path, record: pets.PetRecord) -> tuple[Image.Image, np.ndarray, localisation.Box | None]:
    """A record's photo, trimap and head box; runs in a decode worker (Pillow releases the GIL while decoding)."""
    return load_image(pets.image_path(root, record)), pets.trimap(root, record), pets.head_box(root, record)


def _faithfulness(photo: Image.Image, model: LoadedModel, explanation: Explanation, size_px: int | None,
                  steps: int | None) -> dict[str, Any]:
    """The FAITHFULNESS_NAMES fields of one photo's top-1 map and its baseline maps; none when steps is None."""
    if steps is None:
        return {}
    report = faithfulness.explanation_faithfulness(photo, model, explanation, size_px=size_px, steps=steps)
    return {prefix + name: value
            for prefix, scores in (("", report.method), ("gauss_", report.gaussian_map),
                                   ("random_map_", report.random_map))
            for name, value in zip(FAITHFULNESS_NAMES, (scores.deletion.auc, scores.insertion.auc, scores.drop,
                                                        float(scores.increase)))}


def _randomised_spearman(photo: Image.Image, model: LoadedModel, explanation: Explanation,
                         after: Explanation | None, size_px: int | None) -> dict[str, Any]:
    """randomised_spearman: the top-1 map against `after`, the same class's map by the model randomised above its
    stem (none without it)."""
    if after is None:
        return {}
    size_hw = model.preprocessing.with_size(size_px).input_size(photo.size)
    return {"randomised_spearman": float(sanity.compare_maps(explanation.maps[0], after.maps[:1], size_hw)[0][0])}


def _result(record: pets.PetRecord, trimap: np.ndarray, head_box: localisation.Box | None,
            explanation: Explanation, random_explanation: Explanation, model: LoadedModel, threshold_frac: float,
            standard: heatmap.ThresholdStandard, faithful: dict[str, Any]) -> ImageResult:
    top, mask = explanation.predictions[0], pets.is_pet(trimap)
    gauss = localisation.centred_gaussian(*mask.shape)
    scores: dict[str, Any] = {prefix + score: value
              for prefix, full_map in (("", explanation.at_image_size()[0]), ("gauss_", gauss),
                                       ("random_", random_explanation.at_image_size()[0]))
              for score, value in zip(SCORES, _scores(full_map, mask, head_box, threshold_frac, standard))}
    gauss_small = localisation.centred_gaussian(*wsol.scored_size(mask.shape))
    return ImageResult(name=record.name, split=record.split, breed=record.breed, species=record.species,
                       label=record.label, predicted_index=top.class_index, predicted_name=top.class_name,
                       probability=top.probability, correct=_correct(model, record, top.class_index),
                       top_map=explanation.maps[0], **scores, **faithful,
                       curves=wsol.map_curves(explanation.maps[0], trimap, head_box, standard=standard),
                       gauss_curves=wsol.map_curves(gauss_small, trimap, head_box, standard=standard),
                       random_curves=wsol.map_curves(random_explanation.maps[0], trimap, head_box,
                                                     standard=standard))


def _scores(full_map: np.ndarray, mask: np.ndarray, head_box: localisation.Box | None,
            threshold_frac: float, standard: heatmap.ThresholdStandard) -> tuple[bool, float, float, bool, float]:
    """(H, W) map at the photo's size -> the SCORES in their order: pointing game, mask IoU at the threshold,
    relative energy, box localisation at the threshold, pointing game on the head box."""
    maps, masks, normalised = full_map[None], mask[None], heatmap.normalise(full_map[None])
    level = standard.level(normalised[0], threshold_frac)
    return (bool(localisation.pointing_game(maps, masks)[0]),
            float(localisation.mask_iou(normalised, masks, level)[0]),
            float(localisation.relative_energy(maps, masks)[0]),
            bool(localisation.box_localised(normalised, masks, level)[0]),
            float(localisation.pointing_game_in_boxes(maps, [head_box])[0]))


def judged_labels(model: LoadedModel, species: str, breed: str, class_index: int) -> tuple[str, str] | None:
    """(true, predicted) at the level the model answers: the species for a cat/dog model or an ImageNet one
    (an ImageNet class that is neither a cat nor a dog is "other"), the breed for a model whose classes are
    breed names ("American Bulldog" matches american_bulldog); None when the model answers neither."""
    names = model.class_names
    if _answers_species(model):
        return species, names[class_index]
    if names == imagenet_categories():
        return species, imagenet_species(class_index) or "other"
    return None if _breed_index(names, breed) is None else (_breed_key(breed), _breed_key(names[class_index]))


def true_class_index(model: LoadedModel, species: str, breed: str) -> int | None:
    """The model's class for a photo's label: its species for a cat/dog model, else the class named like its
    breed (ImageNet too has some: "Saint Bernard" is saint_bernard); None when the model has no such class."""
    if _answers_species(model):
        return model.class_names.index(species)
    return _breed_index(model.class_names, breed)


def _answers_species(model: LoadedModel) -> bool:
    return set(model.class_names) == set(pets.SPECIES)


def _breed_index(names: Sequence[str], breed: str) -> int | None:
    keys = [_breed_key(name) for name in names]
    return keys.index(_breed_key(breed)) if _breed_key(breed) in keys else None


def _correct(model: LoadedModel, record: pets.PetRecord, class_index: int) -> bool | None:
    labels = judged_labels(model, record.species, record.breed, class_index)
    return None if labels is None else labels[0] == labels[1]


def imagenet_species(class_index: int) -> str | None:
    """"cat", "dog" or None for an ImageNet-1k class index."""
    if class_index in IMAGENET_DOGS:
        return "dog"
    return "cat" if class_index in IMAGENET_CATS else None


def _breed_key(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def summarise(results: Iterable[ImageResult], *, calibration: Iterable[ImageResult] | None = None) -> dict[str, Any]:
    """Means overall and per breed (sorted by name): {"count", "accuracy", each of SCORES and FAITHFULNESS_NAMES,
    the WSOL scores (camcore.scores.wsol.summary's keys), "per_breed": {breed: the same without per_breed}}, each
    score as {"model", "gaussian", "random"} (faithfulness: "random_map" for "random"); a bool's mean is its rate.

    Means skip NaN (an empty mask, a photo without a head box); a mean over nothing, and the accuracy where no
    prediction could be judged, is None. The WSOL scores read their thresholds off `calibration` (other photos,
    e.g. trainval for test), chosen once for the whole of it, per breed too; without it, off the scored photos.
    """
    results = list(results)
    chosen_on = None if calibration is None else _curves(list(calibration))
    by_breed: dict[str, list[ImageResult]] = defaultdict(list)
    for result in results:
        by_breed[result.breed].append(result)
    return {**_means(results, chosen_on),
            "per_breed": {breed: _means(by_breed[breed], chosen_on) for breed in sorted(by_breed)}}


def _means(results: list[ImageResult], calibration: dict[str, list[MapCurves | None]] | None) -> dict[str, Any]:
    judged = [result.correct for result in results if result.correct is not None]
    summary: dict[str, Any] = {"count": len(results), "accuracy": _mean(judged)}
    for scores, baselines in ((SCORES, BASELINES), (FAITHFULNESS_NAMES, FAITHFULNESS_BASELINES)):
        for score in scores:
            summary[score] = {name: _mean([getattr(result, prefix + score) for result in results])
                              for name, prefix in baselines.items()}
    summary["randomised_spearman"] = _mean([result.randomised_spearman for result in results])
    return {**summary, **wsol.summary(_curves(results), calibration)}


def _curves(results: list[ImageResult]) -> dict[str, list[MapCurves | None]]:
    return {name: [getattr(result, field) for result in results] for name, field in CURVE_FIELDS.items()}


def _mean(values: Sequence[float | bool]) -> float | None:
    kept = [float(value) for value in values if not math.isnan(value)]
    return sum(kept) / len(kept) if kept else None
