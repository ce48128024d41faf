"""Object detection's held-out confusion on hand-made boxes: the matching (greedy by probability, one box per
detection, at the probability and overlap thresholds, edges included), per-tag TP/FP/FN, the confused pairs, the
copy kept of the held-out boxes, the confusion gate, the report and the console, and the config checks."""
from __future__ import annotations

import pytest

from pipeline.config import GatesConfig
from pipeline.insight.analysis import Insight
from pipeline.insight.boxes import Box, HeldOutBoxes, _read_copy, _write_copy
from pipeline.insight.confusion import detection
from pipeline.insight.heldout import HeldOut
from pipeline.insight.matching import match
from pipeline.render import confusion_lines
from pipeline.report import RunReport, to_markdown
from pipeline.steps.gates import evaluate_insight

TAGS = ["kangaroo", "raccoon"]


def truth(tag: str, left: float, top: float, width: float, height: float) -> Box:
    return Box(tag, left, top, width, height)


def found(tag: str, probability: float, left: float, top: float, width: float, height: float) -> Box:
    return Box(tag, left, top, width, height, probability)


def test_iou_of_boxes_as_fractions_of_the_image():
    a = truth("k", 0.0, 0.0, 0.5, 0.5)
    assert a.iou(a) == 1.0
    assert a.iou(truth("k", 0.0, 0.0, 0.5, 0.25)) == 0.5  # half of it, exactly
    assert a.iou(truth("k", 0.25, 0.0, 0.5, 0.5)) == pytest.approx(1 / 3)
    assert a.iou(truth("k", 0.5, 0.0, 0.5, 0.5)) == 0.0  # touching edges
    assert a.iou(truth("k", 0.1, 0.1, 0.0, 0.0)) == 0.0  # no area


def test_the_most_probable_detection_takes_the_box_and_a_duplicate_is_a_false_positive():
    regions = [truth("kangaroo", 0.1, 0.1, 0.4, 0.4)]
    detections = [found("kangaroo", 0.6, 0.1, 0.1, 0.4, 0.4), found("kangaroo", 0.9, 0.12, 0.1, 0.4, 0.4)]
    m = match(regions, detections, threshold=0.5, overlap=0.5)
    assert m.counted == (1, 0) and m.matched == {1: 0} and m.false_positives() == [0] and m.missed(1) == []
    # each detection takes the box of its tag it overlaps most, among those still free
    regions = [truth("kangaroo", 0.0, 0.0, 0.4, 0.4), truth("kangaroo", 0.3, 0.0, 0.4, 0.4)]
    detections = [found("kangaroo", 0.9, 0.28, 0.0, 0.4, 0.4), found("kangaroo", 0.8, 0.05, 0.0, 0.4, 0.4)]
    assert match(regions, detections, 0.5, 0.3).matched == {0: 1, 1: 0}


def test_the_thresholds_are_inclusive_edges():
    regions = [truth("raccoon", 0.0, 0.0, 0.5, 0.5)]
    half = found("raccoon", 0.5, 0.0, 0.0, 0.5, 0.25)  # IoU exactly 0.5, probability exactly 0.5
    assert match(regions, [half], threshold=0.5, overlap=0.5).matched == {0: 0}
    assert match(regions, [half], threshold=0.5, overlap=0.51).matched == {}  # too little overlap: FP and FN
    under = match(regions, [half], threshold=0.51, overlap=0.5)  # under the threshold: not counted at all
    assert under.counted == () and under.false_positives() == [] and under.missed(1) == [0]


def test_per_tag_tp_fp_fn_and_a_confusion():
    images = [
        # a kangaroo found; a raccoon detected as a kangaroo (A -> B); a stray raccoon box on the background
        HeldOutBoxes("i1", (truth("kangaroo", 0.0, 0.0, 0.3, 0.3), truth("raccoon", 0.5, 0.5, 0.4, 0.4)),
                     (found("kangaroo", 0.9, 0.0, 0.0, 0.3, 0.3), found("kangaroo", 0.8, 0.5, 0.5, 0.4, 0.38),
                      found("raccoon", 0.7, 0.0, 0.6, 0.2, 0.2))),
        # a raccoon found, a second raccoon missed with nothing on it, a low kangaroo box that does not count
        HeldOutBoxes("i2", (truth("raccoon", 0.0, 0.0, 0.4, 0.4), truth("raccoon", 0.6, 0.6, 0.3, 0.3)),
                     (found("raccoon", 0.95, 0.02, 0.0, 0.4, 0.4), found("kangaroo", 0.2, 0.6, 0.6, 0.3, 0.3))),
        HeldOutBoxes("i3", (), ()),  # nothing labelled, nothing found
    ]
    c = detection(images, TAGS, threshold=0.5, overlap=0.5)
    assert c.kind == "detection" and c.images == 3 and c.overlap_threshold == 0.5 and c.threshold == 0.5
    assert {t: (n.boxes, n.tp, n.fp, n.fn) for t, n in c.per_tag.items()} == {
        "kangaroo": (1, 1, 1, 0), "raccoon": (3, 1, 1, 2)}
    assert c.matrix == [[1, 0], [1, 1]]  # [given][predicted]: TP on the diagonal, raccoon -> kangaroo once
    assert [(p.given, p.predicted, p.count, round(p.rate, 3), p.unit) for p in c.pairs] == [
        ("raccoon", "kangaroo", 1, 0.333, "box")]
    assert c.worst.describe() == "raccoon -> kangaroo: 1 box(es), 33.3% of raccoon"
    data = c.to_dict()
    assert data["pairs"] == [{"given": "raccoon", "predicted": "kangaroo", "boxes": 1, "rate": pytest.approx(1 / 3)}]
    assert data["unit"] == "box" and data["boxes"] == 4 and data["per_tag"]["raccoon"] == {
        "boxes": 3, "tp": 1, "fp": 1, "fn": 2}


def test_a_box_is_confused_once_and_a_matched_box_is_never_confused():
    regions = (truth("raccoon", 0.2, 0.2, 0.4, 0.4),)
    # two kangaroo boxes on one missed raccoon: one confusion, two false positives
    twice = HeldOutBoxes("a", regions, (found("kangaroo", 0.9, 0.2, 0.2, 0.4, 0.4),
                                        found("kangaroo", 0.8, 0.21, 0.2, 0.4, 0.4)))
    c = detection([twice], TAGS, 0.5, 0.5)
    assert c.matrix == [[0, 0], [1, 0]] and c.per_tag["kangaroo"].fp == 2 and c.per_tag["raccoon"].fn == 1
    # the raccoon found as well: the kangaroo box on it is a false positive, not a confusion
    both = HeldOutBoxes("b", regions, (*twice.predictions, found("raccoon", 0.6, 0.2, 0.2, 0.4, 0.4)))
    c = detection([both], TAGS, 0.5, 0.5)
    assert c.matrix == [[0, 0], [0, 1]] and c.pairs == [] and c.per_tag["kangaroo"].fp == 2
    # a wrong box under the overlap threshold is background, not a confusion
    apart = HeldOutBoxes("c", regions, (found("kangaroo", 0.9, 0.45, 0.2, 0.4, 0.4),))
    assert detection([apart], TAGS, 0.5, 0.5).pairs == [] and detection([apart], TAGS, 0.5, 0.1).pairs


def test_the_held_out_boxes_are_kept_and_read_back(tmp_path):
    class Iteration:
        id, name = "it-1", "Iteration 1"

    images = [HeldOutBoxes("i1", (truth("raccoon", 0.1, 0.2, 0.3, 0.4),),
                           (found("kangaroo", 0.812345, 0.1, 0.2, 0.3, 0.39),))]
    path = tmp_path / "heldout-it-1.json"
    _write_copy(path, HeldOut("it-1", "Iteration 1", images, TAGS))
    back = _read_copy(path, Iteration)
    assert back.images == images and back.tags == TAGS
    Iteration.id = "it-2"  # another iteration's copy, or a classification copy, is not read
    assert _read_copy(path, Iteration) is None
    path.write_text('{"format": "cvops-heldout-detection/1", "iteration_id": "it-2", "tags": [], "images": [[1]]}')
    assert _read_copy(path, Iteration) is None


def detection_insight(images) -> Insight:
    return Insight(HeldOut("i1", "Iteration 1", images, TAGS), detection(images, TAGS, 0.5, 0.5), [])


CONFUSED = [HeldOutBoxes("a", (truth("raccoon", 0.2, 0.2, 0.4, 0.4), truth("raccoon", 0.0, 0.0, 0.1, 0.1)),
                         (found("kangaroo", 0.9, 0.2, 0.2, 0.4, 0.4), found("raccoon", 0.9, 0.0, 0.0, 0.1, 0.1)))]


def test_the_confusion_gate_reads_boxes():
    gate = evaluate_insight(GatesConfig(confusion={"max_pair_rate": 0.4}), detection_insight(CONFUSED))
    assert len(gate) == 1 and not gate[0].passed and gate[0].value == 0.5
    assert gate[0].describe() == "worst confused pair: raccoon -> kangaroo: 1 box(es), 0.500 of raccoon > 0.400"
    assert evaluate_insight(GatesConfig(confusion={"max_pair_rate": 0.5}), detection_insight(CONFUSED))[0].passed


def test_the_report_and_the_console_show_boxes_and_say_suspects_are_skipped():
    confusion, suspects = detection_insight(CONFUSED).report()
    assert "classification's" in suspects["skipped"] and confusion["held_out_images"] == 1
    report = RunReport("animals.yaml", "Animals", "animals", outcome="published")
    report.confusion, report.suspects = confusion, suspects
    markdown = to_markdown(report)
    assert "### Most confused tags (held out: 1 image(s), 2 labelled box(es))" in markdown
    assert "| raccoon | 2 | 1 | 0 | 1 |" in markdown and "| kangaroo | 0 | 0 | 1 | 0 |" in markdown
    assert "| given tag | predicted as | boxes | share of the given tag |" in markdown
    assert "| raccoon | kangaroo | 1 | 50.0% |" in markdown
    assert "### Suspect labels\n\nNot read: object detection" in markdown
    lines = confusion_lines(confusion, top=10)
    assert "held out: 1 image(s), 2 labelled box(es)" in lines[0] and "1 confused pair(s):" in lines[0]
    assert "  confused\traccoon -> kangaroo\t1 box(es)\t50.0% of raccoon" in lines
    assert "  boxes\traccoon\t2 labelled\tTP 1\tFP 0\tFN 1" in lines
    clean = confusion_lines(detection_insight([]).report()[0], top=10)
    assert "no box was predicted as another tag than its own" in clean[0]
