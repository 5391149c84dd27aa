"""The sample photos that ship with the app (assets/samples/): a heatmap with no upload and no data set."""
from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "assets" / "samples"


def sample_photos() -> list[Path]:
    """The shipped photos (Oxford-IIIT Pet, CC BY-SA 4.0; see their README), sorted by name."""
    return sorted(SAMPLES_DIR.glob("*.jpg"))
