"""`cvops classify`: the client application's call, each image against the published prediction endpoint."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config.loader import LoadedConfig
from pipeline.errors import DatasetError
from pipeline.sdk import images as sdk_images
from pipeline.sdk.clients import prediction_client, training_client
from pipeline.steps.project import require_project


def classify(loaded: LoadedConfig, images: list[str], project_id: str | None = None) -> list[dict[str, Any]]:
    """Each image's predictions from the published endpoint, highest probability first."""
    config = loaded.config
    missing = [image for image in images if not sdk_images.is_url(image) and not Path(image).is_file()]
    if missing:
        raise DatasetError(f"no such image file: {', '.join(missing)}")
    if project_id is None:
        project_id = require_project(training_client(config.service), config.project.name).id
    predictor = prediction_client(config.service)
    results = []
    for image in images:
        ranked = sdk_images.ranked(sdk_images.classify(predictor, project_id, config.publish.name, image))
        results.append({"image": image, "top_tag": ranked[0].tag_name if ranked else None,
                        "probability": ranked[0].probability if ranked else None,
                        "predictions": [{"tag": p.tag_name, "probability": p.probability} for p in ranked]})
    return results
