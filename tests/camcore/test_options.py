"""camcore/options.py: MapOptions is one hashable value (the caches' key), checks its numbers, and says what a
model pass depends on and how the options read for another method."""
from __future__ import annotations

import dataclasses

import pytest

from camcore.cams import METHODS
from camcore.maps.heatmap import MAXIMUM, threshold_standard
from camcore.options import DEFAULTS, MapOptions


def test_equal_options_are_one_key_and_any_field_makes_another() -> None:
    first, second = MapOptions(method="gradcam", layer="layer3", top_k=3), MapOptions("gradcam", "layer3", 3)
    assert first == second and hash(first) == hash(second) and len({first, second}) == 1
    changes = {"method": "layercam", "layer": "layer2", "top_k": 4, "classes": (1, 2), "size_px": 512,
               "clamp_negative_weights": True, "threshold_standard": threshold_standard("percentile")}
    assert set(changes) == {field.name for field in dataclasses.fields(MapOptions)}  # a new field gets a line here
    keys = {dataclasses.replace(first, **{name: value}) for name, value in changes.items()}
    assert len(keys) == len(changes) and first not in keys


@pytest.mark.parametrize(("changes", "message"), [({"top_k": 0}, "top_k"), ({"classes": ()}, "classes"),
                                                  ({"size_px": 0}, "size_px"), ({"size_px": -224}, "size_px")])
def test_absurd_numbers_are_one_line_errors(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MapOptions(**changes)


def test_a_model_pass_depends_on_everything_but_the_threshold_standard() -> None:
    pas = MapOptions(method="gradcam", top_k=2, size_px=512, threshold_standard=threshold_standard("percentile"))
    assert pas.model_pass() == dataclasses.replace(pas, threshold_standard=MAXIMUM)
    assert pas.model_pass() == MapOptions(method="gradcam", top_k=2, size_px=512).model_pass()


def test_another_method_keeps_nwc_and_the_layer_only_where_they_apply() -> None:
    cam = MapOptions(top_k=3, clamp_negative_weights=True, size_px=512)
    gradcam = cam.with_method("gradcam")
    assert (gradcam.method, gradcam.clamp_negative_weights) == ("gradcam", False)
    assert (gradcam.top_k, gradcam.size_px) == (3, 512)
    deep = MapOptions(method="gradcam", layer="layer3").with_method("cam")
    assert (deep.method, deep.layer) == ("cam", None)  # CAM maps the head's features only
    assert MapOptions(method="gradcam", layer="layer3").with_method("layercam").layer == "layer3"
    assert [key for key in METHODS if MapOptions(clamp_negative_weights=True).with_method(key)
            .clamp_negative_weights] == [key for key, method in METHODS.items() if method.needs_head]


def test_the_classes_explained_are_the_top_k_or_the_ones_named() -> None:
    assert DEFAULTS.explained == 5 and MapOptions(top_k=2).explained == 2
    assert MapOptions(top_k=5, classes=(3, 1)).explained == 2
