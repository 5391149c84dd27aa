"""The cascading randomisation check on the real EfficientNet-Lite0 and a few shared photos: mean Spearman and SSIM
of CAM's and Grad-CAM's maps against the original's after each cumulative stage (the table in docs/maps.md).

    CAM_EXPLORER_DATA=../shared/data python -m bench.sanity_lite0 [--photos 8]
"""
from __future__ import annotations

import argparse

import numpy as np

from camcore import settings
from camcore.data import pets
from camcore.data.images import load_image
from camcore.models.loading import load_model
from camcore.options import MapOptions
from camcore.scores.sanity import cascading_randomisation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=8, help="photos spread over the name-sorted data set")
    args = parser.parse_args()
    root = settings.data_root()
    paths = pets.pet_images(root)
    chosen = [paths[index * len(paths) // args.photos] for index in range(args.photos)]
    model = load_model("lite0", device="cpu")
    print(f"EfficientNet-Lite0, {len(chosen)} photos: mean (Spearman / SSIM) against the original map")
    for method in ("cam", "gradcam"):
        checks = [cascading_randomisation(load_image(path), model, MapOptions(method=method)) for path in chosen]
        spearman = np.nanmean([check.spearman for check in checks], axis=0)
        ssim = np.mean([check.ssim for check in checks], axis=0)
        print(f"\n{method:<8} {'stage randomised down to':<26}{'Spearman':>9}{'SSIM':>7}")
        for stage, rho, similarity in zip(checks[0].stages, spearman, ssim):
            print(f"{'':<8} {stage:<26}{rho:>9.2f}{similarity:>7.2f}")


if __name__ == "__main__":
    main()
