"""ui/common/explanations.py: every cache of results made with a model keys on its files' versions, as the model
cache does."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from camcore.data.images import load_image
from camcore.explain import explain
from camcore.maps import exports
from camcore.models.loading import load_model
from tests.conftest import make_photo
from tests.ui.common.test_models import _save_binary_checkpoint
from ui.common import explanations


def test_results_made_with_a_rewritten_checkpoint_are_made_again(tmp_path: Path) -> None:
    """Every cache of results made with a model (here the explanation and the download's PNG) keys on the model
    files' modification times, as the model cache does: none hands out the old checkpoint's answers."""
    path, buffer = tmp_path / "best.pt", io.BytesIO()
    make_photo(96, 80).save(buffer, format="PNG")
    photo_args = (buffer.getvalue(), "pet.png", str(path), None, "cpu")
    settings = {"method": "cam", "layer": None, "top_k": 1, "size_px": None, "min_side_px": None}
    png_settings = {**settings, "rank": 0, "colormap": "magma", "threshold_frac": 0.2}
    for seed in (1, 2):
        _save_binary_checkpoint(path, seed=seed)
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + seed * 1_000_000))
        photo = load_image(buffer.getvalue(), name="pet.png")
        expected = explain([photo], load_model(str(path), device="cpu"), method="cam", top_k=1)[0]
        cached = explanations.explanation(*photo_args, **settings)
        assert cached.predictions[0].logit == pytest.approx(expected.predictions[0].logit, abs=1e-5)
        assert explanations.overlay_png(*photo_args, **png_settings) == exports.overlay_png(photo, expected, 0)
