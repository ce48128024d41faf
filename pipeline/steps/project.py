"""Step 1: find the project by name, or create it with the domain given by name (through get_domains). An
existing project on another domain is moved to the config's when `project.allow_domain_change` says so
(compact domains are the ones that export); otherwise it is left as it is, with a warning."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from pipeline.config import ProjectConfig
from pipeline.errors import DatasetError, FieldError, PipelineError, ServiceError
from pipeline.sdk.errors import PROJECT_NAME_TAKEN, HttpOperationError, error_code
from pipeline.sdk.tiers import Tier


@dataclass
class DomainChange:
    """The project is on `current`; the config names `wanted`."""
    current: str
    wanted: str
    wanted_id: str
    exportable: bool
    move: bool  # project.allow_domain_change: run moves it

    def describe(self, project: str) -> str:
        if self.move:
            return (f"project {project!r} moves from domain {self.current!r} to {self.wanted!r} "
                    "(project.allow_domain_change); the next training uses it")
        return (f"project {project!r} uses domain {self.current!r}, the config says {self.wanted!r}; the project "
                "is left as it is (set project.allow_domain_change: true to move it"
                + ("; compact domains are the ones that export)" if self.exportable else ")"))

    def to_dict(self) -> dict[str, Any]:
        return {"current": self.current, "wanted": self.wanted, "move": self.move, "exportable": self.exportable}


def find_project(trainer: Any, name: str) -> Any | None:
    """The project called `name`, or None; two projects with that name is an error."""
    matches = [p for p in trainer.get_projects() if p.name == name]
    if len(matches) > 1:
        ids = ", ".join(p.id for p in matches)
        raise ServiceError(f"{len(matches)} projects are called {name!r} ({ids}): rename or delete the extra ones")
    return matches[0] if matches else None


def require_project(trainer: Any, name: str) -> Any:
    """The project called `name`; a command that reads or moves its iterations needs it to exist."""
    project = find_project(trainer, name)
    if project is None:
        raise PipelineError(f"no project {name!r} on the service: run `cvops run` first")
    return project


def resolve_domain(trainer: Any, domain_name: str, domains: list[Any] | None = None,
                   project_type: str | None = "Classification") -> Any:
    """The domain of the project's type (Classification or ObjectDetection) called `domain_name`
    (case-insensitive): Custom Vision names domains of both types alike (General, General (compact))."""
    project_type = project_type or "Classification"
    domains = [d for d in (domains if domains is not None else trainer.get_domains())
               if (d.type or "Classification") == project_type]
    for domain in domains:
        if (domain.name or "").lower() == domain_name.lower():
            return domain
    names = sorted(d.name for d in domains if d.name)
    close = difflib.get_close_matches(domain_name.lower(), [n.lower() for n in names], n=1, cutoff=0.5)
    near = next((f" (did you mean {n!r}?)" for n in names if close and n.lower() == close[0]), "")
    kind = "object detection" if project_type == "ObjectDetection" else "classification"
    raise FieldError(("project", "domain"), f"no {kind} domain called {domain_name!r}{near}; the service "
                                            f"has: {', '.join(names)}")


def domain_change(trainer: Any, project: Any, config: ProjectConfig) -> DomainChange | None:
    """How the project's domain differs from the config's (None: the same, or the project's is unknown)."""
    current_id = getattr(project.settings, "domain_id", None) if project.settings is not None else None
    if not current_id:
        return None
    domains = trainer.get_domains()
    wanted = resolve_domain(trainer, config.domain, domains, config.type)
    if wanted.id == current_id:
        return None
    current = next((d.name for d in domains if d.id == current_id), current_id)
    return DomainChange(current, wanted.name, wanted.id, bool(getattr(wanted, "exportable", False)),
                        config.allow_domain_change)


def move_domain(trainer: Any, project: Any, change: DomainChange) -> Any:
    """Move the project to the wanted domain (its iterations keep the domain they were trained on)."""
    from azure.cognitiveservices.vision.customvision.training.models import Project, ProjectSettings
    settings = project.settings
    moved = ProjectSettings(domain_id=change.wanted_id, classification_type=settings.classification_type,
                            target_export_platforms=settings.target_export_platforms,
                            use_negative_set=settings.use_negative_set)
    return trainer.update_project(project.id, Project(name=project.name, description=project.description or "",
                                                      settings=moved))


def room_for_project(trainer: Any, tier: Tier | None) -> None:
    """Before a project is created: the tier's project limit (F0: 2) is not reached yet."""
    if tier is None:
        return
    names = [p.name for p in trainer.get_projects()]
    if len(names) >= tier.projects:
        raise DatasetError(f"the account holds {len(names)} projects ({', '.join(names)}) and service.tier "
                           f"{tier.name} allows {tier.projects}: delete one" +
                           (" or use the S0 tier" if tier.name == "F0" else "") + " before a new one is created")


def ensure_project(trainer: Any, config: ProjectConfig, tier: Tier | None = None) -> tuple[Any, bool, list[str]]:
    """(project, created, warnings): the existing project (moved to the config's domain when allowed), or a
    new one made as the config says."""
    project = find_project(trainer, config.name)
    if project is not None:
        return project, False, _differences(trainer, project, config)
    domain = resolve_domain(trainer, config.domain, project_type=config.type)
    room_for_project(trainer, tier)
    try:
        project = trainer.create_project(config.name, description=config.description or None,
                                         domain_id=domain.id, classification_type=config.classification_type)
    except HttpOperationError as exc:
        # A create whose answer was lost (and retried) finds the name taken: the project is there.
        if error_code(exc) in PROJECT_NAME_TAKEN:
            project = find_project(trainer, config.name)
            if project is not None:
                return project, False, []
        raise
    return project, True, []


def _differences(trainer: Any, project: Any, config: ProjectConfig) -> list[str]:
    """Settings of an existing project that differ from the config (reported; never changed)."""
    settings = project.settings
    warnings = []
    current = next((d for d in trainer.get_domains() if settings is not None and d.id == settings.domain_id), None)
    if current is not None and (current.type or "Classification") != (config.type or "Classification"):
        raise FieldError(("project", "type"), f"project {config.name!r} exists as a {current.type} project (domain "
                                              f"{current.name!r}), the config says {config.type}: give the config "
                                              "another project.name, or delete the project")
    if settings is not None and settings.classification_type and config.type != "ObjectDetection" and \
            settings.classification_type != config.classification_type:
        warnings.append(f"project {config.name!r} is {settings.classification_type}, the config says "
                        f"{config.classification_type}; the project is left as it is")
    change = domain_change(trainer, project, config)  # a domain the service lacks is an error here too
    if change is not None:
        if change.move:
            move_domain(trainer, project, change)
        warnings.append(change.describe(config.name))
    return warnings
