"""The shared labelled datasets (fruit, fruit-extra, trees, ...): read in place, never copied into the checkout."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def find_datasets() -> Path | None:
    """$CVOPS_DATASETS, else ../shared/datasets beside the checkout (as `make` sets it); None when absent."""
    for candidate in (os.environ.get("CVOPS_DATASETS"), str(ROOT.parent / "shared" / "datasets")):
        if candidate and (Path(candidate) / "fruit").is_dir():
            return Path(candidate).resolve()
    return None
