"""The Explain page's "Hide a region" (AppTest): the photo with its map in box-select mode, the top 10% / 30%
buttons giving the table camcore.scores.occlusion computes, and a dragged box read back in photo pixels."""
from __future__ import annotations

from pathlib import Path

from camcore.data.images import load_image
from camcore.explain import explain
from camcore.models.loading import LoadedModel
from camcore.options import MapOptions
from camcore.scores.occlusion import hide_top
from tests.app_pages.test_pages import GOOD, explain_page, figures, pets, pick_samples, random_resnet  # noqa: F401  (fixtures)  # noqa: F401  (fixtures)
from ui.explain.occlusion import selected_box


def test_hiding_the_maps_top_share_shows_it_beside_a_random_share(random_resnet: None, pets: Path,  # noqa: F811
                                                                  resnet18: LoadedModel) -> None:
    at = pick_samples(explain_page(), GOOD)
    assert any(expander.label.startswith("Hide a region") for expander in at.expander)
    [selection] = [f for f in figures(at) if f["layout"].get("dragmode") == "select"]
    assert selection["data"][0]["type"] == "image" and not at.table
    at.button(key="explain.occlusion.0.top0.3").click().run()
    assert not at.exception and not at.error
    [table] = at.table
    photo = load_image(pets / GOOD)
    size_px = resnet18.preprocessing.resize_px
    top, random = hide_top(resnet18, photo, explain([photo], resnet18, MapOptions(top_k=5, size_px=size_px))[0], 0.3)
    assert table.value["hidden"].tolist() == ["the map's top 30%", "a random 30%"]
    assert table.value["change"].tolist() == [f"{top.change:+.3f}", f"{random.change:+.3f}"]
    assert table.value["share of the map"].tolist() == [f"{top.map_share:.0%}", f"{random.map_share:.0%}"]


def test_a_dragged_box_is_read_in_photo_pixels_and_clipped() -> None:
    assert selected_box([], (100, 80)) is None
    assert selected_box([{"x": [60.4, 10.2], "y": [5.0, 30.6]}], (100, 80)) == (10, 5, 60, 31)
    assert selected_box([{"x": [-20, 150], "y": [70, 95]}], (100, 80)) == (0, 70, 100, 80)
    assert selected_box([{"x": [3, 3.2], "y": [1, 9]}], (100, 80)) is None  # no width
