"""Stack configuration of `mode: self-hosted`, validated when read into a typed `SelfHostedArgs`.

Keys (namespace `cvops:`), beside the shared region, namePrefix, resourceGroup, createResourceGroup, tags,
principalId and principalType:

  image               REGISTRY.azurecr.io/REPOSITORY@sha256:<64 hex digits>: the cvlocal image, by digest only
                      (a tag moves; a digest is the bytes). Unset: everything but the Container App is made
                      (deploy.yml's first `pulumi up`, before the image exists)
  registry            the Azure Container Registry's name (default: the prefix's letters and digits + "cr")
  createRegistry      true (default): the stack creates the registry; false: it exists (registryResourceGroup)
  registryResourceGroup  where an existing registry is (default: resourceGroup)
  tier                cvlocal's --tier: F0 | S0 (default) | unlimited
  minReplicas         0-300 (default 1; 0 lets the app scale to zero, and trainings stop with it)
  maxReplicas         1-300, at least minReplicas (default 3)
  concurrentRequests  the HTTP scale rule: concurrent requests a replica takes before another starts (default 20)
  trainingWorkers     cvlocal's --training-workers, 1-64 (default 1)
  cpu                 vCPUs a replica: 0.5 to 4 in steps of 0.25 (default 1); memory is twice that in GiB
  postgresSku         Standard_B1ms (default) or another flexible server SKU (infra/self_hosted/postgres_skus.py)
  postgresVersion     15 | 16 | 17 (default 17)
  postgresStorageGb   32 (default), 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767
  postgresHighAvailability  Disabled (default) | SameZone | ZoneRedundant (not on Burstable SKUs)
  postgresBackupRetentionDays  7-35 (default 7)
  postgresGeoRedundantBackup   false (default) | true
  blobSoftDeleteDays  1-365 (default 7): deleted blobs and containers stay restorable this long
  blobVersioning      false (default) | true
  logRetentionDays    30-730 (default 30)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from infra.config import ConfigError, _bool, _choice, _key
from infra.naming import (CONTAINER_APP, CONTAINER_REGISTRY, KEY_VAULT, POSTGRES_SERVER, RESOURCE_GROUP,
                          STORAGE_ACCOUNT, NameRule)
from infra.regions import SELF_HOSTED_REGIONS, SELF_HOSTED_REGIONS_CHECKED, normalise_region
from infra.self_hosted.postgres_skus import (HIGH_AVAILABILITY, STORAGE_SIZES_GB, VERSIONS, sku_tier,
                                             skus_for_help)

MODE = "self-hosted"
TIERS = ("F0", "S0", "unlimited")  # cvlocal's tiers (cvlocal/tiers/table.py; tests/infra holds the two together)
KEYS = (
    "image", "registry", "createRegistry", "registryResourceGroup", "tier", "minReplicas", "maxReplicas",
    "concurrentRequests", "trainingWorkers", "cpu", "postgresSku", "postgresVersion", "postgresStorageGb",
    "postgresHighAvailability", "postgresBackupRetentionDays", "postgresGeoRedundantBackup", "blobSoftDeleteDays",
    "blobVersioning", "logRetentionDays",
)
IMAGE = re.compile(r"^(?P<server>[a-z0-9]{5,50}\.azurecr\.io)/(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
                   r"@sha256:[0-9a-f]{64}$")
CPU_CHOICES = tuple(f"{quarter / 4:g}" for quarter in range(2, 17))  # 0.5 .. 4, as Container Apps sizes them
# `make bench` (docs/benchmarks.md, "Memory"): one service with one training worker peaked at 350 MB with ten
# published models. Half a GiB a worker plus half a GiB for serving keeps that peak under half of what a replica has.
GIB_BASE, GIB_PER_WORKER = 0.5, 0.5


@dataclass(frozen=True)
class SelfHostedArgs:
    """Everything the SelfHosted component needs, already validated."""

    region: str
    name_prefix: str
    resource_group_name: str
    registry: str
    image: str | None = None
    create_registry: bool = True
    registry_resource_group: str | None = None
    create_resource_group: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)
    principal_id: str | None = None
    principal_type: str = "ServicePrincipal"
    tier: str = "S0"
    min_replicas: int = 1
    max_replicas: int = 3
    concurrent_requests: int = 20
    training_workers: int = 1
    cpu: float = 1.0
    postgres_sku: str = "Standard_B1ms"
    postgres_version: str = "17"
    postgres_storage_gb: int = 32
    postgres_high_availability: str = "Disabled"
    postgres_backup_retention_days: int = 7
    postgres_geo_redundant_backup: bool = False
    blob_soft_delete_days: int = 7
    blob_versioning: bool = False
    log_retention_days: int = 30
    mode: str = MODE

    @property
    def memory_gib(self) -> float:
        return self.cpu * 2

    @property
    def postgres_tier(self) -> str:
        return sku_tier(self.postgres_sku)

    @property
    def names(self) -> dict[str, str]:
        """The Azure names the prefix becomes."""
        return names_for(self.name_prefix) | {"registry": self.registry}


def names_for(prefix: str) -> dict[str, str]:
    compact = re.sub(r"[^a-z0-9]", "", prefix)
    return {"identity": f"{prefix}-id", "logs": f"{prefix}-logs", "network": f"{prefix}-vnet",
            "environment": f"{prefix}-env", "app": f"{prefix}-app", "postgres": f"{prefix}-pg",
            "storage": f"{compact}blobs"[:24], "vault": f"{prefix}-kv", "database": "cvlocal",
            "container": "cvlocal"}


NAME_RULES: dict[str, NameRule] = {"app": CONTAINER_APP, "postgres": POSTGRES_SERVER, "storage": STORAGE_ACCOUNT,
                                   "vault": KEY_VAULT}


def _integer(name: str, value: Any, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    text = str(value).strip()
    if not re.fullmatch(r"-?\d+", text) or not low <= int(text) <= high:
        raise ConfigError(f"{_key(name)} {value!r} is not valid; choose a whole number from {low} to {high}")
    return int(text)


def _image(value: Any, registry: str) -> str | None:
    if value is None or value == "":
        return None
    image = str(value).strip()
    match = IMAGE.match(image)
    if match is None:
        raise ConfigError(
            f"{_key('image')} {image!r} is not an image by digest; give "
            f"{registry.lower()}.azurecr.io/REPOSITORY@sha256:<64 hex digits> (a tag such as :latest moves, a "
            "digest is the exact image; deploy.yml sets it from the push)")
    if match["server"] != f"{registry.lower()}.azurecr.io":
        raise ConfigError(f"{_key('image')} is in {match['server']}, not in the stack's registry "
                          f"{registry.lower()}.azurecr.io ({_key('registry')}): the app pulls with its identity, "
                          "which may pull from that registry only")
    return image


def _names(prefix: str) -> None:
    for role, rule in NAME_RULES.items():
        name = names_for(prefix)[role]
        problem = rule.problem(name)
        if problem:
            raise ConfigError(f"{_key('namePrefix')} {prefix!r} is not valid for mode self-hosted: it makes the "
                              f"{rule.what} name {name!r}, and {problem}")


def _replicas(values: Mapping[str, Any]) -> tuple[int, int]:
    low = _integer("minReplicas", values.get("minReplicas"), 1, 0, 300)
    high = _integer("maxReplicas", values.get("maxReplicas"), 3, 1, 300)
    if low > high:
        raise ConfigError(f"{_key('minReplicas')} {low} is above {_key('maxReplicas')} {high}; choose "
                          f"minReplicas from 0 to {high}, or raise maxReplicas")
    return low, high


def _cpu(values: Mapping[str, Any], workers: int) -> float:
    raw = values.get("cpu")
    text = "1" if raw is None or raw == "" else f"{float(raw):g}" if re.fullmatch(r"\d+(\.\d+)?", str(raw)) \
        else str(raw)
    cpu = float(_choice("cpu", text, CPU_CHOICES))
    needed = GIB_BASE + GIB_PER_WORKER * workers
    if cpu * 2 < needed:
        smallest = next(choice for choice in CPU_CHOICES if float(choice) * 2 >= needed)
        raise ConfigError(
            f"{_key('cpu')} {text} gives a replica {cpu * 2:g} GiB, and {workers} training worker(s) need "
            f"{needed:g} GiB (0.5 GiB to serve plus 0.5 GiB a worker; `make bench` measured a 350 MB peak with one "
            f"worker, docs/benchmarks.md); choose {_key('cpu')} {smallest} or more, or fewer trainingWorkers")
    return cpu


def _postgres(values: Mapping[str, Any]) -> dict[str, Any]:
    sku = str(values.get("postgresSku") or "Standard_B1ms")
    if sku_tier(sku) is None:
        raise ConfigError(f"{_key('postgresSku')} {sku!r} is not a PostgreSQL flexible server SKU; choose one of: "
                          f"{skus_for_help()} (`az postgres flexible-server list-skus --location REGION`)")
    high_availability = _choice("postgresHighAvailability",
                                str(values.get("postgresHighAvailability") or "Disabled"), HIGH_AVAILABILITY)
    if high_availability != "Disabled" and sku_tier(sku) == "Burstable":
        raise ConfigError(f"{_key('postgresHighAvailability')} {high_availability} is not offered on Burstable "
                          f"SKUs ({sku}); choose a GeneralPurpose or MemoryOptimized {_key('postgresSku')}, e.g. "
                          "Standard_D2ds_v5, or Disabled")
    storage = str(values.get("postgresStorageGb") or "32")
    return {
        "postgres_sku": sku,
        "postgres_version": _choice("postgresVersion", str(values.get("postgresVersion") or "17"), VERSIONS),
        "postgres_storage_gb": int(_choice("postgresStorageGb", storage, tuple(map(str, STORAGE_SIZES_GB)))),
        "postgres_high_availability": high_availability,
        "postgres_backup_retention_days": _integer("postgresBackupRetentionDays",
                                                   values.get("postgresBackupRetentionDays"), 7, 7, 35),
        "postgres_geo_redundant_backup": _bool("postgresGeoRedundantBackup",
                                               values.get("postgresGeoRedundantBackup"), False),
    }


def _registry(values: Mapping[str, Any], prefix: str) -> str:
    registry = str(values.get("registry") or f"{re.sub(r'[^a-z0-9]', '', prefix)}cr")
    problem = CONTAINER_REGISTRY.problem(registry)
    if problem:
        raise ConfigError(f"{_key('registry')} {registry!r} is not valid: {problem}")
    return registry


def parse_self_hosted(values: Mapping[str, Any], common: Mapping[str, Any]) -> SelfHostedArgs:
    """`common`: the shared keys, already validated by infra.config (region not yet: its list is this mode's)."""
    region = _choice("region", normalise_region(str(common["raw_region"])), SELF_HOSTED_REGIONS,
                     f"does not offer both Azure Container Apps and PostgreSQL flexible server (the list as of "
                     f"{SELF_HOSTED_REGIONS_CHECKED}, infra/regions.py)")
    prefix = common["name_prefix"]
    _names(prefix)
    registry = _registry(values, prefix)
    workers = _integer("trainingWorkers", values.get("trainingWorkers"), 1, 1, 64)
    min_replicas, max_replicas = _replicas(values)
    create_registry = _bool("createRegistry", values.get("createRegistry"), True)
    registry_group = values.get("registryResourceGroup") or None
    if registry_group is not None:
        problem = RESOURCE_GROUP.problem(str(registry_group))
        if problem:
            raise ConfigError(f"{_key('registryResourceGroup')} {registry_group!r} is not valid: {problem}")
        if create_registry:
            raise ConfigError(f"{_key('registryResourceGroup')} names where an existing registry is: set "
                              f"{_key('createRegistry')} false with it, or leave it out")
    return SelfHostedArgs(
        region=region, name_prefix=prefix, resource_group_name=common["resource_group_name"],
        create_resource_group=common["create_resource_group"], tags=common["tags"],
        principal_id=common["principal_id"], principal_type=common["principal_type"],
        registry=registry, image=_image(values.get("image"), registry), create_registry=create_registry,
        registry_resource_group=str(registry_group) if registry_group else None,
        tier=_choice("tier", _tier_name(values.get("tier")), TIERS),
        min_replicas=min_replicas, max_replicas=max_replicas,
        concurrent_requests=_integer("concurrentRequests", values.get("concurrentRequests"), 20, 1, 1000),
        training_workers=workers, cpu=_cpu(values, workers), **_postgres(values),
        blob_soft_delete_days=_integer("blobSoftDeleteDays", values.get("blobSoftDeleteDays"), 7, 1, 365),
        blob_versioning=_bool("blobVersioning", values.get("blobVersioning"), False),
        log_retention_days=_integer("logRetentionDays", values.get("logRetentionDays"), 30, 30, 730),
    )


def _tier_name(value: Any) -> str:
    text = str(value or "S0").strip()
    return {tier.lower(): tier for tier in TIERS}.get(text.lower(), text)


__all__ = ["MODE", "KEYS", "SelfHostedArgs", "parse_self_hosted", "names_for"]
