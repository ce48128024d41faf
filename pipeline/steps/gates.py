"""Step 6: the quality bar. Overall and per-tag thresholds (object detection: mAP and per-tag AP at the overlap
threshold), no regression beyond a tolerance against the iteration now published, the worst confused pair of tags
and the count of suspect labels (classification: upper bounds, from the held-out predictions), and the smoke
tests. Each gate says whether it passed and by how much."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from pipeline.config import GatesConfig
from pipeline.insight.analysis import Insight
from pipeline.steps.performance import METRICS, Performance


@dataclass
class GateResult:
    gate: str  # e.g. "precision", "tag banana recall", "no regression of recall", "smoke test apple5.jpg"
    value: float | None
    threshold: float | None
    passed: bool
    detail: str = ""
    at_most: bool = False  # the threshold is an upper bound (confusion, suspects)

    @property
    def margin(self) -> float | None:
        if self.value is None or self.threshold is None:
            return None
        return round((self.threshold - self.value) if self.at_most else (self.value - self.threshold), 6)

    def describe(self) -> str:
        if self.detail:
            return f"{self.gate}: {self.detail}"
        if self.value is None:
            return f"{self.gate}: the service reported no value (needs {self.threshold:.3f})"
        relation = ("<=" if self.passed else ">") if self.at_most else (">=" if self.passed else "<")
        how = f"margin {self.margin:+.3f}" if self.passed else f"short by {-self.margin:.3f}"
        return f"{self.gate}: {self.value:.3f} {relation} {self.threshold:.3f} ({how})"

    def to_dict(self) -> dict:
        return {**asdict(self), "margin": self.margin}


def _check(gate: str, value: float | None, threshold: float) -> GateResult:
    return GateResult(gate, value, threshold, value is not None and value >= threshold - 1e-9)


def evaluate(gates: GatesConfig, candidate: Performance, published: Performance | None) -> list[GateResult]:
    """Every configured gate against the candidate iteration's performance."""
    results = [_check(metric, candidate.overall.get(metric), getattr(gates, metric))
               for metric in (*METRICS, "mean_average_precision") if getattr(gates, metric) is not None]
    for tag, tag_gates in gates.per_tag.items():
        measured = candidate.per_tag.get(tag) or next(  # tag names match whatever their case, as Custom Vision's
            (m for name, m in candidate.per_tag.items() if name.casefold() == tag.casefold()), None)
        for metric in METRICS:
            threshold = getattr(tag_gates, metric)
            if threshold is None:
                continue
            if measured is None:
                results.append(GateResult(f"tag {tag} {metric}", None, threshold, False,
                                          f"the iteration has no tag {tag!r}"))
            else:
                results.append(_check(f"tag {tag} {metric}", measured.get(metric), threshold))
    if gates.no_regression is not None and published is not None and published.iteration_id != candidate.iteration_id:
        for metric in gates.no_regression.metrics:
            before = published.overall.get(metric)
            if before is None:
                continue
            result = _check(f"no regression of {metric}", candidate.overall.get(metric),
                            round(before - gates.no_regression.tolerance, 6))
            result.detail = "" if result.value is None else (
                f"{result.value:.3f} vs {before:.3f} of {published.iteration_name} (tolerance "
                f"{gates.no_regression.tolerance:.3f}; " + (f"margin {result.margin:+.3f})" if result.passed
                                                            else f"short by {-result.margin:.3f})"))
            results.append(result)
    return results


def evaluate_insight(gates: GatesConfig, insight: Insight | None) -> list[GateResult]:
    """The confusion and suspects gates, against the iteration's held-out predictions."""
    results = []
    if gates.confusion is not None:
        worst = insight.confusion.worst if insight is not None else None
        limit = gates.confusion.max_pair_rate
        result = GateResult("worst confused pair", worst.rate if worst else 0.0, limit,
                            worst is None or worst.rate <= limit + 1e-9, at_most=True)
        if insight is None:
            result.value, result.passed, result.detail = None, False, "the iteration has no held-out predictions"
        elif worst is not None:
            result.detail = (f"{worst.given} -> {worst.predicted}: {worst.counted()}, {worst.rate:.3f} of "
                             f"{worst.given} {'<=' if result.passed else '>'} {limit:.3f}")
        results.append(result)
    if gates.suspects is not None:
        limit, above = gates.suspects.max_count, gates.suspects.min_score
        count = len(insight.suspects_above(above)) if insight is not None else None
        result = GateResult(f"suspect labels (score > {above:g})", count, limit,
                            count is not None and count <= limit, at_most=True)
        if count is None:
            result.detail = "the iteration has no held-out predictions"
        else:
            result.detail = (f"{count} {'<=' if result.passed else '>'} {limit} "
                             "(`cvops suspects` lists them)")
        results.append(result)
    return results


def failed(results: list[GateResult]) -> list[GateResult]:
    return [r for r in results if not r.passed]
