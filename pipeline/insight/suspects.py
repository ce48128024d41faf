"""Training images whose label looks wrong, from the held-out predictions (suggestions only: nothing is changed).

An image is a **suspect** when the held-out model (one that did not see it) finds another tag more likely than
the one it was given. Suspects are ranked by confident learning's self-confidence (Northcutt et al., "Confident
Learning", 2021; cleanlab's default ranking), turned round so that higher is more suspect:

    score = 1 - p(given)

where p is the held-out probability and `given` the image's tag (Multilabel: its given tag with the lowest
probability); the suggested tag is the most probable tag it was not given. The score runs from 0 to 1; near 1
the model gives the given tag nothing. Ties: the more probable suggested tag first, then the image id.

Why this score and not the margin p(suggested) - p(given): on grocery `train/` with 5% of the labels flipped,
the self-confidence ranking puts 0.96 of the flipped photos in its top 5%, the margin 0.83 (`make bench`,
suspects). Labels flipped to an unrelated tag get almost nothing for their given tag; the margin also needs
the model to agree on one other tag, and ranks genuinely look-alike products (a grapefruit and a satsuma)
above them."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

from pipeline.insight.heldout import HeldOutImage

SCORE = ("1 - p(given tag), from the held-out predictions (confident learning's self-confidence); a suspect is an "
         "image for which another tag is more likely than the given one")
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

    @property
    def suspect(self) -> bool:
        """Another tag is more likely than the given one."""
        return self.suggested_probability > self.given_probability

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
    return weakest, strongest, 1.0 - image.probability(weakest)


def rank(images: list[HeldOutImage], name: Callable[[str], str] = lambda image_id: f"image {image_id}",
         min_score: float = 0.0, every: bool = False) -> list[Suspect]:
    """The suspects whose score is above `min_score` (`every`: every image, suspect or not), most suspect first."""
    found = []
    for image in images:
        scored = score(image)
        if scored is None:
            continue
        given, suggested, value = scored
        candidate = Suspect(image.image_id, name(image.image_id), given, suggested, value,
                            image.probability(given), image.probability(suggested))
        if every or (candidate.suspect and value > min_score):
            found.append(candidate)
    found.sort(key=lambda s: (-s.score, -s.suggested_probability, s.image_id))
    return found
