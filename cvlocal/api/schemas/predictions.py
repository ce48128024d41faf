"""Predictions on the wire (serving/predictor.py builds them; the FastAPI routes are documented with these)."""
from __future__ import annotations

from ...store.records import PredictedTag
from .common import Flag, Wire
from .regions import BoundingBox


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
    bounding_box: BoundingBox | None = None   # object detection: where, normalised to the submitted image

    @classmethod
    def of(cls, p: PredictedTag) -> "Prediction":
        box = None if p.bounding_box is None else BoundingBox(**dict(zip(("left", "top", "width", "height"),
                                                                         p.bounding_box)))
        return cls(probability=p.probability, tag_id=p.tag_id, tag_name=p.tag_name, tag_type=p.tag_type,
                   bounding_box=box)


class ImagePrediction(Wire):
    id: str
    project: str
    iteration: str
    created: str
    predictions: list[Prediction]


def detection_predictions(detections, tags) -> list[Prediction]:
    """model/detection's Detections (tag: an index into `tags`, the iteration's (id, name) pairs) as Custom Vision's
    predictions, most probable first."""
    ordered = sorted(detections, key=lambda d: -d.probability)
    return [Prediction(probability=float(d.probability), tag_id=tags[d.tag][0], tag_name=tags[d.tag][1],
                       tag_type="Regular", bounding_box=BoundingBox(left=float(d.left), top=float(d.top),
                                                                    width=float(d.width), height=float(d.height)))
            for d in ordered]
