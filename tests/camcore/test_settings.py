"""camcore.settings: every CAM_EXPLORER_* variable read in one place, typed and checked; a bad value is one line
naming the variable and what it must hold (the ICE servers' never quotes the value)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from camcore import settings
from camcore.errors import SettingError
from camcore.settings import ICE_SERVERS_ENV, ice_servers


@pytest.mark.parametrize(("value", "on"), [(None, False), ("", False), ("0", False), ("off", False),
                                           ("1", True), ("true", True), ("YES", True)])
def test_switches_read_on_and_off(value: str | None, on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv(settings.RUN_ADMIN_ENV, raising=False)
    else:
        monkeypatch.setenv(settings.RUN_ADMIN_ENV, value)
    assert settings.run_admin() is on


def test_a_switch_of_another_value_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.LOCK_ENV, "maybe")
    with pytest.raises(SettingError, match=r"^\$CAM_EXPLORER_LOCK_MODEL is 'maybe': it must be 1 \(on\) or 0 "):
        settings.model_locked()
    assert settings.problems() == [f"${settings.LOCK_ENV} is 'maybe': it must be 1 (on) or 0 (off)."]


@pytest.mark.parametrize(("value", "limit_s"), [(None, 30 * 60), ("", 30 * 60), ("2.5", 150), ("0", None)])
def test_the_run_limit_is_minutes_and_zero_is_none(value: str | None, limit_s: float | None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv(settings.RUN_LIMIT_ENV, raising=False)
    else:
        monkeypatch.setenv(settings.RUN_LIMIT_ENV, value)
    assert settings.run_limit_s() == limit_s


@pytest.mark.parametrize("value", ["half an hour", "-1", "nan", "1e9"])
def test_a_run_limit_that_is_not_a_number_in_range_is_one_line(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.RUN_LIMIT_ENV, value)
    with pytest.raises(SettingError) as raised:
        settings.run_limit_s()
    assert str(raised.value) == f"$CAM_EXPLORER_RUN_LIMIT_MIN is {value!r}: it must be a number from 0 to 10080."


def test_folders_and_the_model_come_from_the_environment_or_their_defaults(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (settings.DATA_ENV, settings.RUNS_ENV, settings.CACHE_ENV, settings.MODEL_ENV,
                 settings.WEIGHTS_ENV, settings.ALLOWED_ENV):
        monkeypatch.delenv(name, raising=False)
    assert (settings.data_root(), settings.runs_root()) == (Path("data"), Path("runs"))
    assert settings.cache_root() == Path.home() / ".cache" / "cam-explorer"
    assert settings.operator_model() is None and settings.server_weights() is None
    assert settings.extra_allowed_dirs() == ()
    monkeypatch.setenv(settings.DATA_ENV, str(tmp_path / "pets"))
    monkeypatch.setenv(settings.MODEL_ENV, " resnet50 ")
    monkeypatch.setenv(settings.ALLOWED_ENV, f"{tmp_path / 'a'}:{tmp_path / 'b'}:")
    assert settings.data_root() == tmp_path / "pets" and settings.operator_model() == "resnet50"
    assert settings.extra_allowed_dirs() == (tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize("value", [None, "", "  "])
def test_no_ice_servers_unless_the_operator_sets_them(value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv(ICE_SERVERS_ENV, raising=False)
    else:
        monkeypatch.setenv(ICE_SERVERS_ENV, value)
    assert ice_servers() == []


def test_the_operators_ice_servers_are_passed_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    servers = [{"urls": "stun:stun.school.example:3478"},
               {"urls": ["turn:turn.school.example:3478"], "username": "class", "credential": "s3cret"}]
    monkeypatch.setenv(ICE_SERVERS_ENV, json.dumps(servers))
    assert ice_servers() == servers


@pytest.mark.parametrize(("value", "wrong"), [
    ("stun:host:3478", "is not JSON (Expecting value at character 0)"),
    ('[{"urls": "stun:host:3478"', "is not JSON (Expecting ',' delimiter at character 26)"),
    ('{"urls": "stun:host:3478"}', "is not valid"),
    ('["stun:host:3478"]', "is not valid"),
    ('[{"url": "stun:host:3478", "credential": "s3cret"}]', "is not valid"),
])
def test_ice_servers_of_another_form_are_one_line_naming_the_variable(value: str, wrong: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ICE_SERVERS_ENV, value)
    with pytest.raises(SettingError) as raised:
        ice_servers()
    assert str(raised.value) == (f"$CAM_EXPLORER_ICE_SERVERS {wrong}: it must be a JSON list of {{\"urls\": ...}} "
                                 'objects, e.g. [{"urls": "stun:host:3478"}].')
    assert "s3cret" not in str(raised.value)
