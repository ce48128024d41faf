"""Serving predictions: trained heads load once and stay cached; the backbone sessions are shared.

A head names what it reads (model/head.py): the image's preprocessing and the backbones to run on it (Regular:
Lite0; Advanced: Lite0 and Lite2, about 2.7 times the work), and heads saved before that exist answer exactly
as they did (Lite0's whole output of the short-side crop).

A request's CPU work runs under a gate of one slot per core, plus one: more runs computing at once only
time-slice the same cores, and every one of them would hold its own activations in onnxruntime's arena. A slot
is held for one backbone run (the decode goes with the first): every run is single-threaded, so a slot is a
core's worth of work whatever the model, and an Advanced prediction queues again between its two runs instead
of holding a core 2.7 times as long as a Regular one while Regular requests wait. The extra slot keeps the cores
busy while a request's Python steps (parsing the image header, building the answer) wait for the GIL: with one
slot a core, the cores sat idle under load for want of work (measured in docs/benchmarks.md). Storing the prediction (blob fsync, SQLite commit) waits on the
disk, outside the gate, so other requests compute meanwhile. The image is decoded once: the format and size
checks that decide whether it may be stored come from that same decode.

An object detection iteration's model is a detector (model/detection): `detect` runs it under the same gate, one
slot for the whole detection (its backbone runs and the decode it does itself), and answers with the boxes. A
call for the other project type's model is refused (classify on a detector, detect on a classifier).
"""
from __future__ import annotations

import io
import threading
import uuid

import numpy as np
from PIL import Image

from .. import errors
from ..model.backbone import get_backbone, thread_count
from ..model.detection import MAX_DETECTIONS, Detector
from ..model.head import Head
from ..model.preprocess import decode_and_describe
from ..net.images import FORMATS, OPEN_FORMATS, ImageRejected, check_dimensions, check_prediction_image
from ..store import Store, utcnow
from ..store.records import IterationRecord, PublishedIteration, TagRef
from ..training.domains import is_detection, require_project_type


PREDICTION_CODES = {"ErrorImageSize": "BadRequestImageSizeBytes", "ErrorImageFormat": "BadRequestImageFormat",
                    "ErrorImageDimensions": "BadRequestImageDimensions"}


class Predictor:
    def __init__(self, store: Store, max_image_bytes: int):
        self.store = store
        self.max_image_bytes = max_image_bytes
        # iteration id -> (head or detector, its tags)
        self._models: dict[str, tuple[Head | Detector, tuple[TagRef, ...]]] = {}
        self._lock = threading.Lock()
        self._compute = threading.BoundedSemaphore(thread_count() + 1)

    def published(self, project_id: str, published_name: str) -> PublishedIteration:
        return self.store.published(project_id, published_name)

    def _model(self, iteration: IterationRecord | PublishedIteration, kind: type = Head) -> tuple:
        model = self._models.get(iteration.id)
        if model is None:
            model = (kind.from_bytes(self.store.blobs.get(iteration.model_digest)), self.store.model_tags(iteration.id))
            with self._lock:
                self._models[iteration.id] = model
        return model

    def forget_iteration(self, iteration_id: str) -> None:
        with self._lock:
            self._models.pop(iteration_id, None)

    def forget_project(self, project_id: str) -> None:
        with self._lock:
            self._models.clear()  # rare; models reload on their next prediction

    def classify(self, project_id: str, iteration: IterationRecord | PublishedIteration, data: bytes, store: bool,
                 application: str | None) -> dict:
        """Custom Vision's ImagePrediction (api/schemas/predictions.py documents it), built here as a dict: this
        is the hot path, and it leaves as JSON straight from the dict."""
        require_project_type(iteration.domain_id, False, "Classification (classify_image, classify_image_url)")
        self._check(data)
        predictions, image_format, size = self._classified(iteration, data)
        prediction_id, created = str(uuid.uuid4()), utcnow()
        if store and _storable(image_format, size):
            self._store(prediction_id, project_id, iteration.id, application, data, predictions, created)
        return {"id": prediction_id, "project": project_id, "iteration": iteration.id, "created": created,
                "predictions": predictions}

    def detect(self, project_id: str, iteration: IterationRecord | PublishedIteration, data: bytes, store: bool,
               application: str | None) -> dict:
        """ImagePrediction for an object detection iteration: a box per detected object (normalised to the image
        as submitted, EXIF orientation applied), after non-maximum suppression, most probable first, at most
        MAX_DETECTIONS."""
        require_project_type(iteration.domain_id, True, "Object detection (detect_image, detect_image_url)")
        self._check(data)
        predictions = self._detected(iteration, data)
        prediction_id, created = str(uuid.uuid4()), utcnow()
        if store and _storable(*_describe(data)):
            self._store(prediction_id, project_id, iteration.id, application, data, predictions, created)
        return {"id": prediction_id, "project": project_id, "iteration": iteration.id, "created": created,
                "predictions": predictions}

    def suggest(self, iteration: IterationRecord, data: bytes) -> list[dict]:
        """What the iteration predicts for a training image (checked when it was uploaded, so the prediction
        API's byte limit does not apply): classified or detected, as its type is."""
        if is_detection(iteration.domain_id):
            return self._detected(iteration, data)
        return self._classified(iteration, data)[0]

    def _classified(self, iteration, data: bytes) -> tuple[list[dict], str, tuple[int, int]]:
        head, tags = self._model(iteration)
        probabilities, image_format, size = self._probabilities(head, data)
        order = np.argsort(-probabilities, kind="stable")
        return [{"probability": float(probabilities[i]), "tagId": tags[i][0], "tagName": tags[i][1],
                 "tagType": "Regular", "boundingBox": None} for i in order], image_format, size

    def _detected(self, iteration, data: bytes) -> list[dict]:
        detector, tags = self._model(iteration, Detector)
        found = sorted(self._run(detector.detect, data), key=lambda d: -d.probability)[:MAX_DETECTIONS]
        return [{"probability": float(d.probability), "tagId": tags[d.tag][0], "tagName": tags[d.tag][1],
                 "tagType": "Regular", "boundingBox": {"left": float(d.left), "top": float(d.top),
                                                      "width": float(d.width), "height": float(d.height)}}
                for d in found]

    def region_proposals(self, iteration: IterationRecord, data: bytes) -> list[tuple[float, ...]]:
        """(confidence, left, top, width, height) of the boxes an object detection iteration's detector proposes,
        whatever their tag."""
        detector, _ = self._model(iteration, Detector)
        return self._run(detector.region_proposals, data)

    def _run(self, step, data: bytes):
        """A detector's step on the image, in one gate slot."""
        with self._compute:
            try:
                return step(data)
            except ValueError as exc:
                raise errors.bad_request(f"The image could not be decoded: {exc}", "BadRequestImageFormat")

    def _check(self, data: bytes) -> None:
        try:  # from the header alone, before any decode: the four formats only, no bombs, no 10,241 px
            check_prediction_image(data, self.max_image_bytes)
        except ImageRejected as exc:
            raise errors.bad_request(exc.message, PREDICTION_CODES.get(exc.status, "BadRequestImageFormat"))

    def _probabilities(self, head: Head, data: bytes) -> tuple[np.ndarray, str, tuple[int, int]]:
        """The head's [K] probabilities for the image, one gate slot per backbone run."""
        features, mirrored = {}, {} if head.test_time_flip else None
        for n, backbone in enumerate(head.backbones):
            with self._compute:
                if n == 0:
                    try:
                        pixels, image_format, size = decode_and_describe(data, resize=head.resize)
                    except ValueError as exc:
                        raise errors.bad_request(f"The image could not be decoded: {exc}", "BadRequestImageFormat")
                    batch = pixels[np.newaxis]
                    if mirrored is not None:  # the image and its mirror image in one run
                        batch = np.concatenate([batch, batch[:, :, ::-1]])
                out = get_backbone(backbone).features(batch)
            features[backbone] = out[:1]
            if mirrored is not None:
                mirrored[backbone] = out[1:]
        return head.predict_proba(head.input_from(features, mirrored))[0], image_format, size

    def _store(self, prediction_id, project_id, iteration_id, application, data, predictions, created) -> None:
        digest = self.store.blobs.put(data)
        self.store.store_prediction(prediction_id, project_id, iteration_id, application, digest, predictions,
                                    created)


def _describe(data: bytes) -> tuple[str, tuple[int, int]]:
    """(format, size as encoded) from the header of an image `check_prediction_image` let through."""
    with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as img:
        return img.format or "", img.size


def _storable(image_format: str, size: tuple[int, int]) -> bool:
    """What `check_image` would accept of an image that decoded: an upload format, within the size limits.

    (Its other checks are met already: the byte limit was checked first, and the image decoded whole. Within
    the side limit an image cannot reach Pillow's decompression-bomb pixel count.) Decodable for the model but
    not a storable upload: answer, keep nothing.
    """
    if ("JPEG" if image_format == "MPO" else image_format) not in FORMATS:  # MPO is a JPEG, as there
        return False
    try:
        check_dimensions(*size)
    except ImageRejected:
        return False
    return True
