"""`cvops classify`: the client application's call, each image against the published prediction endpoint.

Images are files, folders (every JPEG/PNG/BMP/GIF in them, subfolders too) or http(s) URLs. A file over the
prediction limits (4 MB, 10,240 px) is scaled down before it is sent, and the result says so. Input the
service cannot use (no such file, not an image, a URL it cannot fetch) is bad input: exit 2. An object detection
project's images are sent to `detect_image` instead (detect.py: boxes in pixels, `--draw`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.commands import detect
from pipeline.config.loader import LoadedConfig
from pipeline.dataset.scan import IMAGE_SUFFIXES
from pipeline.errors import DatasetError
from pipeline.sdk import images as sdk_images
from pipeline.sdk.clients import prediction_client, training_client
from pipeline.sdk.errors import HttpOperationError, error_code, status_of
from pipeline.steps.project import require_project


def expand(targets: list[str]) -> list[str]:
    """Files and URLs as given, folders as the images in them (sorted); missing paths are refused."""
    images, problems = [], []
    for target in targets:
        if sdk_images.is_url(target):
            images.append(target)
            continue
        path = Path(target).expanduser()
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                problems.append(f"{target}: a folder with no JPEG, PNG, BMP or GIF images")
            images += found
        elif path.is_file():
            images.append(str(path))
        else:
            problems.append(f"{target}: no such image file or folder")
    if problems:
        raise DatasetError("; ".join(problems))
    return images


def classify(loaded: LoadedConfig, targets: list[str], project_id: str | None = None,
             threshold: float | None = None, draw: str | None = None) -> list[dict[str, Any]]:
    """Each image's predictions from the published endpoint, highest probability first; an object detection
    project's objects at >= `threshold` (default evaluation.threshold), drawn into the folder `draw` if given."""
    config = loaded.config
    images = expand(targets)
    prepared = {image: _prepared(image) for image in images}  # every file checked before the first call
    if project_id is None:
        project_id = require_project(training_client(config.service), config.project.name).id
    predictor = prediction_client(config.service)
    results, taken = [], set()
    for image in images:
        data, note = prepared[image]
        try:
            if config.detection:
                prediction = detect.detect(predictor, project_id, config.publish.name, image, data)
            else:
                prediction = sdk_images.classify(predictor, project_id, config.publish.name, data or image)
        except HttpOperationError as exc:
            code = error_code(exc) or ""
            if status_of(exc) == 400 and code.startswith("BadRequestImage"):
                message = getattr(getattr(exc, "error", None), "message", "") or code
                raise DatasetError(f"{image}: the service refused the image: {code}: {message}") from None
            raise
        if config.detection:
            results.append(_objects(image, prediction, note, threshold if threshold is not None
                                    else config.evaluation.threshold, draw, taken))
            continue
        ranked = sdk_images.ranked(prediction)
        results.append({"image": image, "top_tag": ranked[0].tag_name if ranked else None,
                        "probability": ranked[0].probability if ranked else None, "resized": note,
                        "predictions": [{"tag": p.tag_name, "probability": p.probability} for p in ranked]})
    return results


def _objects(image: str, prediction: Any, note: str | None, threshold: float, draw: str | None,
             taken: set[str]) -> dict[str, Any]:
    original = None
    if not sdk_images.is_url(image):
        original = Path(image).read_bytes()
    elif draw is not None:
        try:
            original = detect.fetch(image)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{image}: cannot fetch it to draw its boxes: {exc}") from None
    result = detect.objects(image, prediction, original, threshold, note)
    if draw is not None:
        result["drawn"] = str(detect.draw(original, result, Path(draw), taken))
    return result


def _prepared(image: str) -> tuple[bytes | None, str | None]:
    """(bytes to send, note) for a file; (None, None) for a URL (the service fetches it)."""
    if sdk_images.is_url(image):
        return None, None
    data = Path(image).read_bytes()
    try:
        return sdk_images.fit_for_prediction(data)
    except ValueError as exc:
        raise DatasetError(f"{image}: {exc}") from None
