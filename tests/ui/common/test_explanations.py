"""ui/common/explanations.py: every cache of results made with a model keys on its files' versions, as the model
cache does."""
from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import numpy as np
import pytest

from camcore.data.images import load_image
from camcore.explain import explain
from camcore.maps import exports
from camcore.maps.heatmap import threshold_standard
from camcore.models.loading import load_model
from camcore.options import MapOptions
from tests.conftest import make_photo
from tests.ui.common.test_models import _save_binary_checkpoint
from ui.common import explanations
from ui.common.models import ModelChoice


def test_results_made_with_a_rewritten_checkpoint_are_made_again(tmp_path: Path) -> None:
    """Every cache of results made with a model (here the explanation and the download's PNG) keys on the model
    files' modification times, as the model cache does: none hands out the old checkpoint's answers."""
    path, buffer = tmp_path / "best.pt", io.BytesIO()
    make_photo(96, 80).save(buffer, format="PNG")
    options = MapOptions(method="cam", top_k=1)
    for seed in (1, 2):
        _save_binary_checkpoint(path, seed=seed)
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + seed * 1_000_000))
        photo = load_image(buffer.getvalue(), name="pet.png")
        expected = explain([photo], load_model(str(path), device="cpu"), MapOptions(method="cam", top_k=1))[0]
        model = ModelChoice.of(str(path), None, "cpu")  # as the sidebar makes it on each rerun
        cached = explanations.explanation(buffer.getvalue(), "pet.png", model, options)
        assert cached.predictions[0].logit == pytest.approx(expected.predictions[0].logit, abs=1e-5)
        png = explanations.overlay_png(buffer.getvalue(), "pet.png", model, options, rank=0, colormap="magma",
                                       threshold_frac=0.2)
        assert png == exports.overlay_png(photo, expected, 0)


def test_switching_the_threshold_standard_reuses_the_model_pass(resnet18_weights: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The explanation cache keys on MapOptions.model_pass: PaS changes boxes and scores, never the map, so
    switching it costs no model pass; any option that changes the map does."""
    calls = []
    real = explanations.explain_batched
    monkeypatch.setattr(explanations, "explain_batched", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    buffer = io.BytesIO()
    make_photo(72, 64, seed=11).save(buffer, format="PNG")
    model, options = ModelChoice.of("resnet18", str(resnet18_weights), "cpu"), MapOptions(top_k=2, size_px=64)
    explanations._explained.clear()
    first = explanations.explanation(buffer.getvalue(), "p.png", model, options)
    again = explanations.explanation(buffer.getvalue(), "p.png", model,
                                     dataclasses.replace(options, threshold_standard=threshold_standard("percentile")))
    assert len(calls) == 1 and np.array_equal(first.maps, again.maps)
    explanations.explanation(buffer.getvalue(), "p.png", model, dataclasses.replace(options, top_k=3))
    assert len(calls) == 2 and calls[1].top_k == 3
