"""Predictions on the wire (serving/predictor.py builds them; the FastAPI routes are documented with these)."""
from __future__ import annotations

from .common import Flag, Wire


class QuickTestQuery(Wire):
    """quick_test_image / quick_test_image_url: any trained iteration (the newest when left out)."""
    iteration_id: str | None = None
    store: Flag = True


class PredictionQuery(Wire):
    """classify_image[_url][_with_no_store]: `application` is kept with stored predictions."""
    application: str | None = None


class Prediction(Wire):
    probability: float
    tag_id: str
    tag_name: str
    tag_type: str
    bounding_box: None = None


class ImagePrediction(Wire):
    id: str
    project: str
    iteration: str
    created: str
    predictions: list[Prediction]
