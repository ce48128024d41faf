"""Stack configuration, read once and validated into a typed `CustomVisionArgs`.

Keys (namespace `cvops:`, set with `pulumi config set cvops:KEY VALUE`):

  region              required; one of infra.regions.CUSTOM_VISION_REGIONS
  mode                multi-service (default) | split | mixed
  sku                 F0 | S0 (default S0), or per account: {training: S0, prediction: F0}
  namePrefix          account names start with it (default cvops-<stack>)
  resourceGroup       name of the resource group (default rg-<namePrefix>)
  createResourceGroup true (default) creates it; false uses an existing one by name
  tags                object of extra tags
  customSubdomains    give accounts <name>.cognitiveservices.azure.com endpoints (default: disableLocalAuth)
  disableLocalAuth    turn keys off; Entra ID only (default false)
  principalId         object id to grant the Custom Vision roles to (required with disableLocalAuth)
  principalType       ServicePrincipal (default) | User | Group
  restore             true to recover a soft-deleted account of the same name (FlagMustBeSetForRestore)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from infra.regions import CUSTOM_VISION_REGIONS, normalise_region

NAMESPACE = "cvops"
MODES = ("multi-service", "split", "mixed")
SKUS = ("F0", "S0")
PRINCIPAL_TYPES = ("ServicePrincipal", "User", "Group")
KEYS = (
    "region", "mode", "sku", "namePrefix", "resourceGroup", "createResourceGroup", "tags",
    "customSubdomains", "disableLocalAuth", "principalId", "principalType", "restore",
)

# Account names become DNS labels with custom subdomains: lowercase, digits, inner hyphens.
# 40 characters leaves room for the longest suffix ("-prediction") under ARM's 64.
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class ConfigError(ValueError):
    """A stack configuration value is missing or not one of the valid choices."""


@dataclass(frozen=True)
class CustomVisionArgs:
    """Everything the CustomVision component needs, already validated."""

    region: str
    name_prefix: str
    resource_group_name: str
    mode: str = "multi-service"
    training_sku: str = "S0"
    prediction_sku: str = "S0"
    create_resource_group: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)
    custom_subdomains: bool = False
    disable_local_auth: bool = False
    principal_id: str | None = None
    principal_type: str = "ServicePrincipal"
    restore: bool = False


def _key(name: str) -> str:
    return f"{NAMESPACE}:{name}"


def _choice(name: str, value: str, choices: tuple[str, ...], what: str = "is not valid") -> str:
    if value not in choices:
        raise ConfigError(f"{_key(name)} {value!r} {what}; choose one of: {', '.join(choices)}")
    return value


def _bool(name: str, value: str | bool | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered not in ("true", "false"):
        raise ConfigError(f"{_key(name)} {value!r} is not a boolean; choose one of: true, false")
    return lowered == "true"


def _object(name: str, value: str | Mapping | None) -> Mapping | str | None:
    """Structured stack config reaches the program as a JSON string."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{_key(name)} is not valid JSON: {exc}") from exc
    return value


def _skus(value: Any, mode: str) -> tuple[str, str]:
    value = _object("sku", value)
    if value is None or value == "":
        return "S0", "S0"
    if isinstance(value, str):
        sku = _choice("sku", value.upper(), SKUS)
        return sku, sku
    if not isinstance(value, Mapping):
        raise ConfigError(f"{_key('sku')} must be one of {', '.join(SKUS)} or {{training: ..., prediction: ...}}")
    unknown = set(value) - {"training", "prediction"}
    if unknown:
        raise ConfigError(f"{_key('sku')} has unknown keys {sorted(unknown)}; valid keys: training, prediction")
    training = _choice("sku.training", str(value.get("training", "S0")).upper(), SKUS)
    prediction = _choice("sku.prediction", str(value.get("prediction", "S0")).upper(), SKUS)
    if mode == "multi-service" and training != prediction:
        raise ConfigError(
            f"{_key('sku')}: multi-service mode creates one account for training and prediction, "
            "so it takes one sku; use mode split or mixed for a sku per account"
        )
    return training, prediction


def _tags(value: Any) -> dict[str, str]:
    value = _object("tags", value)
    if value is None or value == "":
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{_key('tags')} must be an object of tag names to values")
    return {str(k): str(v) for k, v in value.items()}


def parse_args(values: Mapping[str, Any], stack: str) -> CustomVisionArgs:
    """Validate raw config values (as Pulumi stores them: strings, JSON for objects)."""
    raw_region = values.get("region")
    if not raw_region:
        raise ConfigError(
            f"{_key('region')} is not set; run `pulumi config set {_key('region')} REGION` "
            f"with one of: {', '.join(CUSTOM_VISION_REGIONS)}"
        )
    region = _choice("region", normalise_region(str(raw_region)), CUSTOM_VISION_REGIONS,
                     "does not offer Custom Vision")
    mode = _choice("mode", str(values.get("mode") or "multi-service").lower(), MODES)
    training_sku, prediction_sku = _skus(values.get("sku"), mode)

    prefix = str(values.get("namePrefix") or f"cvops-{stack}").lower()
    if not _PREFIX.match(prefix):
        raise ConfigError(
            f"{_key('namePrefix')} {prefix!r} is not valid: 2 to 40 lowercase letters, digits or "
            "hyphens, starting with a letter and not ending with a hyphen"
        )

    disable_local_auth = _bool("disableLocalAuth", values.get("disableLocalAuth"), False)
    custom_subdomains = _bool("customSubdomains", values.get("customSubdomains"), disable_local_auth)
    if disable_local_auth and not custom_subdomains:
        raise ConfigError(
            f"{_key('disableLocalAuth')} needs {_key('customSubdomains')} true: Entra ID tokens are "
            "accepted only on custom subdomain endpoints"
        )

    principal_id = values.get("principalId") or None
    if principal_id is not None and not _GUID.match(str(principal_id)):
        raise ConfigError(f"{_key('principalId')} {principal_id!r} is not an object id (a GUID)")
    if disable_local_auth and principal_id is None:
        raise ConfigError(
            f"{_key('disableLocalAuth')} turns keys off, so {_key('principalId')} must name the "
            "identity (e.g. the deploy workflow's service principal) that gets the Custom Vision roles"
        )
    principal_type = _choice("principalType", str(values.get("principalType") or "ServicePrincipal"),
                             PRINCIPAL_TYPES)

    return CustomVisionArgs(
        region=region,
        mode=mode,
        training_sku=training_sku,
        prediction_sku=prediction_sku,
        name_prefix=prefix,
        resource_group_name=str(values.get("resourceGroup") or f"rg-{prefix}"),
        create_resource_group=_bool("createResourceGroup", values.get("createResourceGroup"), True),
        tags=_tags(values.get("tags")),
        custom_subdomains=custom_subdomains,
        disable_local_auth=disable_local_auth,
        principal_id=str(principal_id) if principal_id else None,
        principal_type=principal_type,
        restore=_bool("restore", values.get("restore"), False),
    )


def load_args() -> CustomVisionArgs:
    """Read this stack's `cvops:*` config through Pulumi and validate it."""
    import pulumi

    config = pulumi.Config(NAMESPACE)
    return parse_args({key: config.get(key) for key in KEYS}, pulumi.get_stack())
