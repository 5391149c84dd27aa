"""Oxford-IIIT Pet records -> predictions, CAMs and each map's scores beside two baselines (predict_records).

Every score of the model's map is computed in the same way for a centred Gaussian map and for the map of the
same architecture with randomised weights (Adebayo et al., 2018): on these centred photos a centre guess
already hits the pet 96% of the time, so only the gap to the baselines says the model looks at the pet.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from camcore.cams import Progress, check_applicable
from camcore.data import pets
from camcore.data.images import load_image
from camcore.explain import Explanation, explain
from camcore.maps import heatmap
from camcore.models.loading import LoadedModel, randomised
from camcore.options import DEFAULTS, MapOptions
from camcore.scores import faithfulness, labels, localisation, sanity, wsol
from camcore.scores.record import FAITHFULNESS_BASELINES, FaithfulnessScores, ImageResult, MapScores

DECODE_WORKERS = min(8, os.cpu_count() or 1)
"""Threads decoding the next batch's photos and masks while the device explains the current one."""


def predict_records(root: Path, records: Sequence[pets.PetRecord], model: LoadedModel,
                    options: MapOptions = DEFAULTS, *, threshold_frac: float | None = None, batch_size: int = 16,
                    random_model: LoadedModel | None = None, faithfulness_steps: int | None = None,
                    stem_model: LoadedModel | None = None, progress: Progress | None = None) -> list[ImageResult]:
    """Explains each record's photo (its top-1 class, whatever options' classes and top_k say) and scores the map
    against its pet mask, in record order. options: the method, layer, input size, NWC (for the model and its
    baselines) and threshold standard; threshold_frac is a fraction of what that standard says (the maximum, or a
    percentile: PaS) for the scores at a threshold, by default the standard's own (0.5 or PaS's 0.35).

    batch_size photos at a time: one batch on the device, and only that many full-size photos in memory.
    random_model defaults to models.randomised(model); the random baseline maps that model's own top class.
    faithfulness_steps: also ImageResult.faithfulness, curves of that many steps (about 3 x (2 x steps + 3)
    forward passes per photo: off by default). stem_model (sanity.randomised_above_stem(model)): also
    randomised_spearman, from one more map per photo. progress(done, total) is called after each batch.
    """
    check_applicable(model, options.method, clamp_negative_weights=options.clamp_negative_weights)
    options = replace(options, top_k=1, classes=None)
    threshold_standard = options.threshold_standard
    if threshold_frac is None:
        threshold_frac = threshold_standard.default_threshold
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
            explained = explain(photos, model, options)
            baseline = explain(photos, random_model, options)
            own_classes = [[mine.predictions[0].class_index] for mine in explained]
            stemmed = [None] * len(photos) if stem_model is None else explain(photos, stem_model, options,
                                                                              per_photo_classes=own_classes)
            extras = [(_faithfulness(photo, model, mine, faithfulness_steps),
                       _randomised_spearman(photo, model, mine, after, options.size_px))
                      for photo, mine, after in zip(photos, explained, stemmed)]
            results.extend(_result(record, trimap, head, mine, theirs, model, threshold_frac, threshold_standard,
                                   *extra)
                           for record, trimap, head, mine, theirs, extra
                           in zip(group, trimaps, head_boxes, explained, baseline, extras))
            if progress is not None:
                progress(len(results), len(records))
    return results


def _load(root: Path, record: pets.PetRecord) -> tuple[Image.Image, np.ndarray, localisation.Box | None]:
    """A record's photo, trimap and head box; runs in a decode worker (Pillow releases the GIL while decoding)."""
    return load_image(pets.image_path(root, record)), pets.trimap(root, record), pets.head_box(root, record)


def _faithfulness(photo: Image.Image, model: LoadedModel, explanation: Explanation,
                  steps: int | None) -> dict[str, FaithfulnessScores]:
    """FAITHFULNESS_BASELINES' scores of one photo's top-1 map and its baseline maps; NaN when steps is None."""
    if steps is None:
        return dict.fromkeys(FAITHFULNESS_BASELINES, FaithfulnessScores())
    report = faithfulness.explanation_faithfulness(photo, model, explanation, steps=steps)
    return {name: FaithfulnessScores(deletion_auc=scores.deletion.auc, insertion_auc=scores.insertion.auc,
                                     confidence_drop=scores.drop, confidence_increase=float(scores.increase))
            for name, scores in zip(FAITHFULNESS_BASELINES, (report.method, report.gaussian_map, report.random_map))}


def _randomised_spearman(photo: Image.Image, model: LoadedModel, explanation: Explanation,
                         after: Explanation | None, size_px: int | None) -> float:
    """The top-1 map against `after`, the same class's map by the model randomised above its stem (NaN without
    it)."""
    if after is None:
        return math.nan
    size_hw = model.preprocessing.with_size(size_px).input_size(photo.size)
    return float(sanity.compare_maps(explanation.maps[0], after.maps[:1], size_hw)[0][0])


def _result(record: pets.PetRecord, trimap: np.ndarray, head_box: localisation.Box | None,
            explanation: Explanation, random_explanation: Explanation, model: LoadedModel, threshold_frac: float,
            standard: heatmap.ThresholdStandard, faithful: dict[str, FaithfulnessScores],
            randomised_spearman: float) -> ImageResult:
    top, mask = explanation.predictions[0], pets.is_pet(trimap)
    maps = {"model": (explanation.at_image_size()[0], explanation.maps[0]),
            "gaussian": (localisation.centred_gaussian(*mask.shape),
                         localisation.centred_gaussian(*wsol.scored_size(mask.shape))),
            "random": (random_explanation.at_image_size()[0], random_explanation.maps[0])}
    return ImageResult(name=record.name, split=record.split, breed=record.breed, species=record.species,
                       label=record.label, predicted_index=top.class_index, predicted_name=top.class_name,
                       probability=top.probability,
                       correct=labels.is_correct(model, record.species, record.breed, top.class_index),
                       localisation={name: _scores(full_map, small_map, trimap, mask, head_box, threshold_frac,
                                                   standard)
                                     for name, (full_map, small_map) in maps.items()},
                       faithfulness=faithful, randomised_spearman=randomised_spearman, top_map=explanation.maps[0])


def _scores(full_map: np.ndarray, small_map: np.ndarray, trimap: np.ndarray, mask: np.ndarray,
            head_box: localisation.Box | None, threshold_frac: float, standard: heatmap.ThresholdStandard
            ) -> MapScores:
    """One map's scores: of the (H, W) full_map at the photo's size, the pointing game, mask IoU at the threshold,
    relative energy, box localisation at the threshold and the pointing game on the head box; the WSOL curves of
    small_map, at the layer's resolution (wsol.map_curves resizes it)."""
    maps, masks, normalised = full_map[None], mask[None], standard.normalise(full_map[None])
    level = standard.level(normalised[0], threshold_frac)
    return MapScores(pointing=bool(localisation.pointing_game(maps, masks)[0]),
                     iou=float(localisation.mask_iou(normalised, masks, level)[0]),
                     rel_energy=float(localisation.relative_energy(maps, masks)[0]),
                     localised=bool(localisation.box_localised(normalised, masks, level)[0]),
                     head_pointing=float(localisation.pointing_game_in_boxes(maps, [head_box])[0]),
                     curves=wsol.map_curves(small_map, trimap, head_box, standard=standard))
