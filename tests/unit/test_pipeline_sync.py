"""The sync plan: which dataset images to upload, which project images to retag or delete, what each mode
leaves alone, the deletion limit; and the hold line kept in a project's description."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.dataset import Dataset, DatasetImage
from pipeline.errors import MassDeleteRefused
from pipeline.steps import hold, image_map, sync


def item(name: str, tag: str) -> DatasetImage:
    return DatasetImage(Path("/data") / tag / name, (tag,), 10, name.encode().hex().ljust(64, "0")[:64])


def there(image_id: str, image: DatasetImage | None, *tags: str) -> sync.ProjectImage:
    key = image_map.hash_key(image.sha256) if image else None
    return sync.ProjectImage(image_id, {f"t-{t}": t for t in tags}, key)


APPLE, BANANA, ORANGE, NEW = item("a1", "apple"), item("b1", "banana"), item("o1", "orange"), item("n1", "apple")
NAME = lambda i: f"{i.tags[0]}/{i.path.name}"  # noqa: E731


def project() -> list[sync.ProjectImage]:
    # apple a1 was moved into banana/ in the dataset; the orange was deleted; one image has no record
    return [there("i-a", APPLE, "apple"), there("i-b", BANANA, "banana"), there("i-o", ORANGE, "orange"),
            there("i-x", None, "apple")]


def dataset() -> Dataset:
    moved = DatasetImage(Path("/data/banana/a1"), ("banana",), 10, APPLE.sha256)
    return Dataset(Path("/data"), [moved, BANANA, NEW], {"apple", "banana"})


@pytest.mark.parametrize("mode, retags, deletes", [("add-only", False, False), ("retag", True, False),
                                                   ("mirror", True, True)])
def test_each_mode_sees_the_same_drift_and_acts_on_its_part(mode, retags, deletes):
    plan = sync.diff(dataset(), project(), mode, NAME)
    assert [i.path.name for i in plan.to_upload] == ["n1"] and len(plan.present) == 2
    assert [r.describe() for r in plan.retag] == ["banana/a1: apple -> banana"]
    assert plan.retag[0].add == ["banana"] and plan.retag[0].remove == {"t-apple": "apple"}
    assert [i.id for i in plan.only_in_project] == ["i-o"] and [i.id for i in plan.unrecognised] == ["i-x"]
    assert (plan.retags, plan.deletes) == (retags, deletes)
    assert [i.id for i in plan.to_delete()] == (["i-o", "i-x"] if deletes else [])
    summary = plan.summary(10, 4)
    assert summary["unrecognised"]["may_be_dataset_images"] == 1  # one image to upload: it may be i-x
    assert summary["delete"]["count"] == (2 if deletes else 0)
    assert (plan.changes() is None) == (mode == "add-only")


def test_after_the_upload_found_an_unrecognised_image_it_is_a_dataset_image():
    listed = project()
    found = SimpleNamespace(id="i-x", tags=[SimpleNamespace(tag_id="t-apple", tag_name="apple")])
    plan = sync.after_upload(dataset(), listed, {NEW.sha256: found}, {"apple": "t-apple", "banana": "t-banana"},
                             "mirror", NAME)
    assert plan.to_upload == [] and plan.unrecognised == []
    assert [i.id for i in plan.to_delete()] == ["i-o"]


def test_emptied_tags_that_the_dataset_lacks_are_the_ones_deleted():
    plan = sync.diff(dataset(), project()[:3], "mirror", NAME)
    assert sync._emptied(plan, {"i-o"}, {"apple", "banana"}) == [("t-orange", "orange")]
    plan = sync.diff(dataset(), project()[:3], "retag", NAME)
    assert sync._emptied(plan, set(), {"banana"}) == [("t-apple", "apple")]  # apple lost its only image


def test_the_deletion_limit_refuses_and_says_how_to_proceed():
    assert sync.delete_limit(None, 45) == 10 and sync.delete_limit(None, 1000) == 100
    assert sync.delete_limit(3, 1000) == 3
    sync.check_delete_limit(10, 10, False, 45)
    sync.check_delete_limit(11, 10, True, 45)
    with pytest.raises(MassDeleteRefused, match="11 of the project's 45 images.*--allow-mass-delete") as refused:
        sync.check_delete_limit(11, 10, False, 45)
    assert refused.value.exit_code == 2


def test_a_hold_is_one_line_of_the_description_and_the_rest_is_kept():
    iteration = SimpleNamespace(id="it-1", name="Iteration 1")
    first = hold.with_hold("Groceries\nowned by the fruit team", hold.new_hold("groceries", iteration))
    second = hold.with_hold(first, hold.Hold("other", "it-2", "Iteration 2", "2025-01-01T00:00:00Z"))
    assert first.startswith("Groceries\nowned by the fruit team\ncvops:hold {")
    found = hold.holds(second)
    assert set(found) == {"groceries", "other"} and found["groceries"].iteration == "Iteration 1"
    moved = hold.with_hold(second, hold.new_hold("groceries", SimpleNamespace(id="it-3", name="Iteration 3")))
    assert hold.holds(moved)["groceries"].iteration_id == "it-3" and moved.count("cvops:hold") == 2
    assert hold.without_hold(moved, "groceries").splitlines() == ["Groceries", "owned by the fruit team",
                                                                 second.splitlines()[-1]]
    assert hold.holds("cvops:hold {broken json\nplain text") == {}
    assert hold.hold_on(SimpleNamespace(description=None), "groceries") is None


def test_plan_text_gives_counts_and_names_files_only_when_verbose():
    from pipeline.render import sync_lines

    summary = sync.diff(dataset(), project(), "retag", NAME).summary(10, 4)
    short, verbose = sync_lines(summary, False), sync_lines(summary, True)
    assert short[:3] == ["sync (retag):", "  tags differ from the dataset: 1 image(s): retag",
                         "  no longer in the dataset: 1 image(s): left alone (mirror deletes them)"]
    assert not any("banana/a1" in line for line in short) and "  (-v lists the files)" in short
    assert "    ~ banana/a1: apple -> banana" in verbose and "    - image i-o (orange)" in verbose
    mirror = sync_lines(sync.diff(dataset(), project(), "mirror", NAME).summary(1, 4), False)
    assert "  would delete: 2 image(s), limit 1: REFUSED unless --allow-mass-delete or a higher dataset.max_delete" \
        in mirror
