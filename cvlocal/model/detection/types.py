"""What the detector takes and gives: regions as Custom Vision stores them, predicted objects, its limits."""
from __future__ import annotations

from dataclasses import dataclass

# At most this many objects are returned for one image, after non-maximum suppression: the cap Microsoft's
# ONNX object-detection export sample applies (Azure-Samples/customvision-export-samples,
# samples/python/onnx/object_detection/predict.py: MAX_DETECTIONS = 64), so the service and a client of its
# export return the same list.
MAX_DETECTIONS = 64
# Objects at or under this probability are not returned (the same sample's PROB_THRESHOLD).
MIN_PROBABILITY = 0.01
# Non-maximum suppression drops a box whose IoU with a more probable kept box is above this (the sample's).
NMS_IOU = 0.45


@dataclass(frozen=True)
class Box:
    """One region, normalised to the image as stored (EXIF orientation applied), Azure's way."""

    tag: int  # index into the tag list the model was trained with
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class LabelledImage:
    """One training image: its stored bytes and its regions."""

    data: bytes
    boxes: tuple[Box, ...]


@dataclass(frozen=True)
class Detection:
    """One predicted object, normalised to the submitted image, clipped to [0, 1]."""

    tag: int
    probability: float
    left: float
    top: float
    width: float
    height: float


class DetectorBudgetExceeded(RuntimeError):
    """Training ran out of the time it was given (the service turns this into its budget error)."""
