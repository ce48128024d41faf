"""Domains and projects on the wire: the query and body a client sends, the JSON it gets back."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from ... import errors
from ...store.records import ProjectRecord
from ...training.domains import Domain, classification_domain
from ...training.platforms import AZURE_PLATFORMS
from .common import IdList, Wire, name_of

CLASSIFICATION_TYPES = ("Multiclass", "Multilabel")
MAX_DESCRIPTION = 4096    # project and tag descriptions


def description_of(code: str) -> AfterValidator:
    def check(description: str | None) -> str | None:
        if description is not None and len(description) > MAX_DESCRIPTION:
            raise errors.bad_request(f"A description may be at most {MAX_DESCRIPTION} characters.", code)
        return description
    return AfterValidator(check)


def _classification_type(value: str | None) -> str | None:
    if value and value not in CLASSIFICATION_TYPES:
        raise errors.bad_request(f"Unknown classificationType '{value}'; use Multiclass or Multilabel.",
                                 "BadRequestProjectUnknownClassification")
    return value or None


def _domain_id(value: str | None) -> str | None:
    """The canonical id of a classification domain (NotFoundDomain, or BadRequestUnsupportedDomain)."""
    return classification_domain(value).id if value else None


def _export_platforms(platforms: list[str] | None) -> list[str] | None:
    for platform in platforms or ():
        if platform not in AZURE_PLATFORMS:
            raise errors.bad_request(f"Unknown export platform '{platform}'; use one of {', '.join(AZURE_PLATFORMS)}.",
                                     "BadRequestProjectUnsupportedExportPlatform")
    return platforms


def _unchanged_if_empty(value: Any) -> Any:
    return None if value == "" else value


ProjectName = Annotated[str, name_of("A project", "BadRequestProjectName")]
ClassificationType = Annotated[str | None, AfterValidator(_classification_type)]
DomainId = Annotated[str | None, AfterValidator(_domain_id)]
ExportPlatforms = Annotated[IdList | None, AfterValidator(_export_platforms)]


# ---- requests
class ProjectCreate(Wire):
    """create_project's query."""
    name: ProjectName = ""
    description: Annotated[str, description_of("BadRequestProjectDescription")] = ""
    domain_id: DomainId = None
    classification_type: ClassificationType = None
    target_export_platforms: ExportPlatforms = None


class ProjectImportQuery(Wire):
    """import_project's query: the token export_project gave, and the name to use (default: the exported one)."""
    token: str = ""
    name: Annotated[ProjectName | None, BeforeValidator(_unchanged_if_empty)] = None


class ProjectCreateOptions(Wire):
    """create_project's optional body: Azure-only destinations this service cannot write to, so refused."""
    export_model_container_uri: str | None = None
    notification_queue_uri: str | None = None

    @model_validator(mode="after")
    def _refuse(self) -> "ProjectCreateOptions":
        if self.export_model_container_uri or self.notification_queue_uri:
            raise errors.not_supported("exportModelContainerUri and notificationQueueUri are Azure Storage "
                                       "destinations; this service keeps exports itself and sends no notifications. "
                                       "Leave them out.")
        return self


class ProjectSettingsUpdate(Wire):
    domain_id: DomainId = None
    classification_type: ClassificationType = None
    target_export_platforms: Annotated[list[str] | None, AfterValidator(_export_platforms)] = None
    image_processing_settings: dict[str, Any] | None = None  # accepted and ignored: no augmentation here


class ProjectUpdate(Wire):
    """update_project's body: the Project as the SDK sends it back (read-only fields are ignored)."""
    name: Annotated[ProjectName | None, BeforeValidator(_unchanged_if_empty)] = None
    description: Annotated[str | None, description_of("BadRequestProjectDescription")] = None
    settings: ProjectSettingsUpdate = Field(default_factory=ProjectSettingsUpdate)


# ---- responses
class ProjectExport(Wire):
    """export_project's answer: what an import of the token brings, and the token."""
    iteration_count: int               # iterations the import brings: none (Azure's copy carries none either)
    image_count: int
    tag_count: int
    region_count: int
    estimated_import_time_in_ms: int = Field(alias="estimatedImportTimeInMS")
    token: str


class ModelInformation(Wire):
    estimated_model_size_in_megabytes: int
    description: str


class DomainPublic(Wire):
    id: str
    name: str
    type: str
    exportable: bool
    enabled: bool = True
    exportable_platforms: list[str]
    model_information: ModelInformation

    @classmethod
    def of(cls, domain: Domain) -> "DomainPublic":
        return cls(id=domain.id, name=domain.name, type=domain.type, exportable=domain.exportable,
                   enabled=domain.enabled, exportable_platforms=domain.exportable_platforms,
                   model_information=ModelInformation(estimated_model_size_in_megabytes=domain.size_mb,
                                                      description=domain.description))


class ProjectSettings(Wire):
    domain_id: str
    classification_type: str
    target_export_platforms: list[str]
    use_negative_set: bool = True
    detection_parameters: str | None = None
    image_processing_settings: dict[str, Any] = Field(default_factory=lambda: {"augmentationMethods": {}})
    export_model_container_uri: str | None = None
    notification_queue_uri: str | None = None


class Project(Wire):
    id: str
    name: str
    description: str
    settings: ProjectSettings
    created: str
    last_modified: str
    thumbnail_uri: str | None = None
    dr_mode_enabled: bool = False
    status: str = "Succeeded"

    @classmethod
    def of(cls, project: ProjectRecord) -> "Project":
        return cls(id=project.id, name=project.name, description=project.description,
                   settings=ProjectSettings(domain_id=project.domain_id,
                                            classification_type=project.classification_type,
                                            target_export_platforms=list(project.target_export_platforms)),
                   created=project.created, last_modified=project.last_modified)
