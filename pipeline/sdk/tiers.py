"""Azure Custom Vision's pricing tiers and what each allows (Microsoft's "Limits and quotas" page for Custom
Vision, as of January 2025): projects, images and tags a project, iterations kept, and calls a second as Azure
counts them: TrainProject on its own, every other training call together, and predictions (with storage, the
`classify_image` calls `cvops classify` makes) on the prediction resource."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TierName = Literal["F0", "S0"]


@dataclass(frozen=True)
class Tier:
    name: str
    projects: int
    images_per_project: int
    tags_per_project: int
    iterations: int
    train_calls_per_second: float   # TrainProject
    calls_per_second: float         # every other training API call
    predictions_per_second: float   # prediction operations with storage


TIERS: dict[str, Tier] = {
    "F0": Tier("F0", projects=2, images_per_project=5_000, tags_per_project=50, iterations=20,
               train_calls_per_second=2, calls_per_second=10, predictions_per_second=2),
    "S0": Tier("S0", projects=100, images_per_project=100_000, tags_per_project=500, iterations=20,
               train_calls_per_second=10, calls_per_second=10, predictions_per_second=10),
}


def tier(name: str | None) -> Tier | None:
    """The tier called `name` (case-insensitive), or None for an unknown or unset one."""
    return TIERS.get((name or "").strip().upper())
