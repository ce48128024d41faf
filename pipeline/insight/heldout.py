"""An iteration's held-out predictions, one per training image, read with `get_image_performances` (256 a call):
each image with its tags as the iteration trained on it and the probabilities of a model that did not see it.

On the self-hosted service every training image has one (k-fold cross-validation); Azure may return a part of
them (the images it held out). Either way the confusion and the suspects are computed over the images returned,
and `coverage` says how many that is."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAGE = 256  # the SDK's largest `take`


@dataclass(frozen=True)
class HeldOutImage:
    image_id: str
    given: tuple[str, ...]  # tag names as the iteration trained on them
    probabilities: dict[str, float]  # tag name -> held-out probability
    thumbnail: str | None = None

    def probability(self, tag: str) -> float:
        return self.probabilities.get(tag, 0.0)

    @property
    def top(self) -> str | None:
        return max(self.probabilities, key=lambda t: (self.probabilities[t], t)) if self.probabilities else None


@dataclass
class HeldOut:
    iteration_id: str
    iteration_name: str
    images: list[HeldOutImage]
    tags: list[str]  # every tag of the iteration, sorted

    def coverage(self, trained: int | None) -> dict[str, Any]:
        return {"held_out_images": len(self.images), "trained_images": trained}


def read_held_out(trainer: Any, project_id: str, iteration: Any) -> HeldOut:
    listed: list[Any] = []
    while True:
        page = trainer.get_image_performances(project_id, iteration.id, take=PAGE, skip=len(listed)) or []
        listed.extend(page)
        if len(page) < PAGE:
            break
    images = [HeldOutImage(image.id, tuple(sorted(t.tag_name for t in (image.tags or []))),
                           {p.tag_name: float(p.probability or 0.0) for p in (image.predictions or []) if p.tag_name},
                           getattr(image, "thumbnail_uri", None)) for image in listed]
    tags = sorted({t for image in images for t in (*image.given, *image.probabilities)})
    return HeldOut(iteration.id, iteration.name, images, tags)
