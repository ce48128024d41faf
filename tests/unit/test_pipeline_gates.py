"""Gates: overall and per-tag thresholds with margins, no regression against the published iteration."""
from __future__ import annotations

from pipeline.config import GatesConfig
from pipeline.steps.gates import evaluate, failed
from pipeline.steps.performance import Metrics, Performance


def perf(iteration="i2", p=0.95, r=0.9, ap=0.97, banana_recall=0.93):
    return Performance(iteration, iteration.replace("i", "Iteration "), 0.5, Metrics(p, r, ap),
                       {"banana": Metrics(1.0, banana_recall, 1.0), "apple": Metrics(0.9, 0.9, 0.9)})


def test_thresholds_pass_and_fail_with_margins():
    gates = GatesConfig(precision=0.9, recall=0.95, per_tag={"banana": {"recall": 0.95}})
    results = evaluate(gates, perf(), None)
    assert [r.gate for r in results] == ["precision", "recall", "tag banana recall"]
    by_gate = {r.gate: r for r in results}
    assert by_gate["precision"].passed and by_gate["precision"].margin == 0.05
    assert not by_gate["recall"].passed and by_gate["recall"].margin == -0.05
    assert "short by 0.050" in by_gate["recall"].describe()
    assert "0.930 < 0.950 (short by 0.020)" in by_gate["tag banana recall"].describe()
    assert len(failed(results)) == 2


def test_exactly_at_threshold_passes_and_missing_values_fail():
    assert evaluate(GatesConfig(recall=0.9), perf(), None)[0].passed
    results = evaluate(GatesConfig(per_tag={"kiwi": {"precision": 0.5}}), perf(), None)
    assert not results[0].passed and "no tag 'kiwi'" in results[0].describe()
    missing = perf()
    missing.overall.precision = None
    assert not evaluate(GatesConfig(precision=0.1), missing, None)[0].passed


def test_no_regression_against_published_iteration():
    gates = GatesConfig(no_regression={"tolerance": 0.02})
    before = perf("i1", p=0.99, r=0.91, ap=0.97)
    results = {r.gate: r for r in evaluate(gates, perf("i2", p=0.95, r=0.90, ap=0.97), before)}
    assert not results["no regression of precision"].passed
    assert "0.950 vs 0.990 of Iteration 1" in results["no regression of precision"].describe()
    assert "short by 0.020" in results["no regression of precision"].describe()
    assert results["no regression of recall"].passed
    assert results["no regression of average_precision"].passed
    # nothing published yet, or the candidate is the published one: nothing to compare
    assert evaluate(gates, perf(), None) == []
    assert evaluate(gates, perf("i1"), perf("i1")) == []
