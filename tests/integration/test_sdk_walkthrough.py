"""The seed's walkthrough with the official SDK, unchanged, against the real service over HTTP (one service,
and three replicas behind a balancer: tests/conftest.py)."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from azure.cognitiveservices.vision.customvision.prediction.models import CustomVisionErrorException
from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateBatch, ImageFileCreateEntry

pytestmark = [pytest.mark.also_on_cluster]
FOOD = "c151d5b5-dd07-472a-acc8-15d29dea8518"


def upload_folders(trainer, project, folders: dict[str, Path]) -> dict[str, str]:
    tags = {name: trainer.create_tag(project.id, name) for name in folders}
    entries = [ImageFileCreateEntry(name=f.name, contents=f.read_bytes(), tag_ids=[tags[name].id])
               for name, folder in folders.items() for f in sorted(folder.glob("*.jpg"))]
    for start in range(0, len(entries), 64):
        summary = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries[start:start + 64]))
        assert summary.is_batch_successful, [i.status for i in summary.images]
    return {name: tag.id for name, tag in tags.items()}


def train_to_completion(trainer, project_id: str, timeout: float = 600):
    iteration = trainer.train_project(project_id)
    assert iteration.status == "Training"
    deadline = time.monotonic() + timeout
    while iteration.status == "Training" and time.monotonic() < deadline:
        time.sleep(0.5)
        iteration = trainer.get_iteration(project_id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    return iteration


def walkthrough(trainer, predictor, service, folders: dict[str, Path], tests: dict[str, list[Path]],
                domain_id: str | None = None):
    name = f"Walkthrough {uuid.uuid4().hex[:8]}"
    project = trainer.create_project(name, description="seed walkthrough", domain_id=domain_id,
                                     classification_type="Multiclass")
    upload_folders(trainer, project, folders)
    assert trainer.get_tagged_image_count(project.id) == sum(len(list(f.glob("*.jpg"))) for f in folders.values())
    iteration = train_to_completion(trainer, project.id)

    performance = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.5)
    assert performance.precision >= 0.95 and performance.recall >= 0.95 and performance.average_precision >= 0.95
    assert {p.name for p in performance.per_tag_performance} == set(folders)

    # the portal's "Quick Test", before publishing
    expected, files = next(iter(tests.items()))
    quick = trainer.quick_test_image(project.id, files[0].read_bytes(), iteration_id=iteration.id)
    assert quick.predictions[0].tag_name == expected and quick.iteration == iteration.id

    publish_name = "groceries"
    assert trainer.publish_iteration(project.id, iteration.id, publish_name, service.prediction_resource_id) is True
    for expected, files in tests.items():
        for path in files:
            result = predictor.classify_image(project.id, publish_name, path.read_bytes())
            assert result.predictions[0].tag_name == expected, (path.name, result.predictions[0])
            probabilities = [p.probability for p in result.predictions]
            assert probabilities == sorted(probabilities, reverse=True)

    trainer.unpublish_iteration(project.id, iteration.id)
    with pytest.raises(CustomVisionErrorException) as err:
        predictor.classify_image(project.id, publish_name, next(iter(tests.values()))[0].read_bytes())
    assert err.value.response.status_code == 404
    trainer.delete_project(project.id)
    assert project.id not in {p.id for p in trainer.get_projects()}


@pytest.mark.datasets
def test_grocery_checkout_on_the_fruit_set(trainer, predictor, cvlocal_service, datasets):
    folders = {tag: datasets / "fruit" / tag for tag in ("apple", "banana", "orange")}
    tests = {tag: sorted((datasets / "fruit-extra" / tag).glob("*.jpg")) for tag in folders}
    walkthrough(trainer, predictor, cvlocal_service, folders, tests, domain_id=FOOD)


@pytest.mark.datasets
def test_quickstart_trees_with_a_space_in_the_tag(trainer, predictor, cvlocal_service, datasets):
    trees = datasets / "trees"
    folders = {"Hemlock": trees / "Hemlock", "Japanese Cherry": trees / "Japanese_Cherry"}
    # The quickstart has no separate test photos: the last image of each tag is classified after training.
    tests = {name: sorted(folder.glob("*.jpg"))[-1:] for name, folder in folders.items()}
    walkthrough(trainer, predictor, cvlocal_service, folders, tests)
