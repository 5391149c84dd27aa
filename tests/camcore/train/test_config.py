"""TrainConfig: round trip through config.json's dict, and one clear line for what cannot be used."""
from __future__ import annotations

import pytest

from camcore.errors import CamcoreError
from camcore.train.config import ConfigError, TrainConfig


def test_round_trip_and_lesson_defaults() -> None:
    config = TrainConfig(data_root="d", task="breeds", limit=10, freeze_backbone=True)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert (config.image_size_px, config.epochs, config.batch_size, config.lr, config.seed) == (512, 3, 32, 1e-5, 43052)
    assert config.num_outputs == 37 and TrainConfig(data_root="d").num_outputs == 1


@pytest.mark.parametrize(("change", "words"), [({"surprise": 1}, "unknown keys surprise"),
                                               ({"data_root": None}, "missing keys data_root")])
def test_unknown_or_missing_keys_are_named(change, words) -> None:
    data = {**TrainConfig(data_root="d").to_dict(), **change}
    data = {key: value for key, value in data.items() if value is not None}
    with pytest.raises(ConfigError, match=words):
        TrainConfig.from_dict(data)


@pytest.mark.parametrize("bad", [{"task": "birds"}, {"epochs": 0}, {"lr": 0.0}, {"limit": 0}, {"device": "tpu"},
                                 {"image_size_px": 16}, {"probes": -1}])
def test_bad_values_are_camcore_errors(bad) -> None:
    with pytest.raises(CamcoreError):
        TrainConfig(data_root="d", **bad)
