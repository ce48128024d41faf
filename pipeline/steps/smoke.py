"""Step 7: quick-test the listed images against the new iteration (before it is published); a wrong top tag
fails the gate."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config import SmokeTest
from pipeline.sdk.images import is_url, quick_test, ranked
from pipeline.steps.gates import GateResult


def smoke_test(trainer: Any, project_id: str, iteration_id: str, tests: list[SmokeTest]) -> list[GateResult]:
    results = []
    for test in tests:
        predictions = ranked(quick_test(trainer, project_id, test.image, iteration_id))
        top = predictions[0] if predictions else None
        name = test.image if is_url(test.image) else Path(test.image).name
        gate = f"smoke test {name}"
        if top is None:
            results.append(GateResult(gate, None, test.min_probability, False, "no prediction came back"))
            continue
        right_tag = (top.tag_name or "").casefold() == test.expect.casefold()  # Custom Vision's tags ignore case
        sure_enough = test.min_probability is None or (top.probability or 0.0) >= test.min_probability
        detail = f"top tag {top.tag_name!r} ({top.probability:.3f}), expected {test.expect!r}"
        if test.min_probability is not None:
            detail += f" at >= {test.min_probability:.3f}"
        results.append(GateResult(gate, top.probability, test.min_probability, right_tag and sure_enough, detail))
    return results
