"""An iteration's held-out predictions, one per training image, read with `get_image_performances` (256 a call):
each image with its tags as the iteration trained on it and the probabilities of a model that did not see it.

On the self-hosted service every training image has one (k-fold cross-validation); Azure may return a part of
them (the images it held out). Either way the confusion and the suspects are computed over the images returned,
and `coverage` says how many that is.

A trained iteration's held-out predictions never change, and the SDK decodes them one object at a time (seconds
for a few thousand images), so `run` keeps a copy beside the dataset manifests (`heldout-ITERATION_ID.json`,
probabilities to 6 decimals, read and fresh alike) and a rerun of the same iteration reads that instead of the
service. A copy that cannot be read is ignored and read again from the service. (An object detection
iteration's held-out boxes: boxes.py, in a copy of the same name.) Thumbnail links are not kept:
Azure's are signed and expire, and a report is no place for them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

PAGE = 256  # the SDK's largest `take`
FORMAT = "cvops-heldout/1"
DECIMALS = 6


@dataclass(frozen=True)
class HeldOutImage:
    image_id: str
    given: tuple[str, ...]  # tag names as the iteration trained on them
    probabilities: dict[str, float]  # tag name -> held-out probability

    def probability(self, tag: str) -> float:
        return self.probabilities.get(tag, 0.0)

    @property
    def top(self) -> str | None:
        return max(self.probabilities, key=lambda t: (self.probabilities[t], t)) if self.probabilities else None


@dataclass
class HeldOut:
    iteration_id: str
    iteration_name: str
    images: list[Any]  # HeldOutImage; object detection: boxes.HeldOutBoxes
    tags: list[str]  # every tag of the iteration, sorted

    def coverage(self, trained: int | None) -> dict[str, Any]:
        return {"held_out_images": len(self.images), "trained_images": trained}


def read_held_out(trainer: Any, project_id: str, iteration: Any, kept: Path | None = None,
                  keep: bool = False) -> HeldOut:
    """From the copy in the folder `kept` when there is one, else from the service (and copied there if `keep`)."""
    def from_service() -> HeldOut:
        images = [HeldOutImage(image.id, tuple(sorted(t.tag_name for t in (image.tags or []))),
                               {p.tag_name: round(float(p.probability or 0.0), DECIMALS)
                                for p in (image.predictions or []) if p.tag_name})
                  for image in image_performances(trainer, project_id, iteration)]
        tags = sorted({t for image in images for t in (*image.given, *image.probabilities)})
        return HeldOut(iteration.id, iteration.name, images, tags)

    return kept_or_read(kept, iteration, keep, from_service, _read_copy, _write_copy)


def kept_or_read(kept: Path | None, iteration: Any, keep: bool, from_service: Callable[[], HeldOut],
                 read_copy: Callable[[Path, Any], HeldOut | None],
                 write_copy: Callable[[Path, HeldOut], None]) -> HeldOut:
    """The iteration's copy in `kept` when it reads, else `from_service()`, copied there when `keep`: one flow
    for classification's copies and object detection's (boxes.py), each with its own format."""
    path = copy_path(kept, iteration)
    found = read_copy(path, iteration) if path is not None else None
    if found is not None:
        return found
    held_out = from_service()
    if keep and path is not None:
        write_copy(path, held_out)
    return held_out


def image_performances(trainer: Any, project_id: str, iteration: Any) -> list[Any]:
    """Every held-out image of the iteration, as the SDK decodes them, a page at a time."""
    listed: list[Any] = []
    while True:
        page = trainer.get_image_performances(project_id, iteration.id, take=PAGE, skip=len(listed)) or []
        listed.extend(page)
        if len(page) < PAGE:
            return listed


def copy_path(kept: Path | None, iteration: Any) -> Path | None:
    return Path(kept) / f"heldout-{iteration.id}.json" if kept is not None else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Whole or not at all: a copy is written beside and renamed over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)


def forget_others(kept: Path, live: set[str]) -> None:
    """Delete the copies of iterations that no longer exist."""
    for path in Path(kept).glob("heldout-*.json"):
        if path.stem[len("heldout-"):] not in live:
            path.unlink(missing_ok=True)


def _write_copy(path: Path, held_out: HeldOut) -> None:
    index = {tag: i for i, tag in enumerate(held_out.tags)}
    data = {"format": FORMAT, "iteration_id": held_out.iteration_id, "tags": held_out.tags,
            "images": [[i.image_id, [index[t] for t in i.given],
                        [i.probabilities.get(t) for t in held_out.tags]] for i in held_out.images]}
    write_json(path, data)


def _read_copy(path: Path, iteration: Any) -> HeldOut | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("iteration_id") != iteration.id:
            return None
        tags = [str(t) for t in data["tags"]]
        images = [HeldOutImage(str(image_id), tuple(tags[g] for g in given),
                               {tag: float(p) for tag, p in zip(tags, probabilities, strict=True) if p is not None})
                  for image_id, given, probabilities in data["images"]]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return HeldOut(iteration.id, iteration.name, images, tags)
