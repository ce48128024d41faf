"""An iteration's held-out predictions read once, and what they say: the confusion matrix and the suspect
labels, each image named by its dataset file where the image map knows it. Object detection: the confusion of
boxes (confusion.detection); suspect labels are classification's."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from pipeline.insight import confusion as confusions
from pipeline.insight import suspects as ranking
from pipeline.insight.boxes import read_held_out_boxes
from pipeline.insight.confusion import Confusion
from pipeline.insight.heldout import HeldOut, read_held_out
from pipeline.insight.suspects import Suspect
from pipeline.insight.trained import DatasetFile

MAX_LISTED = 1000  # suspects a JSON report lists
# Predictions (held-out images x tags) a `run` reads without being asked by a gate. The SDK (msrest) decodes them
# one model object at a time: one page of 256 grocery images x 81 tags took 5.3 s to decode, and the whole of
# grocery's 2,640 x 81 (214,000) some 2 minutes, on this project's 2 cores under a load average of 8-10. Bigger
# projects read them when a gate needs them, or on demand (`cvops suspects`, `status --confusion`).
RUN_READ_LIMIT = 1_000_000
SUSPECTS_SKIPPED = "object detection: suspect labels are classification's (a tag's probability per image)"


@dataclass
class Insight:
    held_out: HeldOut
    confusion: Confusion
    suspects: list[Suspect]  # another tag more likely than the given one, most suspect first
    trained_images: int | None = None  # images the iteration trained on (Azure may hold out only some)

    @property
    def detection(self) -> bool:
        return self.confusion.kind == "detection"

    def suspects_above(self, min_score: float) -> list[Suspect]:
        return [s for s in self.suspects if s.score > min_score]

    def report(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The run report's `confusion` (full matrix) and `suspects` (up to MAX_LISTED)."""
        confusion = {**self.confusion.to_dict(), **self.held_out.coverage(self.trained_images)}
        if self.detection:
            return confusion, {"skipped": SUSPECTS_SKIPPED}
        suspects = {"score": ranking.SCORE, "count": len(self.suspects),
                    "images": [s.to_dict() for s in self.suspects[:MAX_LISTED]]}
        return confusion, suspects


def namer(keys: Mapping[str, str], files: Mapping[str, DatasetFile]) -> Callable[[str], str]:
    """Image id -> its dataset file's path, else what is known of it."""
    def name(image_id: str) -> str:
        key = keys.get(image_id)
        if key is None:
            return f"image {image_id} (no cvops record)"
        found = files.get(key)
        return found.path if found else f"image {image_id} (not in the dataset now)"
    return name


def trained_images(trainer: Any, project_id: str, iteration: Any) -> int:
    return trainer.get_tagged_image_count(project_id, iteration_id=iteration.id)


def analyse(trainer: Any, project_id: str, iteration: Any, multilabel: bool, threshold: float,
            name: Callable[[str], str], min_score: float = 0.0, every: bool = False,
            trained: int | None = None, kept: Path | None = None, keep: bool = False,
            overlap: float | None = None) -> Insight:
    """`kept`: the folder with copies of held-out predictions (heldout.py); `keep`: copy them there. `overlap`:
    an object detection iteration's overlap (IoU) threshold; its boxes are read and confused, no suspects."""
    trained = trained_images(trainer, project_id, iteration) if trained is None else trained
    if overlap is not None:
        held_out = read_held_out_boxes(trainer, project_id, iteration, kept, keep)
        return Insight(held_out, confusions.detection(held_out.images, held_out.tags, threshold, overlap), [],
                       trained)
    held_out = read_held_out(trainer, project_id, iteration, kept, keep)
    matrix = confusions.classification(held_out.images, held_out.tags, multilabel, threshold)
    return Insight(held_out, matrix, ranking.rank(held_out.images, name, min_score, every), trained)
