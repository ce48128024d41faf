"""Custom Vision's training types for object detection, as recipes: what the detector reads and how it fits.

Chosen on animals-detection (bench/detection.py, docs/benchmarks.md; what was tried is in bench/notes.md).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backbone import LITE0
from .head import MapInput
from .regions import anchor_shapes


@dataclass(frozen=True)
class Recipe:
    name: str  # Custom Vision's trainingType value
    size: int  # images are squashed to size x size (a multiple of 32)
    inputs: tuple[MapInput, ...]
    grid: int  # anchor centres per side
    scales: tuple[float, ...]  # anchor sizes (sqrt of the area, normalised)
    aspects: tuple[float, ...]  # anchor width / height
    ridge: float  # the ridge penalty of both linear maps, on standardised descriptors
    mirrored: bool  # every training image's mirror image trains too

    @property
    def shapes(self):
        return anchor_shapes(self.scales, self.aspects)

    @property
    def backbones(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.backbone for i in self.inputs))


_SCALES = (0.12, 0.22, 0.38, 0.6, 0.9)
_ASPECTS = (0.6, 1.0, 1.7)

REGULAR = Recipe("Regular", 320, (MapInput(LITE0.name, "s32", 64), MapInput(LITE0.name, "s16x", 64)), 10,
                 _SCALES, _ASPECTS, ridge=100.0, mirrored=True)
ADVANCED = Recipe("Advanced", 384, (MapInput(LITE0.name, "s32", 64), MapInput(LITE0.name, "s16x", 64)), 12,
                  _SCALES, _ASPECTS, ridge=100.0, mirrored=True)
# The bench's plain baseline (no training type uses it): the same head on the classifier's own stride-32 map
# alone, no mirror images.
BASELINE = Recipe("Baseline", 320, (MapInput(LITE0.name, "s32", 64),), 10, _SCALES, _ASPECTS, ridge=100.0,
                  mirrored=False)
RECIPES = {r.name: r for r in (REGULAR, ADVANCED)}


def recipe_for(training_type: str | None) -> Recipe:
    """Custom Vision's `trainingType` ("Regular", the default, or "Advanced"; any letter case)."""
    for name, recipe in RECIPES.items():
        if (training_type or "Regular").lower() == name.lower():
            return recipe
    raise ValueError(f"trainingType must be one of {sorted(RECIPES)}, not {training_type!r}")
