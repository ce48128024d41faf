"""Azure Custom Vision's pricing tiers as numbers: what F0 and S0 allow, and `unlimited` (nothing enforced).

The numbers are Microsoft's "Limits and quotas" page for Custom Vision as of January 2025
(docs/self-hosted.md, "Tiers", has the table and what is not enforced). The store enforces the quotas inside
its transactions (the numbers come in as arguments); the gateway enforces the request rates
(tiers/limiter.py), per key, before any handler runs.
"""
from __future__ import annotations

from dataclasses import dataclass

SOURCE = ("Microsoft Learn, Azure AI Custom Vision, \"Limits and quotas\" "
          "(learn.microsoft.com/azure/ai-services/custom-vision-service/limits-and-quotas), January 2025")


@dataclass(frozen=True)
class Tier:
    name: str
    # ---- quotas (None: no limit)
    projects: int | None
    images_per_project: int | None       # training images, tagged or not
    tags_per_project: int | None
    iterations_per_project: int | None   # iterations kept
    # ---- request rates, calls a second per key (None: not limited)
    train_per_s: float | None            # TrainProject
    other_per_s: float | None            # every other training call
    predict_per_s: float | None          # prediction operations that store the image
    predict_no_store_per_s: float | None  # .../nostore prediction operations

    @property
    def limits_rates(self) -> bool:
        return any(r is not None for r in (self.train_per_s, self.other_per_s, self.predict_per_s,
                                           self.predict_no_store_per_s))

    def summary(self) -> str:
        """One line for the start-up banner."""
        if not self.limits_rates and self.projects is None:
            return (f"{self.name}: no quotas (but {self.iterations_per_project} iterations kept per project) and no "
                    "request rates; --tier F0 or S0 enforces Azure's")
        return (f"{self.name}: Azure's limits, {self.projects} projects, {self.images_per_project:,} images and "
                f"{self.tags_per_project} tags per project, {self.iterations_per_project} iterations kept; per key "
                f"{self.train_per_s:g} TrainProject calls/s, {self.other_per_s:g} other training calls/s, "
                f"{self.predict_per_s:g} predictions/s ({self.predict_no_store_per_s:g}/s without storage)")


TIERS = {
    "F0": Tier("F0", projects=2, images_per_project=5_000, tags_per_project=50, iterations_per_project=20,
               train_per_s=2, other_per_s=10, predict_per_s=2, predict_no_store_per_s=2),
    "S0": Tier("S0", projects=100, images_per_project=100_000, tags_per_project=500, iterations_per_project=20,
               train_per_s=10, other_per_s=10, predict_per_s=10, predict_no_store_per_s=20),
    # No quota and no rate. The iteration limit stays: it is the same on every Azure tier, and clients such as
    # the pipeline's housekeeping (delete the oldest unpublished iteration at 20) count on it.
    "unlimited": Tier("unlimited", projects=None, images_per_project=None, tags_per_project=None,
                      iterations_per_project=20, train_per_s=None, other_per_s=None, predict_per_s=None,
                      predict_no_store_per_s=None),
}
DEFAULT_TIER = "unlimited"


def tier_named(name: str) -> Tier:
    """The tier called `name` (F0, S0 or unlimited, any case); ValueError naming the choices otherwise."""
    for key, tier in TIERS.items():
        if key.lower() == name.strip().lower():
            return tier
    raise ValueError(f"Unknown tier '{name}': use {', '.join(TIERS)}.")
