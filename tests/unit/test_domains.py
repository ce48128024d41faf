"""Domains tell the truth: each lists exactly the export platforms `export_iteration` accepts for an iteration
trained on it, and a domain whose project type the service cannot train says `enabled: false`."""
from __future__ import annotations

import dataclasses

import pytest

from cvlocal.api.schemas.projects import DomainPublic
from cvlocal.errors import CustomVisionError
from cvlocal.store.records import IterationRecord
from cvlocal.training.domains import DOMAINS, TRAINABLE_TYPES
from cvlocal.training.export import check_exportable
from cvlocal.training.platforms import AZURE_PLATFORMS, EXPORTS

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
    assert set(accepted) <= set(EXPORTS)


def test_a_domain_of_a_project_type_the_service_cannot_train_is_disabled_and_exports_nothing():
    for domain in DOMAINS:
        wire = DomainPublic.of(domain).model_dump(by_alias=True)
        assert wire["enabled"] == (domain.type in TRAINABLE_TYPES), domain.name
        if not wire["enabled"]:
            assert wire["exportablePlatforms"] == []
    assert {d.type for d in DOMAINS} == {"Classification", "ObjectDetection"}
