"""Object detection: a detector trained on frozen EfficientNet-Lite feature maps (pure ML: no I/O, no store).

The service imports only the names below (the contract: /work/DETECTION-CONTRACT.md, issue 22). How it
trains and what it costs: docs/self-hosted.md, "How detection trains"; the numbers: docs/benchmarks.md.
"""
from .detector import Detector
from .metrics import DetectionPerformance, ImageMatches, TagPerformance, detection_performance
from .training import held_out_detections, train_detector, train_with_held_out
from .types import MAX_DETECTIONS, Box, Detection, DetectorBudgetExceeded, LabelledImage

__all__ = ["Box", "LabelledImage", "Detection", "Detector", "DetectorBudgetExceeded", "MAX_DETECTIONS",
           "train_detector", "held_out_detections", "train_with_held_out", "detection_performance",
           "DetectionPerformance", "TagPerformance", "ImageMatches"]
