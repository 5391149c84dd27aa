"""The Oxford-IIIT Pet index, filters, trimaps and head boxes on the tiny generated set, and on ../shared/data."""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torchvision.datasets.oxford_iiit_pet
from PIL import Image
from torchvision.datasets import OxfordIIITPet

from camcore import settings
from camcore.data import pets
from camcore.data.pets import PetRecord
from camcore.errors import DataNotFound
from tests.conftest import TINY_HEAD_BOXES, TINY_PETS, tiny_pet_size, tiny_trimap

BREEDS = {1: "Abyssinian", 2: "american_bulldog", 5: "beagle", 6: "Bengal"}
"""The tiny set's official class ids and breeds, as the data set's README numbers them."""
ROW = {name: index for index, (name, *_) in enumerate(TINY_PETS)}


def expected_records() -> list[PetRecord]:
    return [PetRecord(name=name, split=split, label=class_id - 1, breed=BREEDS[class_id],
                      species=("cat", "dog")[species - 1]) for name, class_id, species, _, split in TINY_PETS]


def test_index_matches_what_the_fixture_wrote(tiny_pets: Path) -> None:
    records = pets.pet_index(tiny_pets)
    assert list(records) == sorted(expected_records(), key=lambda record: record.name)


def test_index_opens_no_image(tiny_pets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the index opened an image")

    monkeypatch.setattr(Image, "open", refuse)
    assert len(pets.pet_index(tiny_pets)) == len(TINY_PETS)


@pytest.mark.parametrize("filters", [
    {}, {"split": "test"}, {"species": "cat"}, {"breed": "beagle"}, {"name_contains": "BULL"},
    {"split": "trainval", "species": "dog"}, {"split": "test", "breed": "Bengal", "name_contains": "_1"},
    {"species": "cat", "breed": "beagle"}, {"name_contains": "  abyssinian_1 "},
])
def test_filters_keep_the_records_matching_every_filter(tiny_pets: Path, filters: dict) -> None:
    def keep(name: str, split: str, breed: str, species: str) -> bool:
        return (filters.get("split", split) == split and filters.get("species", species) == species
                and filters.get("breed", breed) == breed
                and filters.get("name_contains", "").strip().lower() in name.lower())

    kept = pets.filter_records(pets.pet_index(tiny_pets), **filters)
    expected = {record.name for record in expected_records()
                if keep(record.name, record.split, record.breed, record.species)}
    assert {record.name for record in kept} == expected
    assert list(kept) == sorted(kept, key=lambda record: record.name)


def test_filters_reject_an_unknown_split_or_species(tiny_pets: Path) -> None:
    records = pets.pet_index(tiny_pets)
    with pytest.raises(ValueError, match="split"):
        pets.filter_records(records, split="train")
    with pytest.raises(ValueError, match="species"):
        pets.filter_records(records, species="bird")


def test_image_path_trimap_and_pet_mask_are_the_written_files(tiny_pets: Path) -> None:
    for record in pets.pet_index(tiny_pets):
        index = ROW[record.name]
        with Image.open(pets.image_path(tiny_pets, record)) as photo:
            assert photo.size == tiny_pet_size(index)
        trimap = pets.trimap(tiny_pets, record)
        assert trimap.dtype == np.uint8
        np.testing.assert_array_equal(trimap, tiny_trimap(index))
        np.testing.assert_array_equal(pets.pet_mask(tiny_pets, record), tiny_trimap(index) != 2)


def test_head_box_converts_voc_to_exclusive_zero_based(tiny_pets: Path) -> None:
    for record in pets.pet_index(tiny_pets):
        voc = TINY_HEAD_BOXES.get(record.name)
        expected = None if voc is None else (voc[0] - 1, voc[1] - 1, voc[2], voc[3])
        assert pets.head_box(tiny_pets, record) == expected
    whole_photo = pets.head_box(tiny_pets, next(r for r in pets.pet_index(tiny_pets) if r.name == "Bengal_12"))
    assert whole_photo == (0, 0, *tiny_pet_size(ROW["Bengal_12"]))


def test_our_index_agrees_with_torchvisions_own_data_set(tiny_pets: Path) -> None:
    """torchvision's OxfordIIITPet reads the same folder independently: labels, species and trimaps must match."""
    by_name = {record.name: record for record in pets.pet_index(tiny_pets)}
    for split in pets.SPLITS:
        dataset = OxfordIIITPet(tiny_pets, split=split, target_types=("category", "binary-category", "segmentation"))
        assert len(dataset) == sum(row[4] == split for row in TINY_PETS)
        for position, path in enumerate(dataset._images):
            record = by_name[path.stem]
            assert record.split == split
            photo, (category, cat_or_dog, segmentation) = dataset[position]
            assert category == record.label
            assert cat_or_dog == pets.SPECIES.index(record.species)
            with segmentation:
                np.testing.assert_array_equal(np.array(segmentation), pets.trimap(tiny_pets, record))
            assert photo.size == tiny_pet_size(ROW[record.name])


@pytest.mark.parametrize("call", [pets.pet_index, pets.pet_images])
def test_an_empty_folder_says_where_it_looked_in_one_line(tmp_path: Path, call) -> None:
    with pytest.raises(DataNotFound) as caught:
        call(tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "oxford-iiit-pet") in message and settings.DATA_ENV in message


def test_a_missing_trimap_is_data_not_found(tmp_path: Path) -> None:
    record = PetRecord(name="Abyssinian_1", split="test", label=0, breed="Abyssinian", species="cat")
    with pytest.raises(DataNotFound, match="Abyssinian_1.png"):
        pets.trimap(tmp_path, record)
    assert pets.head_box(tmp_path, record) is None


def test_malformed_annotations_name_the_file(tmp_path: Path) -> None:
    annotations = tmp_path / "oxford-iiit-pet" / "annotations"
    (annotations / "xmls").mkdir(parents=True)
    (annotations / "trainval.txt").write_text("Abyssinian_1 1 1 1\nBengal_2 6 3 2\n")
    (annotations / "test.txt").write_text("")
    with pytest.raises(DataNotFound, match=r"trainval.txt:2: expected"):
        pets.pet_index(tmp_path)
    (annotations / "xmls" / "Abyssinian_1.xml").write_text("<annotation><object><bndbox><xmin>3</xmin>")
    record = PetRecord(name="Abyssinian_1", split="trainval", label=0, breed="Abyssinian", species="cat")
    with pytest.raises(DataNotFound, match="Abyssinian_1.xml"):
        pets.head_box(tmp_path, record)


def test_download_offline_says_where_to_put_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets.oxford_iiit_pet, "download_and_extract_archive", offline)
    with pytest.raises(DataNotFound) as caught:
        pets.download(tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "name resolution" in message
    assert "images.tar.gz" in message and "annotations.tar.gz" in message
    assert str(tmp_path / "oxford-iiit-pet") in message


def test_download_reports_the_bytes_on_disk_while_torchvision_fetches(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision's download has no callback: progress comes from the archive growing on disk."""
    def slow_download(url: str, download_root: str, **kwargs) -> None:
        Path(download_root).mkdir(parents=True, exist_ok=True)
        with open(Path(download_root) / Path(url).name, "wb") as archive:
            for _ in range(4):
                archive.write(b"x" * 1000)
                archive.flush()
                time.sleep(pets.PROGRESS_EVERY_S * 1.5)
        raise URLError("connection reset")

    seen: list[int] = []
    monkeypatch.setattr(torchvision.datasets.oxford_iiit_pet, "download_and_extract_archive", slow_download)
    with pytest.raises(DataNotFound, match="connection reset"):
        pets.download(tmp_path, progress=seen.append)
    assert len(seen) >= 3 and seen == sorted(seen) and 0 < seen[0] < seen[-1] <= 4000


def test_download_fetches_nothing_when_the_data_is_there(tiny_pets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fetched(*args, **kwargs):
        raise AssertionError("downloaded although the data set is there")

    monkeypatch.setattr(torchvision.datasets.oxford_iiit_pet, "download_and_extract_archive", fetched)
    pets.download(tiny_pets)


def list_lines(path: Path) -> dict[str, list[int]]:
    """NAME -> [CLASS_ID, SPECIES, BREED_ID] of an official list file."""
    rows = (line.split() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {name: [int(value) for value in values] for name, *values in rows}


@pytest.mark.shared_data
def test_the_mini_data_set_index_matches_its_annotation_files(pets_root: Path) -> None:
    records = pets.pet_index(pets_root.parent)
    official = list_lines(pets_root / "annotations" / "list.txt")
    assert len(records) == 480
    assert Counter(record.split for record in records) == {"trainval": 248, "test": 232}
    assert Counter(record.species for record in records) == {"cat": 307, "dog": 173}
    assert len({record.breed for record in records}) == 32
    assert {record.name for record in records} == set(official)
    for record in records:
        class_id, species, _ = official[record.name]
        assert record.label == class_id - 1
        assert record.species == ("cat" if species == 1 else "dog") == ("cat" if record.name[0].isupper() else "dog")
    bulldog = next(record for record in records if record.name == "american_bulldog_105")
    assert bulldog.breed == "american_bulldog"
    assert {record.label for record in records if record.breed == "Abyssinian"} == {0}


@pytest.mark.shared_data
def test_the_mini_data_set_head_boxes_lie_inside_their_photos(pets_root: Path) -> None:
    root = pets_root.parent
    xmls = {path.stem for path in (pets_root / "annotations" / "xmls").glob("*.xml")}
    boxes = {record.name: (record, pets.head_box(root, record)) for record in pets.pet_index(root)}
    assert len(xmls) == 202
    assert {name for name, (_, box) in boxes.items() if box is not None} == xmls
    for name in xmls:
        record, (x0, y0, x1, y1) = boxes[name]
        with Image.open(pets.image_path(root, record)) as photo:
            width, height = photo.size
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
