"""Object detection with the official SDK, unchanged, against the real service over HTTP (one service, and three
replicas behind a balancer: tests/conftest.py): create a project on a detection domain, upload photos with their
boxes, train Regular (on General (compact)) and Advanced (on General (compact) [S1]), read performance at IoU
overlap 0.3 and 0.5, publish, detect_image and detect_image_url, quick test, and export to ONNX, each run by a
client written as Microsoft's object detection export sample for its domain is
(Azure-Samples/customvision-export-samples, samples/python/onnx/object_detection/predict.py and
object_detection_s1/predict.py), and to DockerFile.

The photos are the shared `animals-detection` set: 15 training photos a tag (Azure's minimum) of its
`train.txt`, and photos of its `val.txt` to detect. Detection trainings cost about a second an image on 2 cores:
the module trains twice on each kind of service.
"""
from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.prediction.models import CustomVisionErrorException
from azure.cognitiveservices.vision.customvision.training.models import CustomVisionErrorException as TrainingError
from azure.cognitiveservices.vision.customvision.training.models import (ImageFileCreateBatch, ImageFileCreateEntry,
                                                                         PredictionQueryToken, Region)

from harness.exports import exported
from harness.files import serve_files
from harness.rest import DETECTION_TRAINING_S
from harness.voc import LabelledPhoto, per_tag, read_split

from .export_samples import CompactSample, S1Sample, dockerfile_server

pytestmark = [pytest.mark.also_on_cluster, pytest.mark.datasets, pytest.mark.slow]
PER_TAG = 15  # Azure's minimum for object detection
VAL_PER_TAG = 3
PUBLISHED = "animals"
S1 = "7ec2ac80-887b-48a6-8df9-8b1357765430"  # General (compact) [S1], object detection


def iou(a, b) -> float:
    """Intersection over union of two (left, top, width, height) boxes."""
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def box(prediction) -> tuple[float, float, float, float]:
    b = prediction.bounding_box
    return b.left, b.top, b.width, b.height


def train(trainer, project_id: str, **options):
    iteration = trainer.train_project(project_id, **options)
    assert iteration.status == "Training"
    deadline = time.monotonic() + DETECTION_TRAINING_S
    while iteration.status == "Training" and time.monotonic() < deadline:
        time.sleep(1)
        iteration = trainer.get_iteration(project_id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    return iteration


class Walk:
    """The walkthrough's project: created, uploaded, trained Regular then Advanced, Regular published."""

    def __init__(self, trainer, service, datasets):
        self.trainer, self.service = trainer, service
        folder = datasets / "animals-detection"
        self.train_photos = per_tag(read_split(folder, "train"), PER_TAG)
        self.val_photos = per_tag(read_split(folder, "val"), VAL_PER_TAG)
        self.domain = next(d for d in trainer.get_domains()
                           if d.type == "ObjectDetection" and d.name == "General (compact)")
        self.project = trainer.create_project(f"Animals {uuid.uuid4().hex[:8]}", domain_id=self.domain.id)
        self.tags = {name: trainer.create_tag(self.project.id, name).id for name in ("raccoon", "kangaroo")}
        entries = [ImageFileCreateEntry(name=p.path.name, contents=p.path.read_bytes(), regions=[
            Region(tag_id=self.tags[tag], left=left, top=top, width=width, height=height)
            for tag, left, top, width, height in p.boxes]) for p in self.train_photos]
        for start in range(0, len(entries), 64):
            summary = trainer.create_images_from_files(self.project.id,
                                                       ImageFileCreateBatch(images=entries[start:start + 64]))
            assert summary.is_batch_successful, [(i.source_url, i.status) for i in summary.images]
        self.regular = train(trainer, self.project.id, training_type="Regular")
        moved = trainer.get_project(self.project.id)  # the [S1] domain exports the other layout
        moved.settings.domain_id = S1
        assert trainer.update_project(self.project.id, moved).settings.domain_id == S1
        self.advanced = train(trainer, self.project.id, training_type="Advanced", reserved_budget_in_hours=1,
                              force_train=True)
        assert trainer.publish_iteration(self.project.id, self.regular.id, PUBLISHED,
                                         service.prediction_resource_id) is True


@pytest.fixture(scope="module")
def walk(trainer, cvlocal_service, datasets):
    walked = Walk(trainer, cvlocal_service, datasets)
    yield walked
    trainer.unpublish_iteration(walked.project.id, walked.regular.id)
    trainer.delete_project(walked.project.id)


def test_the_project_holds_the_photos_with_their_boxes(walk):
    trainer, pid = walk.trainer, walk.project.id
    assert walk.regular.domain_id == walk.domain.id and walk.advanced.domain_id == S1
    assert walk.domain.enabled and set(walk.domain.exportable_platforms) == {"ONNX", "DockerFile"}
    assert trainer.get_tagged_image_count(pid) == 2 * PER_TAG and trainer.get_untagged_image_count(pid) == 0
    for name, tag_id in walk.tags.items():
        assert trainer.get_tag(pid, tag_id).image_count == PER_TAG
        assert trainer.get_tagged_image_count(pid, tag_ids=[tag_id]) == PER_TAG
    sent = {p.path.name: p for p in walk.train_photos}
    listed = trainer.get_tagged_images(pid, take=256)
    assert len(listed) == 2 * PER_TAG
    by_size = {(p.path.name, len(p.boxes)) for p in sent.values()}
    assert sorted(len(i.regions) for i in listed) == sorted(n for _, n in by_size)
    for image in listed:
        assert {t.tag_name for t in image.tags} == {r.tag_name for r in image.regions}
        for region in image.regions:
            assert region.region_id and region.tag_id == walk.tags[region.tag_name]
            assert 0 <= region.left and region.left + region.width <= 1 + 1e-9


def test_performance_at_two_overlaps_for_both_training_types(walk):
    trainer, pid = walk.trainer, walk.project.id
    for iteration in (walk.regular, walk.advanced):
        assert iteration.exportable and set(iteration.exportable_to) == {"ONNX", "DockerFile"}
        loose = trainer.get_iteration_performance(pid, iteration.id, threshold=0.5, overlap_threshold=0.3)
        strict = trainer.get_iteration_performance(pid, iteration.id, threshold=0.5, overlap_threshold=0.5)
        default = trainer.get_iteration_performance(pid, iteration.id, threshold=0.5)
        assert default.as_dict() == loose.as_dict()  # Azure's default overlap is 0.3
        assert {t.name for t in loose.per_tag_performance} == set(walk.tags)
        # a box that overlaps a labelled one by 0.5 overlaps it by 0.3: the stricter match finds no more
        assert strict.average_precision <= loose.average_precision + 1e-9
        assert strict.recall <= loose.recall + 1e-9
        for tag in loose.per_tag_performance + strict.per_tag_performance:
            assert 0 <= tag.precision <= 1 and 0 <= tag.recall <= 1 and 0 <= tag.average_precision <= 1
        assert loose.average_precision >= 0.5, loose.as_dict()  # held-out mAP of a real detector on 32 photos
        images = trainer.get_image_performances(pid, iteration.id, take=5)
        assert images and all(i.regions and i.predictions for i in images)
        assert all(p.bounding_box is not None for i in images for p in i.predictions)


def _check_detections(result, photo: LabelledPhoto, walk) -> float:
    """The answer's shape; the IoU of its top box with the photo's nearest box of its tag (0 for another tag)."""
    probabilities = [p.probability for p in result.predictions]
    assert probabilities == sorted(probabilities, reverse=True) and result.project == walk.project.id
    for p in result.predictions:
        assert p.tag_id == walk.tags[p.tag_name] and p.tag_type == "Regular"
        left, top, width, height = box(p)
        assert 0 <= left <= 1 and 0 <= top <= 1 and width > 0 and height > 0
        assert left + width <= 1 + 1e-6 and top + height <= 1 + 1e-6
    top = result.predictions[0]
    return max(iou(box(top), b[1:]) if b[0] == top.tag_name else 0.0 for b in photo.boxes)


def test_detect_image_and_detect_image_url_on_the_published_name(walk, predictor):
    pid = walk.project.id
    overlaps = [_check_detections(predictor.detect_image(pid, PUBLISHED, p.path.read_bytes()), p, walk)
                for p in walk.val_photos]
    # a model of 30 photos: most top boxes find their animal (the detector's accuracy: docs/benchmarks.md)
    assert sum(o >= 0.5 for o in overlaps) >= len(overlaps) * 2 / 3, overlaps
    with serve_files({f"/{p.path.name}": p.path.read_bytes() for p in walk.val_photos[:2]}) as files:
        for p in walk.val_photos[:2]:
            _check_detections(predictor.detect_image_url(pid, PUBLISHED, files.url(f"/{p.path.name}")), p, walk)
            _check_detections(predictor.detect_image_url_with_no_store(pid, PUBLISHED, files.url(f"/{p.path.name}")),
                              p, walk)
    stored = predictor.detect_image(pid, PUBLISHED, walk.val_photos[0].path.read_bytes())
    kept = walk.trainer.query_predictions(pid, PredictionQueryToken(max_count=256)).results
    found = next(r for r in kept if r.id == stored.id)
    assert [box(p) for p in found.predictions] == [box(p) for p in stored.predictions]
    nostore = predictor.detect_image_with_no_store(pid, PUBLISHED, walk.val_photos[0].path.read_bytes())
    assert nostore.id not in {r.id for r in walk.trainer.query_predictions(pid, PredictionQueryToken(max_count=256))
                              .results}
    with pytest.raises(CustomVisionErrorException) as refused:  # a detector does not classify
        predictor.classify_image(pid, PUBLISHED, walk.val_photos[0].path.read_bytes())
    assert refused.value.response.status_code == 400 and refused.value.error.code == "BadRequestOperationNotSupported"


def test_quick_test_of_the_advanced_iteration(walk):
    photo = walk.val_photos[-1]
    result = walk.trainer.quick_test_image(walk.project.id, photo.path.read_bytes(), iteration_id=walk.advanced.id)
    assert result.iteration == walk.advanced.id
    _check_detections(result, photo, walk)


def download(walk, iteration, platform: str, flavor: str | None = None) -> zipfile.ZipFile:
    pid, iid = walk.project.id, iteration.id
    export = exported(walk.trainer, pid, iid, platform, flavor)  # built in the background, as on Azure
    assert export.status == "Done", export.as_dict()
    r = httpx.get(export.download_uri, timeout=60)
    assert r.status_code == 200, r.text
    return zipfile.ZipFile(io.BytesIO(r.content))


def served(walk, predictor, iteration, data: bytes):
    """What the service detects with `iteration` (the published Regular one, or Advanced by quick test)."""
    if iteration is walk.regular:
        return predictor.detect_image_with_no_store(walk.project.id, PUBLISHED, data)
    return walk.trainer.quick_test_image(walk.project.id, data, iteration_id=iteration.id, store=False)


@pytest.mark.parametrize("kind", ["Regular", "Advanced"])
def test_the_onnx_export_gives_the_services_boxes_to_its_domains_sample_client(walk, predictor, kind):
    """General (compact) exports the grid its sample decodes; [S1] the boxes its sample reads."""
    iteration = walk.regular if kind == "Regular" else walk.advanced
    package = download(walk, iteration, "ONNX")
    labels = package.read("labels.txt").decode().splitlines()
    assert sorted(labels) == sorted(walk.tags)
    sample = (CompactSample if iteration.domain_id == walk.domain.id else S1Sample)(package.read("model.onnx"))
    for photo in walk.val_photos:
        service = served(walk, predictor, iteration, photo.path.read_bytes())
        outputs = sample.predict(photo.path)
        exported = [(labels[int(c)], float(s), (float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])))
                    for b, c, s in zip(outputs["detected_boxes"][0], outputs["detected_classes"][0],
                                       outputs["detected_scores"][0])]
        # the boxes a client would act on (and always the top one): the faintest differ in rank at NMS ties
        wanted = service.predictions[:1] + [p for p in service.predictions[1:] if p.probability >= 0.05]
        assert wanted, photo.path.name
        for p in wanted:  # each box the service gives, the export gives: same tag, IoU >= 0.9, within 0.01
            match = max((e for e in exported if e[0] == p.tag_name), key=lambda e: iou(e[2], box(p)), default=None)
            assert match is not None, (photo.path.name, p.tag_name)
            # A faint box (under Azure's default 50% threshold) may be its neighbour anchor's after the client's
            # own suppression (seen: 0.165 for the service's 0.154, IoU 0.98): within 0.02 there.
            tolerance = 0.01 if p.probability >= 0.5 else 0.02
            assert iou(match[2], box(p)) >= 0.9 and abs(match[1] - p.probability) <= tolerance, \
                (photo.path.name, p.probability, match)


@pytest.mark.parametrize("kind", ["Regular", "Advanced"])
def test_the_dockerfile_export_answers_detection_json(walk, predictor, tmp_path, kind):
    """The DockerFile package's server (run as a process: no Docker engine here) answers as the service does,
    from either layout."""
    iteration = walk.regular if kind == "Regular" else walk.advanced
    package = download(walk, iteration, "DockerFile", "Linux")
    package.extractall(tmp_path)
    assert json.loads((tmp_path / "app" / "tags.json").read_text())["type"] == "ObjectDetection"
    with dockerfile_server(tmp_path) as base:
        photo = walk.val_photos[0]
        data = photo.path.read_bytes()
        want = served(walk, predictor, iteration, data).predictions[0]
        for path in ("/image", f"/{walk.project.id}/detect/iterations/{PUBLISHED}/image"):
            r = httpx.post(base + path, content=data, headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 200, r.text
            got = r.json()
            assert got["project"] == walk.project.id and got["iteration"] == iteration.id
            top = got["predictions"][0]
            assert top["tagName"] == want.tag_name and top["tagId"] == want.tag_id
            b = top["boundingBox"]
            assert iou((b["left"], b["top"], b["width"], b["height"]), box(want)) >= 0.9
            assert abs(top["probability"] - want.probability) <= 0.01
        r = httpx.post(base + "/image", content=b"not an image")
        assert r.status_code == 400 and r.json()["code"] == "BadRequestImageFormat"


def test_a_detector_exports_to_what_its_domain_lists_and_no_more(walk):
    """ONNX and DockerFile are what a detector exports to here; the domain says so, and TensorFlow is refused with
    Azure's code before anything is recorded."""
    domain = next(d for d in walk.trainer.get_domains() if d.id == walk.regular.domain_id)
    assert sorted(domain.exportable_platforms) == ["DockerFile", "ONNX"]
    assert sorted(walk.trainer.get_iteration(walk.project.id, walk.regular.id).exportable_to) == ["DockerFile", "ONNX"]
    before = len(walk.trainer.get_exports(walk.project.id, walk.regular.id))
    with pytest.raises(TrainingError) as refused:
        walk.trainer.export_iteration(walk.project.id, walk.regular.id, "TensorFlow")
    assert refused.value.error.code == "BadRequestExportValidationFailed"
    assert "object detection" in refused.value.error.message
    assert len(walk.trainer.get_exports(walk.project.id, walk.regular.id)) == before
