"""The sample photos that ship with the app (assets/samples/): a heatmap with no upload and no data set."""
from __future__ import annotations

from functools import cache
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "samples"


@cache
def sample_photos() -> tuple[Path, ...]:
    """The shipped photos (Oxford-IIIT Pet, CC BY-SA 4.0; see their README), sorted by name; listed once, as they
    ship with the code (the Explain page asks on every rerun)."""
    return tuple(sorted(SAMPLES_DIR.glob("*.jpg")))


def sample_label(name: str) -> tuple[str, str] | None:
    """(species, breed) of a shipped sample, from its Oxford-IIIT Pet file name ("saint_bernard_87.jpg" ->
    ("dog", "saint_bernard")): the data set names cat breeds with a capital and dog breeds in lower case, so a
    sample's label is known with no data set. None for a name that is not a shipped sample."""
    if name not in {path.name for path in sample_photos()}:
        return None
    breed = name.rsplit("_", 1)[0]
    return ("cat" if breed[0].isupper() else "dog"), breed
