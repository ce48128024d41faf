"""Projects made through the official SDK for the transfer tests, and what a project holds, read independently
of the code under test: every image's original bytes downloaded with urllib and hashed here, with its tags."""
from __future__ import annotations

import hashlib
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateBatch, ImageFileCreateEntry
from msrest.authentication import ApiKeyCredentials

from harness.images import COLOURS, photo

SMALL = (32, 24)  # pixels: distinct images, quick to make, send and hash
NEGATIVE = "none of these"


def sdk(service) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(service.endpoint,
                                      ApiKeyCredentials(in_headers={"Training-key": service.training_key}))


def upload(trainer, project_id: str, entries: list[ImageFileCreateEntry]) -> None:
    for start in range(0, len(entries), 64):
        summary = trainer.create_images_from_files(project_id, ImageFileCreateBatch(images=entries[start:start + 64]))
        assert summary.is_batch_successful, [i.status for i in summary.images if i.status != "OK"]


def multiclass(trainer, name: str, per_tag: int, domain: str = "Retail") -> str:
    """A Multiclass project: one tag per colour, `per_tag` generated images each."""
    domain_id = next(d.id for d in trainer.get_domains() if d.name == domain and d.type == "Classification")
    project = trainer.create_project(name, description="generated colours", domain_id=domain_id,
                                     classification_type="Multiclass")
    tags = {colour: trainer.create_tag(project.id, colour, description=f"mostly {colour}").id for colour in COLOURS}
    upload(trainer, project.id, [ImageFileCreateEntry(name=f"{colour}{n}.jpg", contents=photo(colour, n, SMALL),
                                                      tag_ids=[tags[colour]])
                                 for colour in COLOURS for n in range(per_tag)])
    return project.id


def multilabel(trainer, name: str, seed: int = 0) -> str:
    """A Multilabel project: images with one to three colour tags, some with the negative tag, some untagged."""
    project = trainer.create_project(name, description="colour mixes", classification_type="Multilabel")
    tags = {colour: trainer.create_tag(project.id, colour, description=f"has {colour}").id for colour in COLOURS}
    negative = trainer.create_tag(project.id, NEGATIVE, description="no colour of ours", type="Negative").id
    colours = sorted(COLOURS)
    entries = []
    for n in range(60):
        chosen = [colours[(n + k) % 4] for k in range(1 + n % 3)]
        entries.append(ImageFileCreateEntry(name=f"mix{n}.png", contents=photo(chosen[0], seed * 1000 + n, SMALL, "PNG"),
                                            tag_ids=[tags[c] for c in chosen]))
    entries += [ImageFileCreateEntry(name=f"neg{n}.jpg", contents=photo("yellow", seed * 1000 + 500 + n, SMALL),
                                     tag_ids=[negative]) for n in range(6)]
    entries += [ImageFileCreateEntry(name=f"untagged{n}.jpg", contents=photo("blue", seed * 1000 + 700 + n, SMALL))
                for n in range(5)]
    upload(trainer, project.id, entries)
    return project.id


def project_id(trainer, name: str) -> str | None:
    return next((p.id for p in trainer.get_projects() if p.name == name), None)


def images(trainer, pid: str) -> list:
    listed = []
    for operation in (trainer.get_tagged_images, trainer.get_untagged_images):
        skip = 0
        while page := operation(pid, take=256, skip=skip):
            listed += page
            skip += len(page)
    return listed


def contents(trainer, pid: str) -> dict[str, tuple[str, ...]]:
    """{sha256 of the original bytes: sorted tag names} of every image of the project."""
    listed = images(trainer, pid)

    def fetch(image) -> tuple[str, tuple[str, ...]]:
        with urllib.request.urlopen(image.original_image_uri, timeout=30) as response:
            digest = hashlib.sha256(response.read()).hexdigest()
        return digest, tuple(sorted(t.tag_name for t in image.tags or []))

    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(fetch, listed))
    assert len({digest for digest, _ in found}) == len(found), "the same bytes twice in one project"
    return dict(found)


def tags(trainer, pid: str) -> dict[str, tuple[str, str]]:
    return {t.name: (t.description or "", t.type) for t in trainer.get_tags(pid)}


def wait_until(condition, timeout: float = 120, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False
