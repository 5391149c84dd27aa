"""Where the Oxford-IIIT Pet photos are looked for, and the list of them (torchvision's folder layout)."""
from __future__ import annotations

import os
from pathlib import Path

from camcore.errors import DataNotFound

DATA_ENV = "CAM_EXPLORER_DATA"
"""Environment variable naming the folder that holds oxford-iiit-pet/ (default: ./data)."""


def data_root() -> Path:
    """The data folder: $CAM_EXPLORER_DATA, else `data` next to where the app or CLI runs."""
    return Path(os.environ.get(DATA_ENV) or "data")


def pet_images(root: Path) -> list[Path]:
    """Sorted root/oxford-iiit-pet/images/*.jpg, the layout torchvision's OxfordIIITPet downloads."""
    folder = Path(root) / "oxford-iiit-pet" / "images"
    images = sorted(folder.glob("*.jpg"))
    if not images:
        raise DataNotFound(f"No Oxford-IIIT Pet photos in {folder}: fetch them with torchvision's "
                           f"OxfordIIITPet({str(root)!r}, download=True) or on the Dataset page, "
                           f"or set {DATA_ENV} to the folder that holds oxford-iiit-pet/.")
    return images
