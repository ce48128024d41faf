"""Step 5: read an iteration's performance (precision, recall, average precision, overall and per tag) at the
configured probability threshold; an object detection iteration's also at the IoU overlap threshold, where the
iteration's average precision is its mAP (the mean of the tags' average precision), as Azure reports it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

METRICS = ("precision", "recall", "average_precision")
DETECTION_METRICS = ("precision", "recall", "mean_average_precision")


@dataclass
class Metrics:
    precision: float | None = None
    recall: float | None = None
    average_precision: float | None = None

    def get(self, metric: str) -> float | None:
        # An object detection iteration's average_precision is its mAP (Azure's IterationPerformance).
        return self.average_precision if metric == "mean_average_precision" else getattr(self, metric)


@dataclass
class Performance:
    iteration_id: str
    iteration_name: str
    threshold: float
    overall: Metrics
    per_tag: dict[str, Metrics] = field(default_factory=dict)
    overlap_threshold: float | None = None  # object detection: the IoU a detection needs to match a box

    @property
    def detection(self) -> bool:
        return self.overlap_threshold is not None

    def to_dict(self) -> dict:
        overall = asdict(self.overall)
        if self.detection:
            overall = {"precision": overall["precision"], "recall": overall["recall"],
                       "mean_average_precision": overall["average_precision"]}
        return {"iteration_id": self.iteration_id, "iteration": self.iteration_name, "threshold": self.threshold,
                **({"overlap_threshold": self.overlap_threshold} if self.detection else {}),
                "overall": overall, "per_tag": {k: asdict(v) for k, v in self.per_tag.items()}}


def _metrics(source: Any) -> Metrics:
    return Metrics(*(getattr(source, metric, None) for metric in METRICS))


def read_performance(trainer: Any, project_id: str, iteration: Any, threshold: float,
                     overlap_threshold: float | None = None) -> Performance:
    """`overlap_threshold`: an object detection iteration's, at that IoU."""
    extra = {"overlap_threshold": overlap_threshold} if overlap_threshold is not None else {}
    result = trainer.get_iteration_performance(project_id, iteration.id, threshold=threshold, **extra)
    per_tag = {tag.name: _metrics(tag) for tag in (result.per_tag_performance or []) if tag.name}
    return Performance(iteration.id, iteration.name, threshold, _metrics(result), dict(sorted(per_tag.items())),
                       overlap_threshold)
