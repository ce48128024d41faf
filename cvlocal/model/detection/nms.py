"""Non-maximum suppression exactly as Microsoft's ONNX object-detection sample does it.

Azure-Samples/customvision-export-samples, samples/python/onnx/object_detection/predict.py: each candidate box
keeps its most probable tag; candidates at or under MIN_PROBABILITY are dropped; then, most probable first, a
box is kept and every other box overlapping it with IoU above NMS_IOU (whatever its tag) is dropped, until
MAX_DETECTIONS are kept. The service runs the same rule so that a client of the export and the service agree.
"""
from __future__ import annotations

import numpy as np

from .types import MAX_DETECTIONS, MIN_PROBABILITY, NMS_IOU


def non_max_suppression(boxes: np.ndarray, probabilities: np.ndarray, max_detections: int = MAX_DETECTIONS,
                        min_probability: float = MIN_PROBABILITY, iou_threshold: float = NMS_IOU
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[N,4] (x1, y1, x2, y2) boxes and [N,K] tag probabilities -> (the kept boxes' indices [M], their tags [M],
    their probabilities [M]), most probable first."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    probabilities = np.asarray(probabilities, np.float64)
    if len(boxes) != len(probabilities):
        raise ValueError(f"{len(boxes)} boxes for {len(probabilities)} rows of probabilities")
    if len(boxes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    tags = np.argmax(probabilities, axis=1)
    probs = probabilities[np.arange(len(tags)), tags]
    original = np.flatnonzero(probs > min_probability)
    boxes, tags, probs = boxes[original], tags[original], probs[original].copy()
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    chosen: list[int] = []
    while len(chosen) < min(max_detections, len(boxes)):
        i = int(np.argmax(probs))  # the first of equal maxima, as the sample's np.argmax
        if probs[i] <= min_probability:
            break
        chosen.append(i)
        xy1 = np.maximum(boxes[i, :2], boxes[:, :2])
        xy2 = np.minimum(boxes[i, 2:], boxes[:, 2:])
        overlap = np.prod(np.clip(xy2 - xy1, 0, None), axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = overlap / (areas[i] + areas - overlap)
        probs[iou > iou_threshold] = 0.0
        probs[i] = 0.0
    index = np.array(chosen, np.int64)
    return original[index], tags[index], probabilities[original[index], tags[index]]
