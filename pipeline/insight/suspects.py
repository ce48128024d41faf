"""Training images whose label looks wrong, from the held-out predictions (suggestions only: nothing is changed).

The score of an image is the margin of confident learning's self-confidence (Northcutt et al., "Confident
Learning", 2021), turned round so that higher is more suspect:

    score = p(suggested) - p(given)

where p is the held-out probability (from a model that did not see the image), `given` is the image's tag
(Multilabel: its given tag with the lowest probability) and `suggested` the most probable tag it was not given.
The score runs from -1 to 1; above 0 another tag is more likely than the one given, near 1 the model is sure of
another tag and gives the given one nothing. Images are ranked by score, highest first (ties: the lower
p(given) first, then the image id)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

from pipeline.insight.heldout import HeldOutImage

SCORE = ("p(suggested tag) - p(given tag), from the held-out predictions (confident learning's self-confidence "
         "margin); above 0 another tag is more likely than the given one")
TOP_SUSPECTS = 20  # listed by a console, a Markdown report and a job summary


@dataclass(frozen=True)
class Suspect:
    image_id: str
    name: str  # the dataset file (relative path), else a description of the image
    given: str
    suggested: str
    score: float
    given_probability: float
    suggested_probability: float
    thumbnail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = round(self.score, 6)
        return data


def score(image: HeldOutImage) -> tuple[str, str, float] | None:
    """(given tag, suggested tag, score), or None for an image with no given tag or no other tag."""
    given = list(image.given)
    others = [t for t in image.probabilities if t not in image.given]
    if not given or not others:
        return None
    weakest = min(given, key=lambda t: (image.probability(t), t))
    strongest = max(others, key=lambda t: (image.probability(t), t))
    return weakest, strongest, image.probability(strongest) - image.probability(weakest)


def rank(images: list[HeldOutImage], name: Callable[[str], str] = lambda image_id: f"image {image_id}",
         min_score: float | None = 0.0) -> list[Suspect]:
    """Images whose score is above `min_score` (None: every image), most suspect first."""
    found = []
    for image in images:
        scored = score(image)
        if scored is None or (min_score is not None and scored[2] <= min_score):
            continue
        given, suggested, value = scored
        found.append(Suspect(image.image_id, name(image.image_id), given, suggested, value,
                             image.probability(given), image.probability(suggested), image.thumbnail))
    found.sort(key=lambda s: (-s.score, s.given_probability, s.image_id))
    return found
