"""An image named in a config or on the command line is a file or an http(s) URL; each goes to the SDK operation
made for it (`..._url` with a JSON body, or the bytes), and predictions come back highest probability first."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def is_url(image: str) -> bool:
    return image.startswith(("http://", "https://"))


def ranked(prediction: Any) -> list[Any]:
    """The predictions of an ImagePrediction, highest probability first."""
    return sorted(prediction.predictions or [], key=lambda p: p.probability or 0.0, reverse=True)


def quick_test(trainer: Any, project_id: str, image: str, iteration_id: str) -> Any:
    """Quick-test an image against an iteration, storing nothing in the project."""
    if is_url(image):
        return trainer.quick_test_image_url(project_id, image, iteration_id=iteration_id, store=False)
    return trainer.quick_test_image(project_id, Path(image).read_bytes(), iteration_id=iteration_id, store=False)


def classify(predictor: Any, project_id: str, published_name: str, image: str) -> Any:
    """Classify an image with the iteration published under `published_name`."""
    if is_url(image):
        return predictor.classify_image_url(project_id, published_name, image)
    return predictor.classify_image(project_id, published_name, Path(image).read_bytes())
