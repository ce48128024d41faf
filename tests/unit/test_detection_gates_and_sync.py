"""Object detection's pure parts of `run`: what a region difference is and how it is described, the mass-delete
limit on regions, mAP and per-tag AP gates, smoke tests that expect objects, and the report's detection table."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from pipeline.config import GatesConfig, SmokeTest
from pipeline.dataset.regions import Region
from pipeline.errors import MassDeleteRefused
from pipeline.report import RunReport, to_markdown
from pipeline.steps.gates import evaluate
from pipeline.steps.performance import Metrics, Performance
from pipeline.steps.regions import ProjectRegion, change, check_delete_limit, delete_limit
from pipeline.steps.smoke import _objects, iou


def have(*boxes):
    return [ProjectRegion(f"r{i}", tag, *box) for i, (tag, box) in enumerate(boxes)]


def want(*boxes):
    return tuple(Region(tag, *box) for tag, box in boxes)


A, B, C = (0.1, 0.1, 0.2, 0.2), (0.5, 0.5, 0.3, 0.3), (0.6, 0.1, 0.1, 0.1)


def test_the_same_boxes_to_a_millionth_are_no_change():
    nudged = (A[0] + 4e-7, A[1], A[2] - 4e-7, A[3])
    assert change("a.jpg", "i", want(("cat", nudged), ("dog", B)), have(("dog", B), ("Cat", A))) is None


def test_each_kind_of_change_is_named_and_costs_one_deletion_and_one_creation_at_most():
    moved = change("a.jpg", "i", want(("cat", (0.12, 0.1, 0.2, 0.2))), have(("cat", A)))
    assert moved.describe() == "a.jpg: 1 box moved" and (len(moved.delete), len(moved.create)) == (1, 1)
    assert moved.removed == 0
    relabelled = change("a.jpg", "i", want(("dog", A)), have(("cat", A)))
    assert relabelled.describe() == "a.jpg: 1 box relabelled"
    mixed = change("a.jpg", "i", want(("cat", A), ("dog", C)), have(("cat", A), ("cat", B), ("dog", B)))
    assert mixed.describe() == "a.jpg: 1 box moved, 1 box removed" and mixed.removed == 1
    added = change("a.jpg", "i", want(("cat", A), ("cat", B), ("cat", C)), have(("cat", A)))
    assert added.describe() == "a.jpg: 2 boxes added" and [r.id for r in added.delete] == []


def test_removing_more_regions_than_the_limit_is_refused_unless_allowed():
    assert delete_limit(None, 50) == 10 and delete_limit(None, 400) == 40 and delete_limit(3, 400) == 3
    changes = [change(f"{n}.jpg", str(n), want(), have(("cat", A), ("cat", B))) for n in range(6)]
    check_delete_limit(changes, 12, False, 60)
    with pytest.raises(MassDeleteRefused, match="remove 12 of the project's 60 regions .* more than 11"):
        check_delete_limit(changes, 11, False, 60)
    check_delete_limit(changes, 11, True, 60)
    moves = [change(f"{n}.jpg", str(n), want(("cat", C)), have(("cat", A))) for n in range(30)]
    check_delete_limit(moves, 10, False, 30)  # moved boxes are updates, not losses


def detection(iteration="i2", mean_ap=0.8, kangaroo_ap=0.7):
    return Performance(iteration, iteration.replace("i", "Iteration "), 0.5, Metrics(0.75, 0.7, mean_ap),
                       {"kangaroo": Metrics(0.7, 0.6, kangaroo_ap), "raccoon": Metrics(0.8, 0.8, 0.9)}, 0.5)


def test_map_and_per_tag_ap_gates_and_no_regression_of_the_map():
    gates = GatesConfig(mean_average_precision=0.75, per_tag={"Kangaroo": {"average_precision": 0.75}},
                        no_regression={"tolerance": 0.02, "metrics": ["mean_average_precision"]})
    results = {r.gate: r for r in evaluate(gates, detection(), detection("i1", mean_ap=0.85))}
    assert results["mean_average_precision"].passed and results["mean_average_precision"].margin == 0.05
    assert not results["tag Kangaroo average_precision"].passed
    regression = results["no regression of mean_average_precision"]
    assert not regression.passed and "0.800 vs 0.850 of Iteration 1" in regression.describe()
    assert detection().to_dict()["overall"] == {"precision": 0.75, "recall": 0.7, "mean_average_precision": 0.8}


def predicted(tag, probability, box):
    return SimpleNamespace(tag_name=tag, probability=probability,
                           bounding_box=SimpleNamespace(left=box[0], top=box[1], width=box[2], height=box[3]))


def test_smoke_tests_expect_objects_a_box_or_a_count():
    found = [predicted("apple", 0.9, (0.1, 0.1, 0.3, 0.3)), predicted("apple", 0.6, (0.5, 0.5, 0.2, 0.2)),
             predicted("apple", 0.3, (0.7, 0.1, 0.2, 0.2)), predicted("pear", 0.8, (0.0, 0.6, 0.3, 0.3))]
    assert iou([0, 0, 0.5, 0.5], [0.25, 0, 0.5, 0.5]) == pytest.approx(1 / 3)
    anything = _objects("smoke", SmokeTest(image="x.jpg", expect="Apple"), found, 0.5)
    assert anything.passed and anything.value == 0.9 and "2 'Apple' at >= 0.500" in anything.detail
    assert not _objects("smoke", SmokeTest(image="x.jpg", expect="plum"), found, 0.5).passed
    boxed = _objects("smoke", SmokeTest(image="x.jpg", expect="apple", box=[0.52, 0.5, 0.2, 0.2]), found, 0.5)
    assert boxed.passed and boxed.value == pytest.approx(0.18 / 0.22, abs=1e-3)
    missed = _objects("smoke", SmokeTest(image="x.jpg", expect="apple", box=[0.7, 0.1, 0.2, 0.2]), found, 0.5)
    assert not missed.passed and "needs IoU >= 0.5" in missed.detail  # that apple is under the threshold
    assert _objects("smoke", SmokeTest(image="x.jpg", expect="apple", count=2), found, 0.5).passed
    three = _objects("smoke", SmokeTest(image="x.jpg", expect="apple", count=3, min_probability=0.2), found, 0.5)
    assert three.passed and three.detail == "3 'apple' at >= 0.200, expected exactly 3"
    assert not _objects("smoke", SmokeTest(image="x.jpg", expect="apple", count=3), found, 0.5).passed
    with pytest.raises(ValueError, match="normalised"):
        SmokeTest(image="x.jpg", expect="apple", box=[0.5, 0.5, 0.6, 0.2])


def test_the_report_shows_detection_metrics_per_tag():
    report = RunReport("c.yaml", "Animals", "animals", performance=detection().to_dict())
    markdown = to_markdown(report)
    assert "### Performance of Iteration 2 at threshold 0.5, overlap (IoU) 0.5" in markdown
    assert "| **overall** (AP: **mAP**) | 75.0% | 70.0% | 80.0% |" in markdown
    assert "| kangaroo | 70.0% | 60.0% | 70.0% |" in markdown
