"""Step 5: read an iteration's performance (precision, recall, average precision, overall and per tag) at the
configured probability threshold."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

METRICS = ("precision", "recall", "average_precision")


@dataclass
class Metrics:
    precision: float | None = None
    recall: float | None = None
    average_precision: float | None = None

    def get(self, metric: str) -> float | None:
        return getattr(self, metric)


@dataclass
class Performance:
    iteration_id: str
    iteration_name: str
    threshold: float
    overall: Metrics
    per_tag: dict[str, Metrics] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"iteration_id": self.iteration_id, "iteration": self.iteration_name, "threshold": self.threshold,
                "overall": asdict(self.overall), "per_tag": {k: asdict(v) for k, v in self.per_tag.items()}}


def _metrics(source: Any) -> Metrics:
    return Metrics(*(getattr(source, metric, None) for metric in METRICS))


def read_performance(trainer: Any, project_id: str, iteration: Any, threshold: float) -> Performance:
    result = trainer.get_iteration_performance(project_id, iteration.id, threshold=threshold)
    per_tag = {tag.name: _metrics(tag) for tag in (result.per_tag_performance or []) if tag.name}
    return Performance(iteration.id, iteration.name, threshold, _metrics(result), dict(sorted(per_tag.items())))
