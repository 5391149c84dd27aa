"""camcore.files.write_atomic: a file appears whole or not at all, and a failure leaves no temp file behind."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from camcore import files
from camcore.files import write_atomic


def test_writes_the_bytes_and_replaces_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    write_atomic(path, b"first")
    write_atomic(path, b"second, longer")
    assert path.read_bytes() == b"second, longer"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


class HalfWriter:
    """A file handle whose write stores half the bytes, then fails as a full disk would."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def __enter__(self) -> HalfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def write(self, data: bytes) -> None:
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("failure", ["write", "replace", "interrupt"])
def test_a_failure_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               failure: str) -> None:
    path = tmp_path / "results.json"
    path.write_bytes(b"old and whole")
    if failure == "write":
        real_fdopen = os.fdopen
        monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
        expected: type[BaseException] = OSError
    else:
        expected = OSError if failure == "replace" else KeyboardInterrupt

        def fail(*_args: object) -> None:
            raise expected("stopped")

        monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(expected):
        write_atomic(path, b"new contents " * 100)
    assert path.read_bytes() == b"old and whole"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_failed_first_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object) -> None:
        raise OSError("stopped")

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError):
        write_atomic(tmp_path / "new.png", b"png bytes")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_an_error_not_a_stray_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "absent" / "out.bin", b"x")
    assert list(tmp_path.iterdir()) == []
