"""Step 1: find the project by name, or create it with the domain given by name (through get_domains)."""
from __future__ import annotations

from typing import Any

from pipeline.config import ProjectConfig
from pipeline.errors import ConfigError, PipelineError, ServiceError
from pipeline.sdk.errors import PROJECT_NAME_TAKEN, HttpOperationError, error_code


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


def resolve_domain(trainer: Any, domain_name: str) -> Any:
    """The classification domain called `domain_name` (case-insensitive)."""
    domains = [d for d in trainer.get_domains() if (d.type or "Classification") == "Classification"]
    for domain in domains:
        if (domain.name or "").lower() == domain_name.lower():
            return domain
    names = ", ".join(sorted(d.name for d in domains if d.name))
    raise ConfigError(f"project.domain: no classification domain called {domain_name!r}; the service has: {names}")


def ensure_project(trainer: Any, config: ProjectConfig) -> tuple[Any, bool, list[str]]:
    """(project, created, warnings): the existing project, or a new one made as the config says."""
    project = find_project(trainer, config.name)
    if project is not None:
        return project, False, _differences(trainer, project, config)
    domain = resolve_domain(trainer, config.domain)
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
    if settings is not None and settings.classification_type and \
            settings.classification_type != config.classification_type:
        warnings.append(f"project {config.name!r} is {settings.classification_type}, the config says "
                        f"{config.classification_type}; the project is left as it is")
    if settings is not None and settings.domain_id:
        try:
            wanted = resolve_domain(trainer, config.domain)
        except ConfigError:
            wanted = None
        if wanted is not None and wanted.id != settings.domain_id:
            warnings.append(f"project {config.name!r} uses another domain than {config.domain!r}; "
                            "the project is left as it is")
    return warnings
