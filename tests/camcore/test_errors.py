"""Every error camcore raises for the user is a CamcoreError (what pages and the CLI catch to show its one line) and
also the built-in error its kind promises, so that callers catching ValueError, FileNotFoundError, ... keep working."""
from __future__ import annotations

import inspect

import pytest

from camcore import errors
from camcore.train.config import ConfigError

PROMISED = {
    errors.ImageError: ValueError,
    errors.CheckpointError: ValueError,
    errors.WeightsUnavailable: RuntimeError,
    errors.DataNotFound: FileNotFoundError,
    errors.UnsupportedMethod: ValueError,
    errors.ModelUnsupported: ValueError,
    errors.RunExists: FileExistsError,
    errors.RunBusy: RuntimeError,
    errors.PathRefused: PermissionError,
    errors.SettingError: ValueError,
    ConfigError: ValueError,
}
"""Each user-facing error and the built-in one it must also be (ConfigError lives beside TrainConfig)."""


def test_every_error_of_the_module_is_listed_here() -> None:
    """A new error must say which built-in it is, here, before it ships."""
    defined = {cls for _, cls in inspect.getmembers(errors, inspect.isclass)
               if cls.__module__ == errors.__name__ and cls is not errors.CamcoreError}
    assert defined == set(PROMISED) - {ConfigError}


@pytest.mark.parametrize(("error", "builtin"), PROMISED.items(), ids=lambda value: getattr(value, "__name__", ""))
def test_each_error_is_a_camcore_error_and_its_built_in(error: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(errors.CamcoreError, Exception) and not issubclass(errors.CamcoreError, builtin)
    line = "cat.heic: Pillow cannot open this file. Save it as JPEG or PNG."
    with pytest.raises(errors.CamcoreError) as caught:
        raise error(line)
    assert isinstance(caught.value, builtin) and str(caught.value) == line  # the message, nothing added
    with pytest.raises(builtin):
        raise error(line)
