"""Training, iterations, performance, publishing and exports on the wire."""
from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from ... import errors
from ...store.records import ExportRecord, IterationRecord
from ...training import rules
from ...training.domains import get_domain
from ...training.platforms import available_exports
from ..links import Links
from .common import MAX_NAME, Flag, Wire, name_of

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(address: str | None) -> str | None:
    if address and not EMAIL.match(address):
        raise errors.bad_request(f"'{address}' is not an email address.", "BadRequestInvalidEmailAddress")
    return address


def _no_base_model(info: Any) -> Any:
    if info is not None:
        raise errors.not_supported("customBaseModelInfo: this service trains every iteration from its own images; "
                                   "training on top of another iteration is not supported. Leave it out.")
    return info


def _publish_name(name: str) -> str:
    # The name is a segment of the prediction URL: no '/', and not '.' or '..' (clients resolve those away).
    name = name.strip()
    if not name or "/" in name or name in (".", "..") or len(name) > MAX_NAME:
        raise errors.bad_request(f"A publish name must be 1 to {MAX_NAME} characters, without '/' (and not "
                                 "'.' or '..').", "BadRequestInvalidPublishName")
    return name


# The ARM id of a Cognitive Services account, as Azure's portal shows it (Properties, "Resource ID"): a subscription
# GUID, a resource group (1-90 letters, digits, _ - . ( ), not ending in '.') and an account name (2-64 letters,
# digits and hyphens, starting and ending with a letter or digit). ARM ids compare case-insensitively.
PREDICTION_RESOURCE_ID = re.compile(
    r"/subscriptions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"/resourceGroups/[\w().-]{0,89}[\w()-]"
    r"/providers/Microsoft\.CognitiveServices/accounts/[a-z0-9][a-z0-9-]{0,62}[a-z0-9]", re.IGNORECASE)
PREDICTION_RESOURCE_FORM = ("/subscriptions/{subscription id}/resourceGroups/{resource group}/providers/"
                            "Microsoft.CognitiveServices/accounts/{prediction resource name}")


def _prediction_id(resource_id: str) -> str:
    resource_id = resource_id.strip()
    if not resource_id:
        raise errors.bad_request("predictionId (the prediction resource's id) is required: "
                                 f"{PREDICTION_RESOURCE_FORM}.", "BadRequestInvalidPublishTarget")
    if not PREDICTION_RESOURCE_ID.fullmatch(resource_id):
        raise errors.bad_request(f"predictionId '{resource_id[:300]}' is not the resource id of a prediction "
                                 f"resource; it looks like {PREDICTION_RESOURCE_FORM} (the prediction resource's "
                                 "Properties in the Azure portal, or `cvlocal serve`'s banner).",
                                 "BadRequestInvalidPublishTarget")
    return resource_id


# ---- requests
class TrainQuery(Wire):
    """train_project's query. `notificationEmailAddress` is checked and ignored: this service sends no mail."""
    training_type: str = "Regular"
    reserved_budget_in_hours: int = 0
    force_train: Flag = False
    notification_email_address: Annotated[str | None, AfterValidator(_email)] = None

    @model_validator(mode="after")
    def _rules(self) -> "TrainQuery":
        self.training_type = self.training_type or "Regular"
        rules.check_training_type(self.training_type, self.reserved_budget_in_hours)
        return self


class TrainingParameters(Wire):
    """train_project's optional body."""
    selected_tags: list[str] | None = None
    custom_base_model_info: Annotated[Any, AfterValidator(_no_base_model)] = None


class IterationUpdate(Wire):
    """update_iteration's body (the Iteration: only its name can change)."""
    name: Annotated[str, name_of("An iteration", "BadRequestIterationName")]


class PerformanceQuery(Wire):
    """get_iteration_performance. `overlapThreshold` (the box overlap of object detection) is checked and
    ignored: classification has no boxes, and Azure ignores it for classification projects too."""
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    overlap_threshold: float | None = Field(None, ge=0.0, le=1.0)


class PublishQuery(Wire):
    publish_name: Annotated[str, AfterValidator(_publish_name)] = ""
    prediction_id: Annotated[str, AfterValidator(_prediction_id)] = ""
    overwrite: Flag = False


class ExportQuery(Wire):
    """export_iteration (what may be exported: training/export.py)."""
    platform: str = ""
    flavor: str | None = None


# ---- responses
class Iteration(Wire):
    id: str
    name: str
    status: str
    created: str
    last_modified: str
    trained_at: str | None
    project_id: str
    exportable: bool
    exportable_to: list[str]
    domain_id: str
    classification_type: str
    training_type: str
    reserved_budget_in_hours: int
    training_time_in_minutes: int
    publish_name: str | None
    original_publish_resource_id: str | None
    custom_base_model_info: None = None
    training_error_details: str | None

    @classmethod
    def of(cls, iteration: IterationRecord) -> "Iteration":
        exportable = iteration.status == "Completed" and get_domain(iteration.domain_id).exportable
        seconds = iteration.training_seconds
        return cls(id=iteration.id, name=iteration.name, status=iteration.status, created=iteration.created,
                   last_modified=iteration.last_modified, trained_at=iteration.trained_at,
                   project_id=iteration.project_id, exportable=exportable,
                   exportable_to=list(available_exports()) if exportable else [], domain_id=iteration.domain_id,
                   classification_type=iteration.classification_type, training_type=iteration.training_type,
                   reserved_budget_in_hours=iteration.reserved_budget_hours,
                   training_time_in_minutes=_minutes(seconds),
                   publish_name=iteration.publish_name, original_publish_resource_id=iteration.publish_resource_id,
                   training_error_details=iteration.error_details)


def _minutes(seconds: float | None) -> int:
    """Whole minutes, rounded up as a bill would be: a training that ran at all took at least a minute."""
    return math.ceil(seconds / 60) if seconds else 0


class TagPerformance(Wire):
    id: str
    name: str
    precision: float
    precision_std_deviation: float
    recall: float
    recall_std_deviation: float
    average_precision: float


class IterationPerformance(Wire):
    per_tag_performance: list[TagPerformance]
    precision: float
    precision_std_deviation: float
    recall: float
    recall_std_deviation: float
    average_precision: float


class Export(Wire):
    platform: str
    status: str
    download_uri: str | None
    flavor: str | None
    newer_version_available: bool = False

    @classmethod
    def of(cls, export: ExportRecord, base: str) -> "Export":
        uri = Links.export_url(base, export.token, "model.zip") if export.status == "Done" else None
        return cls(platform=export.platform, status=export.status, download_uri=uri, flavor=export.flavor)
