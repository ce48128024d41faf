"""Stack configuration, read once and validated into a typed `CustomVisionArgs`.

Keys (namespace `cvops:`, set with `pulumi config set cvops:KEY VALUE`):

  region              required; one of infra.regions.CUSTOM_VISION_REGIONS (self-hosted: SELF_HOSTED_REGIONS)
  mode                multi-service (default) | split | mixed (infra/accounts.py) | self-hosted: the service
                      itself in Azure Container Apps, keys of its own (infra/self_hosted/config.py lists the keys)
  sku                 F0 | S0 (default S0), or per account: {training: S0, prediction: F0}; F0 only for
                      the CustomVision.* kinds (split mode, or the training account of mixed mode)
  namePrefix          account names start with it (default cvops-<stack>); with custom subdomains the
                      names are global DNS names, so make the prefix unique to you
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
from typing import TYPE_CHECKING, Any, Literal, Mapping

from infra.accounts import FREE_TIER_NOTE, KIND_SKUS, KINDS, MULTI_SERVICE_KIND, AccountPlan, plan_accounts
from infra.naming import ACCOUNT, CUSTOM_SUBDOMAIN, RESOURCE_GROUP
from infra.regions import CUSTOM_VISION_REGIONS, normalise_region

NAMESPACE = "cvops"
SELF_HOSTED = "self-hosted"
MODES = (*KINDS, SELF_HOSTED)
SKUS = ("F0", "S0")
PRINCIPAL_TYPES = ("ServicePrincipal", "User", "Group")
KEYS = (
    "region", "mode", "sku", "namePrefix", "resourceGroup", "createResourceGroup", "tags",
    "customSubdomains", "disableLocalAuth", "principalId", "principalType", "restore",
    # mode self-hosted (infra/self_hosted/config.py)
    "image", "registry", "createRegistry", "registryResourceGroup", "tier", "minReplicas", "maxReplicas",
    "concurrentRequests", "trainingWorkers", "cpu", "postgresSku", "postgresVersion", "postgresStorageGb",
    "postgresHighAvailability", "postgresBackupRetentionDays", "postgresGeoRedundantBackup", "blobSoftDeleteDays",
    "blobVersioning", "logRetentionDays",
)

if TYPE_CHECKING:
    from infra.self_hosted.config import SelfHostedArgs

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class ConfigError(ValueError):
    """A stack configuration value is missing or not one of the valid choices."""


@dataclass(frozen=True)
class CustomVisionArgs:
    """Everything the CustomVision component needs, already validated."""

    region: str
    name_prefix: str
    resource_group_name: str
    mode: Literal["multi-service", "split", "mixed"] = "multi-service"
    training_sku: Literal["F0", "S0"] = "S0"
    prediction_sku: Literal["F0", "S0"] = "S0"
    create_resource_group: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)
    custom_subdomains: bool = False
    disable_local_auth: bool = False
    principal_id: str | None = None
    principal_type: Literal["ServicePrincipal", "User", "Group"] = "ServicePrincipal"
    restore: bool = False
    name_prefix_is_default: bool = False  # cvops-<stack>: fine alone, likely taken as a global name

    @property
    def accounts(self) -> list[AccountPlan]:
        return plan_accounts(self.mode, self.name_prefix, self.training_sku, self.prediction_sku)


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


def _check_skus_for_kinds(mode: str, training_sku: str, prediction_sku: str) -> None:
    """F0 exists for the CustomVision.* kinds only; Azure would refuse it at `pulumi up`, after a clean preview."""
    for plan in plan_accounts(mode, "x", training_sku, prediction_sku):
        allowed = KIND_SKUS[plan.kind]
        if plan.sku in allowed:
            continue
        key = "sku" if mode == "multi-service" else f"sku.{plan.role}"
        kind = f"{plan.kind} (multi-service)" if plan.kind == MULTI_SERVICE_KIND else plan.kind
        raise ConfigError(
            f"{_key(key)} {plan.sku} is not available for the {plan.role} account: a {kind} "
            f"account is {' or '.join(allowed)} only. For the free tier use mode split, whose "
            f"CustomVision.Training and CustomVision.Prediction accounts take F0 ({FREE_TIER_NOTE}); "
            f"otherwise set {_key(key)} {allowed[-1]}"
        )


def _check_names(prefix: str, mode: str, custom_subdomains: bool) -> None:
    """Every account name the prefix becomes must fit ARM's rules, and a DNS label's with custom subdomains."""
    rules = [ACCOUNT, CUSTOM_SUBDOMAIN] if custom_subdomains else [ACCOUNT]
    for plan in plan_accounts(mode, prefix, "S0", "S0"):
        for rule in rules:
            problem = rule.problem(plan.name)
            if problem:
                raise ConfigError(f"{_key('namePrefix')} {prefix!r} is not valid: it makes the {rule.what} "
                                  f"name {plan.name!r}, and {problem}")


def _tags(value: Any) -> dict[str, str]:
    value = _object("tags", value)
    if value is None or value == "":
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{_key('tags')} must be an object of tag names to values")
    return {str(k): str(v) for k, v in value.items()}


def _principal(values: Mapping[str, Any]) -> tuple[str | None, str]:
    principal_id = values.get("principalId") or None
    if principal_id is not None and not _GUID.match(str(principal_id)):
        raise ConfigError(f"{_key('principalId')} {principal_id!r} is not an object id (a GUID)")
    principal_type = _choice("principalType", str(values.get("principalType") or "ServicePrincipal"),
                             PRINCIPAL_TYPES)
    return (str(principal_id) if principal_id else None), principal_type


def _resource_group(values: Mapping[str, Any], prefix: str) -> str:
    resource_group = str(values.get("resourceGroup") or f"rg-{prefix}")
    problem = RESOURCE_GROUP.problem(resource_group)
    if problem:
        raise ConfigError(f"{_key('resourceGroup')} {resource_group!r} is not valid: {problem}")
    return resource_group


def parse_args(values: Mapping[str, Any], stack: str) -> "CustomVisionArgs | SelfHostedArgs":
    """Validate raw config values (as Pulumi stores them: strings, JSON for objects)."""
    mode = _choice("mode", str(values.get("mode") or "multi-service").lower(), MODES)
    raw_region = values.get("region")
    if not raw_region:
        from infra.regions import SELF_HOSTED_REGIONS
        regions = SELF_HOSTED_REGIONS if mode == SELF_HOSTED else CUSTOM_VISION_REGIONS
        raise ConfigError(
            f"{_key('region')} is not set; run `pulumi config set {_key('region')} REGION` "
            f"with one of: {', '.join(regions)}"
        )
    default_prefix = f"cvops-{stack}"
    prefix = str(values.get("namePrefix") or default_prefix).lower()
    if mode == SELF_HOSTED:
        from infra.self_hosted.config import parse_self_hosted
        principal_id, principal_type = _principal(values)
        return parse_self_hosted(values, {
            "raw_region": raw_region, "name_prefix": prefix, "resource_group_name": _resource_group(values, prefix),
            "create_resource_group": _bool("createResourceGroup", values.get("createResourceGroup"), True),
            "tags": _tags(values.get("tags")), "principal_id": principal_id, "principal_type": principal_type})
    region = _choice("region", normalise_region(str(raw_region)), CUSTOM_VISION_REGIONS,
                     "does not offer Custom Vision")
    training_sku, prediction_sku = _skus(values.get("sku"), mode)
    _check_skus_for_kinds(mode, training_sku, prediction_sku)

    disable_local_auth = _bool("disableLocalAuth", values.get("disableLocalAuth"), False)
    custom_subdomains = _bool("customSubdomains", values.get("customSubdomains"), disable_local_auth)
    if disable_local_auth and not custom_subdomains:
        raise ConfigError(
            f"{_key('disableLocalAuth')} needs {_key('customSubdomains')} true: Entra ID tokens are "
            "accepted only on custom subdomain endpoints"
        )

    _check_names(prefix, mode, custom_subdomains)
    resource_group = _resource_group(values, prefix)
    principal_id, principal_type = _principal(values)
    if disable_local_auth and principal_id is None:
        raise ConfigError(
            f"{_key('disableLocalAuth')} turns keys off, so {_key('principalId')} must name the "
            "identity (e.g. the deploy workflow's service principal) that gets the Custom Vision roles"
        )

    return CustomVisionArgs(
        region=region,
        mode=mode,
        training_sku=training_sku,
        prediction_sku=prediction_sku,
        name_prefix=prefix,
        resource_group_name=resource_group,
        create_resource_group=_bool("createResourceGroup", values.get("createResourceGroup"), True),
        tags=_tags(values.get("tags")),
        custom_subdomains=custom_subdomains,
        disable_local_auth=disable_local_auth,
        principal_id=principal_id,
        principal_type=principal_type,
        restore=_bool("restore", values.get("restore"), False),
        name_prefix_is_default=prefix == default_prefix,
    )


def load_args() -> "CustomVisionArgs | SelfHostedArgs":
    """Read this stack's `cvops:*` config through Pulumi and validate it."""
    import pulumi

    config = pulumi.Config(NAMESPACE)
    return parse_args({key: config.get(key) for key in KEYS}, pulumi.get_stack())
