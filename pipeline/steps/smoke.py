"""Step 7: quick-test the listed images against the new iteration (before it is published). Classification: a
wrong top tag fails the gate. Object detection: the expected object must be detected at the probability (and,
as the test says, overlap a given box by an IoU, or be detected exactly `count` times)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config import SmokeTest
from pipeline.sdk.images import is_url, quick_test, ranked
from pipeline.steps.gates import GateResult


def smoke_test(trainer: Any, project_id: str, iteration_id: str, tests: list[SmokeTest], threshold: float = 0.5,
               detection: bool = False) -> list[GateResult]:
    """`threshold` (evaluation.threshold) is an object's least probability where a test names none."""
    results = []
    for test in tests:
        predictions = ranked(quick_test(trainer, project_id, test.image, iteration_id))
        name = test.image if is_url(test.image) else Path(test.image).name
        gate = f"smoke test {name}"
        if detection:
            results.append(_objects(gate, test, predictions, threshold))
            continue
        top = predictions[0] if predictions else None
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


def _objects(gate: str, test: SmokeTest, predictions: list[Any], threshold: float) -> GateResult:
    floor = test.min_probability if test.min_probability is not None else threshold
    found = [p for p in predictions if (p.tag_name or "").casefold() == test.expect.casefold()
             and (p.probability or 0.0) >= floor]
    what = f"{test.expect!r} at >= {floor:.3f}"
    if test.count is not None:
        return GateResult(f"{gate} count", float(len(found)), float(test.count), len(found) == test.count,
                          f"{len(found)} {what}, expected exactly {test.count}")
    if test.box is not None:
        best = max(((iou(_box(p), test.box), p) for p in found), key=lambda pair: pair[0], default=(0.0, None))
        detail = (f"best {what}: IoU {best[0]:.3f} ({best[1].probability:.3f}) with "
                  f"[{', '.join(f'{v:g}' for v in test.box)}], needs IoU >= {test.min_iou:g}"
                  if best[1] is not None else f"no {what} (needs one overlapping the box by IoU >= {test.min_iou:g})")
        return GateResult(f"{gate} box", best[0], test.min_iou, best[0] >= test.min_iou - 1e-9, detail)
    top = found[0] if found else None
    detail = (f"{len(found)} {what}, the most probable {top.probability:.3f}" if top is not None else
              f"no {what}" + (f" (most probable object: {predictions[0].tag_name!r} "
                              f"{predictions[0].probability:.3f})" if predictions else ""))
    return GateResult(gate, top.probability if top else None, floor, top is not None, detail)


def _box(prediction: Any) -> list[float]:
    box = prediction.bounding_box
    return [box.left, box.top, box.width, box.height]


def iou(a: list[float], b: list[float]) -> float:
    """Intersection over union of two [left, top, width, height] boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0.0, width) * max(0.0, height)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
