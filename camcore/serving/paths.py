"""The only places the app opens a visitor's paths in: the allowed roots, and the store of uploaded weights.

A page hands every typed path to `allowed_path` before any file is touched. Refusals read the same whether the
path exists or not, so the app cannot be used to probe the server's disk. The CLI is the operator's own tool and
does not call this.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from camcore.data.samples import SAMPLES_DIR
from camcore.errors import CheckpointError, PathRefused
from camcore.files import write_atomic
from camcore.models import checkpoints
from camcore.models.loading import is_checkpoint_spec
from camcore.models.pretrained import PREFERRED_MODEL, TIMM_PREFIX, resolve, torchvision_weights_file
from camcore.settings import ALLOWED_ENV, cache_root, data_root, extra_allowed_dirs, runs_root

UPLOAD_LIMIT_MB = 200
"""Largest weights or checkpoint upload: resnet50's 98 MB and densenet121's 31 MB fit; 200 MB leaves room."""
UPLOADS_KEPT_MB = 2_000
"""Uploaded weights kept on disk at most; the least recently used go first, so that a class uploading checkpoints
all day cannot fill the server's disk."""

_TIMM_NAME = re.compile(rf"{TIMM_PREFIX}[\w.\-]+")


def allowed_roots() -> tuple[Path, ...]:
    """Data, runs, weights caches (torch hub, Hugging Face), the app's cache, the samples and the operator's
    $CAM_EXPLORER_ALLOWED_DIRS, resolved; read at each call, so a changed environment counts at once."""
    from huggingface_hub import constants

    roots = [data_root(), runs_root(), torchvision_weights_file(PREFERRED_MODEL).parent,
             Path(constants.HF_HUB_CACHE), cache_root(), SAMPLES_DIR, *extra_allowed_dirs()]
    return tuple(root.expanduser().resolve() for root in roots)


def allowed_path(typed: str, *, operator_files: Iterable[str | None] = ()) -> Path:
    """The typed path resolved (~, symlinks, ".."), if it lies in an allowed root or is one of `operator_files`
    (the paths the operator preset, e.g. $CAM_EXPLORER_WEIGHTS); else PathRefused, one line for any outside path,
    missing or not."""
    resolved = Path(typed.strip()).expanduser().resolve()
    presets = {Path(file).expanduser().resolve() for file in operator_files if file}
    if resolved in presets or any(resolved.is_relative_to(root) for root in allowed_roots()):
        return resolved
    raise PathRefused(f"{typed.strip()}: this server opens files only in its data, runs and cache folders. Pick "
                      f"one there, upload the file, or ask the operator to list its folder in ${ALLOWED_ENV}.")


def allowed_model(spec: str, *, operator_files: Iterable[str | None] = ()) -> str:
    """A model spec a visitor may load: a library model name as typed, anything else as a checkpoint path that
    allowed_path accepts (so a name cannot smuggle in a path: "timm:x/../../etc" is a path)."""
    if _is_library_name(spec):
        return spec
    return str(allowed_path(spec, operator_files=operator_files))


def _is_library_name(spec: str) -> bool:
    """torchvision's classifier names, the aliases (lite0) and timm:NAME without separators, unless load_model
    would take the spec for a checkpoint (a weights suffix)."""
    import torchvision.models as tvm

    arch = resolve(spec)
    named = bool(_TIMM_NAME.fullmatch(arch)) or arch in tvm.list_models(module=tvm)
    return named and not is_checkpoint_spec(spec)


def store_upload(data: bytes) -> tuple[Path, bool]:
    """(path, is a CAM Explorer checkpoint) of uploaded weights, kept as cache_root()/uploads/SHA256.pt.

    Content-addressed: the same bytes from any session are one file, written once and atomically. Read with
    weights_only=True before it is kept; a refused file (code in a pickle, not PyTorch) is deleted again.
    """
    if len(data) > UPLOAD_LIMIT_MB * 1_000_000:
        raise CheckpointError(f"The upload is over {UPLOAD_LIMIT_MB} MB: ask the operator to place the file in an "
                          "allowed folder instead.")
    folder = cache_root() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()}.pt"
    if path.is_file():
        os.utime(path)  # used again: the last to be evicted
    else:
        write_atomic(path, data)
        _evict_uploads(folder, keep=path)
    try:
        content = checkpoints.load_tensors(path)
    except CheckpointError:
        path.unlink(missing_ok=True)
        raise
    return path, isinstance(content, dict) and content.get("format") == checkpoints.FORMAT


def _evict_uploads(folder: Path, *, keep: Path) -> None:
    """Deletes the least recently used uploads (by modification time) until they fit in UPLOADS_KEPT_MB, never
    `keep`. A session still holding a deleted file's model in memory keeps it; a new load asks for the upload again."""
    sizes: dict[Path, tuple[int, int]] = {}  # upload -> (last used in ns, bytes)
    for upload in folder.glob("*.pt"):
        with contextlib.suppress(FileNotFoundError):  # another session evicting at the same time
            found = upload.stat()
            sizes[upload] = (found.st_mtime_ns, found.st_size)
    total = sum(size for _, size in sizes.values())
    for upload in sorted(sizes, key=lambda found: sizes[found][0]):
        if total <= UPLOADS_KEPT_MB * 1_000_000:
            return
        if upload != keep:
            upload.unlink(missing_ok=True)
            total -= sizes[upload][1]
