"""Domains tell the truth: each lists exactly the export platforms `export_iteration` accepts for an iteration
trained on it (classification and object detection alike), a domain whose project type the service cannot train
says `enabled: false`, and the object detection domains are Microsoft's."""
from __future__ import annotations

import dataclasses

import pytest

from cvlocal.api.schemas.projects import DomainPublic
from cvlocal.errors import CustomVisionError
from cvlocal.store.records import IterationRecord
from cvlocal.training.domains import DOMAINS, TRAINABLE_TYPES, get_domain, is_detection, require_project_type
from cvlocal.training.export import check_exportable
from cvlocal.training.platforms import AZURE_PLATFORMS, exports_for

COMPLETED = IterationRecord(id="i", project_id="p", name="Iteration 1", status="Completed", created="", last_modified="",
                            trained_at="", domain_id="", classification_type="Multiclass", training_type="Regular",
                            reserved_budget_hours=0, training_seconds=1.0, publish_name=None,
                            publish_resource_id=None, error_details=None, tags=(), model_digest="m",
                            heldout_digest="h")


def _accepted(domain_id: str, platform: str) -> bool:
    try:
        check_exportable(dataclasses.replace(COMPLETED, domain_id=domain_id), platform, None)
    except CustomVisionError as exc:
        assert exc.status == 400 and exc.code == "BadRequestExportValidationFailed"
        return False
    return True


@pytest.mark.parametrize("domain", [d for d in DOMAINS if d.type in TRAINABLE_TYPES], ids=lambda d: d.name)
def test_a_domain_lists_exactly_the_platforms_an_export_accepts(domain):
    wire = DomainPublic.of(domain).model_dump(by_alias=True)
    accepted = [p for p in AZURE_PLATFORMS if _accepted(domain.id, p)]
    assert sorted(wire["exportablePlatforms"]) == sorted(accepted)
    assert wire["exportable"] == bool(accepted) == domain.exportable
    assert set(accepted) <= set(exports_for(domain.type))


def test_a_domain_of_a_project_type_the_service_cannot_train_is_disabled_and_exports_nothing():
    for domain in DOMAINS:
        wire = DomainPublic.of(domain).model_dump(by_alias=True)
        assert wire["enabled"] == (domain.type in TRAINABLE_TYPES), domain.name
        if not wire["enabled"]:
            assert wire["exportablePlatforms"] == []
    assert {d.type for d in DOMAINS} == {"Classification", "ObjectDetection"}


# "Select a domain for a Custom Vision project" (Microsoft Learn): the object detection domains' ids.
MICROSOFT_OBJECT_DETECTION = {
    "da2e3a8a-40a5-4171-82f4-58522f70fbc1": "General", "9c616dff-2e7d-ea11-af59-1866da359ce6": "General [A1]",
    "1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4": "Logo", "3780a898-81c3-4516-81ae-3a139614e1f3": "Products on Shelves",
    "a27d5ca5-bb19-49d8-a70a-fec086c47f5b": "General (compact)",
    "7ec2ac80-887b-48a6-8df9-8b1357765430": "General (compact) [S1]"}


def test_object_detection_domains_are_microsofts_and_train_here():
    listed = {d.id: d.name for d in DOMAINS if d.type == "ObjectDetection"}
    assert listed == MICROSOFT_OBJECT_DETECTION
    assert "ObjectDetection" in TRAINABLE_TYPES
    compact = {d.name for d in DOMAINS if d.type == "ObjectDetection" and d.exportable}
    assert compact == {"General (compact)", "General (compact) [S1]"}


def test_a_call_for_the_other_project_type_is_refused_with_azures_code():
    assert is_detection("A27D5CA5-BB19-49D8-A70A-FEC086C47F5B") and not is_detection("unknown id")
    require_project_type(get_domain("da2e3a8a-40a5-4171-82f4-58522f70fbc1").id, True, "detect_image")
    with pytest.raises(CustomVisionError) as refused:
        require_project_type("ee85a74c-405e-4adc-bb47-ffa8ca0c9f31", True, "detect_image")
    assert (refused.value.status, refused.value.code) == (400, "BadRequestOperationNotSupported")
    assert "object detection projects" in refused.value.message
