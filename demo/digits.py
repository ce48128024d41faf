"""The demo's dataset: real labelled images that ship inside a dependency (scikit-learn's handwritten digits),
written out as one folder per tag, with a few held-out images the model never sees."""
from __future__ import annotations

import shutil
from pathlib import Path

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TRAIN_PER_TAG = 120
HELD_OUT_PER_TAG = 2


def write_digits(target: Path) -> list[Path]:
    """scikit-learn's bundled 8x8 digits as 64x64 PNGs, dark ink on white; returns the held-out images."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    shutil.rmtree(target, ignore_errors=True)
    held_out = []
    for label, name in enumerate(NAMES):
        indices = np.flatnonzero(digits.target == label)
        for split, chosen in (("train", indices[:TRAIN_PER_TAG]),
                              ("held-out", indices[TRAIN_PER_TAG:TRAIN_PER_TAG + HELD_OUT_PER_TAG])):
            folder = target / split / name if split == "train" else target / split
            folder.mkdir(parents=True, exist_ok=True)
            for n, index in enumerate(chosen):
                pixels = (255 - digits.images[index] * 255 / 16).astype(np.uint8)
                image = Image.fromarray(pixels).resize((64, 64), Image.Resampling.BICUBIC)
                path = folder / (f"{name}-{index}.png" if split == "train" else f"{name}-{n}.png")
                image.save(path)
                if split == "held-out":
                    held_out.append(path)
    return held_out
