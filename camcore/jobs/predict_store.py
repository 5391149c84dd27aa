"""Per-image results of the Dataset page's predictions on disk, shared by the page, the predict job and every session.

Layout: CACHE/predictions/KEY/ with key.json (what KEY stands for), results/NAME.npy (the top-1 class's map) and
results/NAME.json (ImageResult.json_fields(), its WSOL curves as lists: a result stored without them is predicted
again), and jobs/ (the folders of "predict all" jobs, camcore.jobs.runs format).
KEY hashes the data folder, the model spec and weights file with their modification times, the method, the input
size, the faithfulness steps, NWC and the threshold standard: a retrained checkpoint at the same path gets a fresh
store, never stale results, and results with faithfulness scores (or NWC, or PaS) live apart from those without.
"""
from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from camcore.files import modified_ns, write_atomic
from camcore.maps import heatmap
from camcore.options import DEFAULTS, MapOptions
from camcore.scores.record import CURVE_KEYS, ImageResult
from camcore.scores.wsol import MapCurves
from camcore.settings import cache_root


@dataclass(frozen=True)
class PredictStore:
    """One model version's and method's results on one data folder; every read tolerates a writer at work."""

    path: Path

    @classmethod
    def for_model(cls, root: Path, spec: str, weights_path: str | None, options: MapOptions = DEFAULTS, *,
                  faithfulness_steps: int | None = None, cache_dir: Path | None = None) -> PredictStore:
        """The store of these settings under cache_dir (default: cache_root()/predictions), created if new."""
        key = model_key(root, spec, weights_path, options, faithfulness_steps=faithfulness_steps)
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        store = cls((Path(cache_dir) if cache_dir is not None else cache_root() / "predictions") / digest)
        (store.path / "results").mkdir(parents=True, exist_ok=True)
        if not (store.path / "key.json").is_file():
            write_atomic(store.path / "key.json", json.dumps(key, indent=2, sort_keys=True).encode())
        return store

    @property
    def jobs_root(self) -> Path:
        """Where this store's "predict all" job folders live (one live at a time, see camcore.jobs.predict)."""
        return self.path / "jobs"

    def write(self, result: ImageResult) -> None:
        """The map first, then the JSON: a result counts as stored once its JSON exists, so a crash between the
        two writes leaves it missing (predicted again), never half there."""
        if result.top_map is None:
            raise ValueError(f"{result.name}: a stored result needs its top_map.")
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(result.top_map), allow_pickle=False)
        write_atomic(self._file(result.name, ".npy"), buffer.getvalue())
        fields = result.json_fields()
        for name, key in CURVE_KEYS.items():
            curves = result.localisation[name].curves
            fields[key] = None if curves is None else curves.as_lists()
        write_atomic(self._file(result.name, ".json"), json.dumps(fields).encode())

    def read(self, name: str) -> ImageResult | None:
        """The stored result of photo `name`, or None when it is not (or not completely) there."""
        json_file, map_file = self._file(name, ".json"), self._file(name, ".npy")
        try:
            fields = json.loads(json_file.read_text())
            top_map = np.load(map_file, allow_pickle=False)
            curves = {name: MapCurves.from_lists(fields[key]) for name, key in CURVE_KEYS.items()}
            return ImageResult.from_json_fields(fields, top_map=top_map, curves=curves)
        except (FileNotFoundError, ValueError, KeyError, TypeError):  # an older format: predict it again
            return None

    def results(self, names: Iterable[str]) -> dict[str, ImageResult]:
        """The stored results among `names`, by name."""
        found = {name: self.read(name) for name in names}
        return {name: result for name, result in found.items() if result is not None}

    def has(self, name: str) -> bool:
        return self._file(name, ".json").is_file()

    def _file(self, name: str, suffix: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"{name!r} is not a photo's file name.")
        return self.path / "results" / f"{name}{suffix}"


def model_key(root: Path, spec: str, weights_path: str | None, options: MapOptions = DEFAULTS, *,
              faithfulness_steps: int | None = None) -> dict[str, Any]:
    """What makes results differ: absolute paths (a relative one means another folder elsewhere) and the files'
    modification times in ns (a model name like "resnet18" has none), and the options' method and size.
    faithfulness_steps, a layer, NWC and a percentile threshold are in the key only when set, so that a key
    without them hashes as before these options existed."""
    key: dict[str, Any] = {"data_root": str(Path(root).resolve()), "model": _file_or_name(spec),
                           "model_mtime_ns": modified_ns(spec),
                           "weights": _file_or_name(weights_path) if weights_path else None,
                           "weights_mtime_ns": modified_ns(weights_path), "method": options.method,
                           "size_px": options.size_px}
    if faithfulness_steps is not None:
        key["faithfulness_steps"] = faithfulness_steps
    if options.layer is not None:
        key["layer"] = options.layer
    if options.clamp_negative_weights:
        key["clamp_negative_weights"] = True
    if options.threshold_standard != heatmap.MAXIMUM:
        key["threshold_standard"] = str(options.threshold_standard)
    return key


def _file_or_name(spec: str) -> str:
    return str(Path(spec).resolve()) if Path(spec).is_file() else spec


