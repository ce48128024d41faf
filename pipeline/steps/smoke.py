"""Step 7: quick-test the listed images against the new iteration (before it is published); a wrong top tag
fails the gate."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config import SmokeTest
from pipeline.gates import GateResult


def is_url(image: str) -> bool:
    return image.startswith(("http://", "https://"))


def smoke_test(trainer: Any, project_id: str, iteration_id: str, tests: list[SmokeTest]) -> list[GateResult]:
    results = []
    for test in tests:
        if is_url(test.image):
            prediction = trainer.quick_test_image_url(project_id, test.image, iteration_id=iteration_id, store=False)
        else:
            with open(test.image, "rb") as fh:
                prediction = trainer.quick_test_image(project_id, fh.read(), iteration_id=iteration_id, store=False)
        ranked = sorted(prediction.predictions or [], key=lambda p: p.probability or 0.0, reverse=True)
        top = ranked[0] if ranked else None
        name = test.image if is_url(test.image) else Path(test.image).name
        gate = f"smoke test {name}"
        if top is None:
            results.append(GateResult(gate, None, test.min_probability, False, "no prediction came back"))
            continue
        right_tag = top.tag_name == test.expect
        sure_enough = test.min_probability is None or (top.probability or 0.0) >= test.min_probability
        detail = f"top tag {top.tag_name!r} ({top.probability:.3f}), expected {test.expect!r}"
        if test.min_probability is not None:
            detail += f" at >= {test.min_probability:.3f}"
        results.append(GateResult(gate, top.probability, test.min_probability, right_tag and sure_enough, detail))
    return results
