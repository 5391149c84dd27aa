"""`python -m camcore evaluate`: accuracy and localisation scores on Oxford-IIIT Pet beside both baselines.

Runs as one process, or as one rank of `torchrun --nproc_per_node N` (WORLD_SIZE > 1): rank r takes records
r, r + N, ...; rank 0 gathers the shards, restores the record order, prints and writes. Every rank builds the
random baseline from models.randomised's fixed seed, so the merged result equals a single process's.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from camcore import distributed
from camcore.cli.args import (
    add_data_option,
    add_faithfulness_option,
    add_model_options,
    add_threshold_options,
    data_root_of,
    map_options_of,
    positive_int,
    threshold_of,
)
from camcore.data import pets
from camcore.errors import CamcoreError
from camcore.files import write_atomic
from camcore.maps import heatmap
from camcore.models.device import choose_device, describe
from camcore.models.loading import load_model
from camcore.scores import wsol
from camcore.scores.evaluate import predict_records
from camcore.scores.record import BASELINES, FAITHFULNESS_NAMES, SCORE_NAMES, SCORES, THRESHOLD_SCORES, ImageResult
from camcore.scores.sanity import randomised_above_stem
from camcore.scores.summary import summarise
from camcore.scores.wsol import SCORE_NAMES as WSOL_NAMES
from camcore.scores.wsol import calibrated_key

ALL_SPLITS = "all"
NO_CALIBRATION = "none"


def add_evaluate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("evaluate", help="score a model's maps on Oxford-IIIT Pet against the trimaps",
                                 description="Predict and explain the photos of a split, score each top-1 map "
                                 "against the pet mask (pointing game, mask IoU, relative energy inside the mask, "
                                 "the CAM paper's box IoU >= 0.5 with the pet's box) and the head box where there "
                                 "is one (pointing game) beside a centred Gaussian and the same architecture with "
                                 "random weights; print the means overall and per breed and write FILE.json.")
    add_data_option(parser)
    parser.add_argument("--split", choices=[*pets.SPLITS, ALL_SPLITS], default="test")
    add_model_options(parser)
    add_threshold_options(parser, what="mask IoU and the box")
    parser.add_argument("--limit", type=positive_int, metavar="N",
                        help="score N photos spread evenly over the name-sorted split (every breed tends to appear)")
    parser.add_argument("--batch-size", type=positive_int, default=16, metavar="B", help="photos per batch")
    parser.add_argument("--calibrate-on", choices=[*pets.SPLITS, NO_CALIBRATION], metavar="SPLIT",
                        help="also read --split's WSOL box scores at the thresholds best on this split's photos "
                             "(the *_calibrated keys; default: trainval for the test split, else none). The scores "
                             "as Choe et al. define them, at --split's own best thresholds, are always reported")
    add_faithfulness_option(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.json",
                        help="results file (written atomically)")
    parser.set_defaults(run=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    """Exit 0 when written, 2 when the data, model or an option is unusable (one stderr line each)."""
    world = distributed.world_from_env()
    rank, world_size = world.rank, world.size
    try:
        device = world.device(choose_device(args.device))
    except ValueError as exc:
        print(f"camcore: {exc}", file=sys.stderr)
        return 2
    distributed.join(world, device)
    try:
        start = time.perf_counter()
        results, calibration, error = _score_shard(args, rank, world_size)
        errors = [message for message in distributed.everyone(error, world) if message]  # all stop together
        if errors:
            if rank == 0:
                for message in dict.fromkeys(errors):
                    print(f"camcore: {message}", file=sys.stderr)
            return 2
        merged, calibration_merged = _merge(results, world), _merge(calibration, world)
        if rank == 0:
            processes = f" x {world_size} processes" if world_size > 1 else ""
            _report(args, merged, calibration_merged, time.perf_counter() - start, describe(device) + processes)
        return 0
    except OSError as exc:  # the output file cannot be written
        print(f"camcore: {exc}", file=sys.stderr)
        return 2
    finally:
        distributed.leave(world)


def calibration_split(args: argparse.Namespace) -> str | None:
    """The split the calibrated WSOL thresholds are chosen on: --calibrate-on, by default trainval for test; None:
    no calibrated scores."""
    chosen = args.calibrate_on or ("trainval" if args.split == "test" else NO_CALIBRATION)
    return None if chosen == NO_CALIBRATION else chosen


def _score_shard(args: argparse.Namespace, rank: int, world_size: int
                 ) -> tuple[list[ImageResult], list[ImageResult], str | None]:
    """This rank's records[rank::world_size] of --split and of the calibration split, scored; or the one-line
    error that stopped it. Calibration photos get no faithfulness and no sanity check: only their maps count."""
    try:
        root = data_root_of(args)
        split = calibration_split(args)
        if split is not None and args.split in (split, ALL_SPLITS):
            raise ValueError(f"--calibrate-on {split} overlaps --split {args.split}: calibrate on another split, "
                             f"or on none.")
        index = pets.pet_index(root)
        records = _chosen_records(index, args.split, args.limit)[rank::world_size]
        calibration = [] if split is None else _chosen_records(index, split, args.limit)[rank::world_size]
        model = load_model(args.model, weights_path=args.weights, device=args.device)
        total = len(records) + len(calibration)
        with tqdm(total=total, unit="image", disable=None if rank == 0 else True, file=sys.stderr) as bar:
            score = functools.partial(predict_records, root, model=model, options=map_options_of(args, top_k=1),
                                      threshold_frac=threshold_of(args), batch_size=args.batch_size)
            results = score(records, faithfulness_steps=args.faithfulness, stem_model=randomised_above_stem(model),
                            progress=lambda done, _: bar.update(done - bar.n))
            calibrated = score(calibration, progress=lambda done, _: bar.update(len(results) + done - bar.n))
        return results, calibrated, None
    except (CamcoreError, ValueError) as exc:  # ValueError: unknown model or device, overlapping splits
        return [], [], str(exc)


def _chosen_records(records: Sequence[pets.PetRecord], split: str, limit: int | None) -> tuple[pets.PetRecord, ...]:
    """The split's records (all of them for "all"); with a limit, that many spread evenly over the list."""
    chosen = pets.filter_records(records, split=None if split == ALL_SPLITS else split)
    if limit is None or limit >= len(chosen):
        return chosen
    return tuple(chosen[index * len(chosen) // limit] for index in range(limit))


def _merge(results: list[ImageResult], world: distributed.World) -> list[ImageResult]:
    """Rank 0: the shards back in record order (shard r holds records r, r + world size, ...)."""
    shards = distributed.on_main(results, world)
    if shards is None:
        return []
    merged: list[ImageResult] = [None] * sum(len(shard) for shard in shards)  # type: ignore[list-item]
    for rank, shard in enumerate(shards):
        merged[rank::world.size] = shard
    return merged


def _report(args: argparse.Namespace, results: list[ImageResult], calibration: list[ImageResult], elapsed_s: float,
            where: str) -> None:
    """Writes and prints the summary; with a calibration split (calibration_split), the WSOL box scores also at
    the thresholds read off `calibration`."""
    calibrated_on = calibration_split(args)
    summary = summarise(results, calibration=calibration if calibrated_on else None)
    payload = {"model": args.model, "method": args.method, "split": args.split, "threshold_frac": threshold_of(args),
               "threshold_standard": str(args.threshold_standard),
               "clamp_negative_weights": args.clamp_negative_weights,
               "size_px": args.size_px, "faithfulness_steps": args.faithfulness, "calibrated_on": calibrated_on,
               "wsol_thresholds": wsol.sweep_description(args.threshold_standard),
               "summary": summary, "results": [_as_json(result) for result in results]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, json.dumps(payload, indent=1).encode())
    print(format_summary(summary, threshold_frac=threshold_of(args)))
    print(format_wsol(summary, calibrated_on=calibrated_on, split=args.split, standard=args.threshold_standard))
    print(f"Sanity check: mean Spearman of the map with the map after randomising all but the stem "
          f"{_number(summary['randomised_spearman'])} (near 1: the map ignores what the model learnt)")
    if args.faithfulness is not None:
        print(format_faithfulness(summary))
    extra = f" (+ {len(calibration)} {calibrated_on} photos to calibrate)" if calibrated_on else ""
    print(f"{len(results)} images scored{extra} in {elapsed_s:.1f} s on {where}; wrote {args.out}")


def format_wsol(summary: dict[str, Any], *, calibrated_on: str | None, split: str,
                standard: heatmap.ThresholdStandard = heatmap.MAXIMUM) -> str:
    """The WSOL scores (overall) as a text table: per map, the score as Choe et al. define it (the threshold best
    on the scored split) beside the one read at the threshold best on calibrated_on (calibrated); the first line
    says what the thresholds swept are (wsol.sweep_description)."""
    chosen = f"best on {split} itself (Choe et al.'s definition) and best on {calibrated_on} (calib)" \
        if calibrated_on else f"best on {split} itself (Choe et al.'s definition; no calibration split)"
    lines = [f"WSOL scores (Choe et al., 2020) over {wsol.sweep_description(standard)};",
             f"thresholds {chosen}:",
             f"{'':<22}" + "".join(f"  {name:^13}" for name in BASELINES),
             f"{'':<22}" + "".join(f"  {'Choe':>6}{'calib':>7}" for _ in BASELINES)]
    for key, name in WSOL_NAMES.items():
        cells = ""
        for kind in BASELINES:
            calibrated = "" if key == "pxap" else (
                _number(summary[calibrated_key(key)][kind]) if calibrated_on else "-")
            cells += f"  {_number(summary[key][kind]):>6}{calibrated:>7}"
        lines.append(f"{name:<22}{cells}")
    return "\n".join(lines)


def _as_json(result: ImageResult) -> dict[str, Any]:
    """A result as strict JSON: NaN (an undefined score) becomes null; the raw top-1 map and the WSOL curves stay
    out (the summary pools them)."""
    return {key: None if isinstance(value, float) and math.isnan(value) else value
            for key, value in result.json_fields().items()}


def format_summary(summary: dict[str, Any], *, threshold_frac: float) -> str:
    """The summary as a text table: one row overall and one per breed, model / gaussian / random per score."""
    titles = {key: f"{name} @{threshold_frac:g}" if key in THRESHOLD_SCORES else name
              for key, name in SCORE_NAMES.items()}
    head = f"{'':<28}{'n':>5}{'acc':>6}" + "".join(f"  {titles[key]:^20}" for key in SCORES)
    sub = f"{'':<39}" + "".join(f"  {'model':>6}{'gauss':>7}{'random':>7}" for _ in SCORES)
    rows = [_row("all", summary)] + [_row(breed, means) for breed, means in summary["per_breed"].items()]
    return "\n".join([head, sub, *rows])


def _row(label: str, means: dict[str, Any]) -> str:
    cells = "".join(f"  {_number(means[key]['model']):>6}{_number(means[key]['gaussian']):>7}"
                    f"{_number(means[key]['random']):>7}" for key in SCORES)
    return f"{label[:28]:<28}{means['count']:>5}{_number(means['accuracy']):>6}{cells}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_faithfulness(summary: dict[str, Any]) -> str:
    """The faithfulness means as a text table like format_summary's: model / gaussian / random map per score;
    the drop in confidence as Grad-CAM++'s average drop % and the increase as a % of photos."""
    head = f"{'':<28}{'n':>5}" + "".join(f"  {name:^20}" for name in FAITHFULNESS_NAMES.values())
    sub = f"{'':<33}" + "".join(f"  {'model':>6}{'gauss':>7}{'rndmap':>7}" for _ in FAITHFULNESS_NAMES)
    rows = [_faithfulness_row("all", summary)]
    rows += [_faithfulness_row(breed, means) for breed, means in summary["per_breed"].items()]
    return "\n".join([head, sub, *rows])


def _faithfulness_row(label: str, means: dict[str, Any]) -> str:
    cells = ""
    for key in FAITHFULNESS_NAMES:
        text = _number if key.endswith("_auc") else _percent
        model, gauss, random_map = (text(means[key][name]) for name in ("model", "gaussian", "random_map"))
        cells += f"  {model:>6}{gauss:>7}{random_map:>7}"
    return f"{label[:28]:<28}{means['count']:>5}{cells}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"
