"""What each model the app offers costs the server's memory once loaded: the figure behind docs/serving.md's model
cache (the class's default pinned, plus the four models Compare models keeps loaded).

Each model loads in a fresh process (random weights saved to a temp file, as bench_cams does, so nothing is
downloaded; the packaged Lite0 with its real weights): the table gives its parameters' bytes and the process's
resident memory before and after `load_model`, which includes the probe forwards' allocations the allocator keeps.

    .venv/bin/python -m bench.bench_model_memory
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

MODELS = ("lite0", "resnet18", "resnet50", "swin_tiny", "deit_tiny", "convnext_tiny")
_CHILD = """
import json, resource, sys, torch
from camcore.models import loading, pretrained
spec, weights = sys.argv[1], sys.argv[2] or None

def rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20

if weights is not None:
    module, _ = loading._build(pretrained.resolve(spec), num_outputs=1000)
    torch.save(module.state_dict(), weights)
    del module
before = rss_mb()
model = loading.load_model(spec, weights_path=weights, device="cpu")
after = rss_mb()
params = sum(p.numel() * p.element_size() for p in model.module.parameters())
print(json.dumps({"spec": spec, "params_mb": params / 2**20, "before_mb": before, "after_mb": after}))
"""


def measure(spec: str, folder: Path) -> dict:
    weights = "" if spec == "lite0" else str(folder / f"{spec}.pth")
    done = subprocess.run([sys.executable, "-c", _CHILD, spec, weights], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rows = [measure(spec, Path(folder)) for spec in args.models]
    print("| model | parameters (MB) | resident memory added by the load (MB) |")
    print("|---|---|---|")
    for row in rows:
        print(f"| {row['spec']} | {row['params_mb']:.0f} | {row['after_mb'] - row['before_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
