"""Know your data, the pure parts: dataset versions (manifests, the description lines), the diff, the confusion
matrix, the suspect ranking, their gates and how the report shows them with 81 tags."""
from __future__ import annotations

import json
import random

import pytest

from pipeline.config import GatesConfig
from pipeline.errors import DatasetError
from pipeline.insight import manifest as manifests
from pipeline.insight.analysis import Insight
from pipeline.insight.confusion import TOP_PAIRS, classification
from pipeline.insight.diff import compare
from pipeline.insight.heldout import HeldOut, HeldOutImage
from pipeline.insight.manifest import DatasetManifest, ManifestImage, Region
from pipeline.insight.recorded import recorded, with_version
from pipeline.insight.suspects import rank, score
from pipeline.report import RunReport, to_markdown
from pipeline.steps.gates import evaluate_insight
from pipeline.steps.hold import Hold, holds, with_hold


def image(key: str, *tags: str, path: str | None = None, regions=()) -> ManifestImage:
    return ManifestImage(key, tuple(tags), "ab" * 32, path or f"{tags[0] if tags else 'none'}/{key}.jpg",
                         tuple(regions))


FRUIT = [image("k1", "apple"), image("k2", "apple"), image("k3", "banana"), image("k4", "orange")]


# ---------------------------------------------------------------- versions
def test_the_version_is_the_content_and_tags_whatever_the_order_paths_or_tag_order():
    v = manifests.version_of(FRUIT)
    assert len(v) == 12 and int(v, 16) >= 0
    assert manifests.version_of(list(reversed(FRUIT))) == v
    renamed = [ManifestImage(i.key, i.tags, i.sha256, "elsewhere/" + i.key) for i in FRUIT]
    assert manifests.version_of(renamed) == v
    two = [image("k1", "a", "b")]
    assert manifests.version_of(two) == manifests.version_of([image("k1", "b", "a")])
    retagged = FRUIT[:3] + [image("k4", "apple")]
    assert manifests.version_of(retagged) != v
    assert manifests.version_of(FRUIT[:3]) != v
    boxed = FRUIT[:3] + [image("k4", "orange", regions=[Region("orange", 0.1, 0.2, 0.3, 0.4)])]
    moved = FRUIT[:3] + [image("k4", "orange", regions=[Region("orange", 0.1, 0.2, 0.3, 0.5)])]
    assert len({v, manifests.version_of(boxed), manifests.version_of(moved)}) == 3


def test_a_manifest_is_kept_by_its_version_and_read_back_checked(tmp_path):
    kept = DatasetManifest(FRUIT, project={"name": "P", "id": "p1"}, iteration={"name": "Iteration 1", "id": "i1"})
    path = manifests.write(kept, tmp_path)
    assert path.name == f"{kept.version}.json"
    back = manifests.read(path)
    assert back.version == kept.version and back.project == {"name": "P", "id": "p1"}
    assert {i.path for i in back.images} == {i.path for i in FRUIT}
    # content-addressed: a second iteration on the same data keeps the first file as it is
    again = DatasetManifest(FRUIT, project={"name": "P", "id": "p1"}, iteration={"name": "Iteration 2", "id": "i2"})
    manifests.write(again, tmp_path)
    assert json.loads(path.read_text())["iteration"]["name"] == "Iteration 1"


@pytest.mark.parametrize("edit, says", [
    (lambda d: d["images"][0].update(tags=["banana"]), "edited by hand"),
    (lambda d: d.update(version="000000000000"), "edited by hand"),
    (lambda d: d["images"].pop(), "edited by hand"),
    (lambda d: d["images"][0].pop("tags"), "malformed entry"),
    (lambda d: d.update(format="cvops-dataset/9"), "this cvops reads 'cvops-dataset/1'"),
])
def test_a_hand_edited_manifest_is_refused(tmp_path, edit, says):
    path = manifests.write(DatasetManifest(FRUIT), tmp_path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=says):
        manifests.read(path)


def test_a_manifest_that_is_not_json_or_not_there(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DatasetError, match="not a cvops dataset manifest"):
        manifests.read(tmp_path / "bad.json")
    with pytest.raises(DatasetError, match="no such dataset manifest"):
        manifests.read(tmp_path / "gone.json")


def test_versions_live_in_the_description_beside_the_hold_and_other_text():
    hold = Hold("groceries", "i1", "Iteration 1", "2026-01-01T00:00:00Z")
    text = with_hold("Image classification for groceries", hold)
    text = with_version(text, "i1", "0123456789ab", live={"i1"})
    text = with_version(text, "i2", "ba9876543210", live={"i1", "i2"})
    assert recorded(text) == {"i1": "0123456789ab", "i2": "ba9876543210"}
    assert holds(text)["groceries"].iteration_id == "i1"
    assert text.splitlines()[0] == "Image classification for groceries"
    # a line per iteration, replaced when written again; iterations deleted since are dropped
    text = with_version(text, "i3", "aaaaaaaaaaaa", live={"i2", "i3"})
    assert recorded(text) == {"i2": "ba9876543210", "i3": "aaaaaaaaaaaa"}
    assert with_version(text, "i3", "bbbbbbbbbbbb", live={"i2", "i3"}).count("cvops:dataset i3") == 1
    assert recorded("cvops:dataset i1 not-a-version\nfree text") == {}
    assert len("cvops:dataset 6c0e2c1e-8a53-4d2b-9d1e-0f4a2b7c9e11 3f9a0c1d2e4b") == 63


# ---------------------------------------------------------------- diff
def test_diff_lists_added_removed_retagged_and_boxes_with_counts_per_tag():
    before = DatasetManifest(FRUIT + [image("k5", "orange", regions=[Region("orange", 0, 0, 1, 1)])])
    after = DatasetManifest([image("k1", "apple"), image("k2", "banana", path="banana/k2.jpg"), image("k4", "orange"),
                             image("k6", "apple"), image("k5", "orange", regions=[Region("orange", 0, 0, .5, .5)])])
    result = compare(before, after)
    assert [c.line() for c in result.changes] == [
        "added\tapple/k6.jpg\tapple", "removed\tbanana/k3.jpg\tbanana", "retagged\tbanana/k2.jpg\tapple -> banana",
        "boxes\torange/k5.jpg\t1 -> 1 region(s)"]
    assert vars(result.tags["apple"]) == {"before": 2, "after": 2, "added": 1, "removed": 1}
    assert vars(result.tags["banana"]) == {"before": 1, "after": 1, "added": 1, "removed": 1}
    assert result.tags["apple"].line("apple") == "tag\tapple\t2 -> 2\t+1 -1"
    assert not result.same and compare(before, before).changes == [] and compare(before, before).same
    data = result.to_dict()
    assert data["counts"] == {"added": 1, "removed": 1, "retagged": 1, "boxes": 1}


def test_diff_names_images_that_are_not_in_the_dataset_by_what_is_known():
    before = DatasetManifest([ManifestImage("k9", ("apple",)), ManifestImage("image:abc", ("apple",))])
    lines = [c.line() for c in compare(before, DatasetManifest([])).changes]
    assert lines == ["removed\timage abc (no cvops record)\tapple",
                     "removed\timage with content key k9 (not in the dataset)\tapple"]


# ---------------------------------------------------------------- confusion and suspects
def held(image_id: str, given, **p) -> HeldOutImage:
    return HeldOutImage(image_id, tuple(given) if isinstance(given, (list, tuple)) else (given,), dict(p))


MIXED = [held("a1", "apple", apple=.9, banana=.05, orange=.05), held("a2", "apple", apple=.2, banana=.1, orange=.7),
         held("a3", "apple", apple=.4, banana=.5, orange=.1), held("b1", "banana", apple=.1, banana=.8, orange=.1),
         held("o1", "orange", apple=.05, banana=.05, orange=.9), held("o2", "orange", apple=.6, banana=.1, orange=.3)]
TAGS = ["apple", "banana", "orange"]


def test_multiclass_confusion_counts_each_image_once_by_its_top_tag():
    c = classification(MIXED, TAGS, multilabel=False)
    assert c.matrix == [[1, 1, 1], [0, 1, 0], [1, 0, 1]]
    assert {t: (n.images, n.tp, n.fp, n.fn) for t, n in c.per_tag.items()} == {
        "apple": (3, 1, 1, 2), "banana": (1, 1, 1, 0), "orange": (2, 1, 1, 1)}
    assert [(p.given, p.predicted, p.count, round(p.rate, 3)) for p in c.pairs] == [
        ("orange", "apple", 1, 0.5), ("apple", "banana", 1, 0.333), ("apple", "orange", 1, 0.333)]
    assert c.worst.describe() == "orange -> apple: 1 image(s), 50.0% of orange"
    assert sum(map(sum, c.matrix)) == len(MIXED) and c.rule == "the most probable tag"


def test_multilabel_confusion_uses_the_threshold():
    images = [held("x", ["apple", "banana"], apple=.9, banana=.3, orange=.6), held("y", ["orange"], orange=.8)]
    c = classification(images, TAGS, multilabel=True, threshold=0.5)
    assert c.matrix == [[1, 0, 1], [0, 0, 1], [0, 0, 1]]
    assert (c.per_tag["banana"].fn, c.per_tag["orange"].fp, c.per_tag["orange"].tp) == (1, 1, 1)
    assert c.rule == "every tag with a probability >= 0.5" and c.threshold == 0.5


def test_suspects_are_images_with_a_likelier_tag_ranked_by_self_confidence():
    assert score(MIXED[1]) == ("apple", "orange", pytest.approx(0.8))
    assert score(held("m", ["apple", "banana"], apple=.9, banana=.2, orange=.7)) == ("banana", "orange",
                                                                                    pytest.approx(0.8))
    assert score(held("n", [], apple=.9)) is None
    found = rank(MIXED, name=lambda i: f"file-{i}")
    assert [(s.image_id, s.given, s.suggested, round(s.score, 3)) for s in found] == [
        ("a2", "apple", "orange", 0.8), ("o2", "orange", "apple", 0.7), ("a3", "apple", "banana", 0.6)]
    assert found[0].name == "file-a2" and found[0].given_probability == 0.2 and found[0].suspect
    every = rank(MIXED, every=True)
    assert len(every) == len(MIXED) and not every[-1].suspect and every[-1].score == pytest.approx(0.1)
    assert [s.image_id for s in rank(MIXED, min_score=0.75)] == ["a2"]
    # a low given probability alone is not a suspect: no other tag is likelier
    assert rank([held("u", "apple", apple=.4, banana=.3, orange=.3)]) == []
    # ties: the likelier suggested tag first
    tied = [held("x", "apple", apple=.1, banana=.5, orange=.4), held("y", "apple", apple=.1, banana=.8, orange=.1)]
    assert [s.image_id for s in rank(tied)] == ["y", "x"]


# ---------------------------------------------------------------- gates
def insight(images=MIXED, tags=TAGS) -> Insight:
    return Insight(HeldOut("i1", "Iteration 1", images, tags), classification(images, tags, False), rank(images))


def test_confusion_and_suspects_gates_are_upper_bounds_with_margins():
    gates = GatesConfig(confusion={"max_pair_rate": 0.4}, suspects={"min_score": 0.65, "max_count": 2})
    confusion, suspects = evaluate_insight(gates, insight())
    assert not confusion.passed and confusion.value == 0.5 and confusion.margin == -0.1
    assert confusion.describe() == "worst confused pair: orange -> apple: 1 image(s), 0.500 of orange > 0.400"
    assert suspects.passed and suspects.value == 2 and suspects.margin == 0
    assert suspects.to_dict()["at_most"] is True
    loose = evaluate_insight(GatesConfig(confusion={"max_pair_rate": 0.5}), insight())[0]
    assert loose.passed and loose.margin == 0
    clean = [held("a", "apple", apple=.9, banana=.1), held("b", "banana", apple=.1, banana=.9)]
    assert evaluate_insight(gates, insight(clean, ["apple", "banana"]))[0].passed
    missing = evaluate_insight(gates, None)
    assert not any(r.passed for r in missing) and "no held-out predictions" in missing[0].describe()
    assert evaluate_insight(GatesConfig(), insight()) == []


# ---------------------------------------------------------------- the report with 81 tags
def test_the_report_stays_readable_with_81_tags_and_keeps_the_whole_matrix_in_json():
    rng = random.Random(1)
    tags = [f"product-{n:02d}" for n in range(81)]
    images = []
    for n in range(81 * 6):
        given = tags[n % 81]
        p = {t: rng.random() * 0.1 for t in tags}
        p[given if rng.random() < 0.8 else rng.choice(tags)] = 0.9
        images.append(held(f"img{n}", given, **p))
    found = insight(images, tags)
    report = RunReport("c.yaml", "Groceries", "groceries", outcome="published")
    report.training = {"iteration": "Iteration 1", "trained": True,
                       "dataset": {"version": "0123456789ab", "recorded": True, "manifest": "out/datasets/x.json"}}
    report.dataset = {"version": "0123456789ab"}
    report.confusion, report.suspects = found.report()
    markdown = to_markdown(report)
    assert len(found.confusion.pairs) > TOP_PAIRS
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "product-" in line]
    assert len(rows) == TOP_PAIRS + 20  # the top pairs and the top suspects, not 81 x 81
    assert f"Top {TOP_PAIRS} of {len(found.confusion.pairs)} pairs" in markdown
    assert "- Dataset version: `0123456789ab` (the working tree's); recorded in the project" in markdown
    data = report.to_dict()
    assert len(data["confusion"]["matrix"]) == 81 and all(len(row) == 81 for row in data["confusion"]["matrix"])
    assert len(data["confusion"]["pairs"]) == len(found.confusion.pairs)
    assert data["suspects"]["count"] == len(found.suspects) and "self-confidence" in data["suspects"]["score"]


def test_a_report_says_when_the_held_out_predictions_were_not_read():
    report = RunReport("c.yaml", "Big", "big", outcome="published")
    report.confusion = {"skipped": "120,000 image(s) x 500 tags of held-out predictions is more than a run reads"}
    assert "Not read: 120,000 image(s) x 500 tags" in to_markdown(report)


def test_an_imported_project_starts_without_the_sources_versions():
    from pipeline.insight.recorded import without_versions

    text = with_version("Groceries\nmore text", "i1", "0123456789ab", live={"i1"})
    assert without_versions(text) == "Groceries\nmore text" and without_versions(None) == ""

