"""publish_iteration checks predictionId as Azure's ARM id of a prediction resource (Custom Vision's
BadRequestInvalidPublishTarget), through the official SDK; a refused publish changes nothing."""
from __future__ import annotations

import pytest
from azure.cognitiveservices.vision.customvision.training.models import CustomVisionErrorException

from harness.rest import Rest

GOOD = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/{group}/providers/" \
       "Microsoft.CognitiveServices/accounts/{account}"
MALFORMED = [
    "prediction",                                                          # a name, not an id
    "0b1f6471-1bf0-4dda-aec3-cb9272f09590",                                # the subscription id alone
    GOOD.format(group="rg", account="cv-prediction").rsplit("/accounts/", 1)[0],  # truncated: no account
    GOOD.format(group="rg", account="cv-prediction") + "/",
    GOOD.format(group="rg", account="cv-prediction").replace("0b1f6471-1bf0", "subscription"),
    GOOD.format(group="rg", account="cv-prediction").replace("CognitiveServices", "Storage"),
    GOOD.format(group="rg.", account="cv-prediction"),                     # a group name ends with no period
    GOOD.format(group="rg", account="-cv"),                                # an account starts with a letter/digit
    GOOD.format(group="rg", account="c" * 65),
    GOOD.format(group="rg", account="cv-prediction") + "/extra",
]
WELL_FORMED = [
    GOOD.format(group="rg", account="cv-prediction"),
    GOOD.format(group="My_Group.(test)-1", account="CV2"),
    GOOD.format(group="rg", account="cv-prediction").lower(),             # ARM ids compare case-insensitively
]


@pytest.fixture(scope="module")
def trained(cvlocal_service):
    rest = Rest(cvlocal_service)
    pid, _, iid = rest.trained_project(per_tag=5)
    return pid, iid


@pytest.mark.parametrize("resource_id", MALFORMED)
def test_a_malformed_prediction_resource_id_is_refused_and_nothing_is_published(trainer, trained, resource_id):
    pid, iid = trained
    with pytest.raises(CustomVisionErrorException) as refused:
        trainer.publish_iteration(pid, iid, "target", resource_id)
    assert refused.value.error.code == "BadRequestInvalidPublishTarget"
    assert "/subscriptions/{subscription id}/resourceGroups/" in refused.value.error.message
    assert trainer.get_iteration(pid, iid).publish_name is None


def test_a_well_formed_one_is_published_and_recorded(trainer, trained):
    pid, iid = trained
    for resource_id in WELL_FORMED:
        assert trainer.publish_iteration(pid, iid, "target", resource_id, overwrite=True) is True
        iteration = trainer.get_iteration(pid, iid)
        assert iteration.publish_name == "target" and iteration.original_publish_resource_id == resource_id
        trainer.unpublish_iteration(pid, iid)
