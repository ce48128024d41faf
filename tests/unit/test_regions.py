"""Regions as Azure takes them (normalised, inside the image, a positive size, finite), what an upload's bad
region turns into, and the held-out detections a detection training stores, read back as they were written."""
from __future__ import annotations

import math

import pytest

from cvlocal.api.schemas.regions import Region
from cvlocal.api.uploads import Upload
from cvlocal.model.detection import Box, Detection
from cvlocal.store.records import NewRegion
from cvlocal.training.detection import HeldOutDetections, truths
from cvlocal.training.rules import MAX_REGIONS_PER_IMAGE, box_problem


@pytest.mark.parametrize("box", [(0, 0, 1, 1), (0.5, 0.5, 0.5, 0.5), (0.2, 0.3, 0.8 + 1e-9, 0.1), (0, 0, 1e-9, 1e-9)])
def test_boxes_azure_takes(box):
    assert box_problem(*box) is None


@pytest.mark.parametrize("box, why", [
    ((-0.01, 0, 0.5, 0.5), "in [0, 1]"), ((0, 1.2, 0.1, 0.1), "in [0, 1]"), ((0, 0, 0, 0.5), "greater than 0"),
    ((0, 0, 0.5, -0.5), "greater than 0"), ((0.6, 0, 0.5, 0.1), "past the image"), ((0, 0.9, 0.1, 0.2), "past"),
    ((math.nan, 0, 0.1, 0.1), "finite"), ((0, 0, math.inf, 0.1), "finite"), ((0, 0, 0.1, -math.inf), "finite")])
def test_boxes_azure_refuses_say_why(box, why):
    assert why in box_problem(*box)


def test_a_box_a_rounding_error_past_the_edge_is_trimmed_to_it():
    stored = Region(tag_id="t", left=0.3, top=0.0, width=0.7 + 5e-7, height=1.0).checked()
    assert stored.left + stored.width == 1.0 and stored == NewRegion("t", 0.3, 0.0, stored.width, 1.0)
    assert NewRegion("t", 0.1, 0.2, 0.3, 0.4).key() == NewRegion("t", 0.1 + 1e-9, 0.2, 0.3, 0.4).key()


def test_an_uploads_bad_regions_fail_it_with_azures_statuses():
    upload = Upload("a.jpg", b"...", [], [Region(tag_id="t", left=0.9, top=0, width=0.2, height=0.1)])
    assert upload.checked_regions() is None and upload.status == "ErrorInvalidRegion"
    assert "past the image" in upload.message
    crowded = Upload("b.jpg", b"...", [], [Region(tag_id="t", left=0, top=0, width=0.1, height=0.1)]
                     * (MAX_REGIONS_PER_IMAGE + 1))
    assert crowded.checked_regions() is None and crowded.status == "ErrorRegionLimitExceed"
    fine = Upload("c.jpg", b"...", [], [Region(tag_id="t", left=0, top=0, width=0.1, height=0.1)])
    assert fine.checked_regions() == (NewRegion("t", 0, 0, 0.1, 0.1),) and fine.status == "OK"


def test_held_out_detections_read_back_as_written_and_truths_follow_the_iterations_tags():
    held = HeldOutDetections([[Detection(1, 0.9, 0.1, 0.2, 0.3, 0.4), Detection(0, 0.25, 0, 0, 1, 1)], []])
    assert HeldOutDetections.from_bytes(held.to_bytes()) == held
    with pytest.raises(ValueError):
        HeldOutDetections.from_bytes(b'{"format": "something else", "detections": []}')
    tags = (("red-id", "red"), ("blue-id", "blue"))
    snapshot = (("sha-a", ("blue-id",)), ("sha-b", ("red-id",)), ("sha-c", ()))
    regions = {"sha-a": (("r1", "blue-id", 0.1, 0.1, 0.2, 0.2), ("r2", "gone-id", 0, 0, 1, 1)),
               "sha-b": (("r3", "red-id", 0.5, 0.5, 0.5, 0.5),)}
    assert truths(tags, snapshot, regions) == [(Box(1, 0.1, 0.1, 0.2, 0.2),), (Box(0, 0.5, 0.5, 0.5, 0.5),), ()]


def test_an_exported_projects_regions_are_checked_as_uploads_are():
    from cvlocal.errors import CustomVisionError
    from cvlocal.store.records import ExportedImage, ExportedProject, ExportedRegion
    from cvlocal.transfer.importer import check_regions

    def project(*regions: ExportedRegion) -> ExportedProject:
        return ExportedProject("p", "", "id", "Multiclass", (), (), (ExportedImage("0" * 64, 10, 10, 1, {}, "t", (),
                                                                                   regions),))
    check_regions(project(ExportedRegion("t", 0, 0, 1, 1)), detection=True)
    for bad, detection in ((project(ExportedRegion("t", 0.5, 0, 0.6, 0.1)), True),
                           (project(ExportedRegion("t", 0, 0, 0, 0.1)), True),
                           (project(*[ExportedRegion("t", 0, 0, 0.1, 0.1)] * (MAX_REGIONS_PER_IMAGE + 1)), True),
                           (project(ExportedRegion("t", 0, 0, 0.1, 0.1)), False)):
        with pytest.raises(CustomVisionError) as refused:
            check_regions(bad, detection)
        assert refused.value.code == "BadRequestImageRegions"
