"""The shipped samples' labels, against the table in assets/samples/README.md (breed) and its list of cats."""
from __future__ import annotations

import re

from camcore.data.samples import SAMPLES_DIR, sample_label, sample_photos


def test_each_sample_is_labelled_as_its_readme_says() -> None:
    readme = (SAMPLES_DIR / "README.md").read_text()
    breeds = dict(re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|", readme, flags=re.MULTILINE))
    cats = re.search(r"three cats \(([^)]*)\)", readme).group(1)  # type: ignore[union-attr]
    assert sorted(breeds) == [path.name for path in sample_photos()]
    for name, breed in breeds.items():
        species, key = sample_label(name)  # type: ignore[misc]
        assert key.replace("_", " ").lower() == breed.lower()
        assert species == ("cat" if name.rsplit(".", 1)[0] in cats else "dog")


def test_a_name_that_is_not_a_sample_has_no_label() -> None:
    assert sample_label("../Bengal_3.jpg") is None and sample_label("Bengal_4.jpg") is None
