"""What Azure Database for PostgreSQL flexible server offers, checked before Azure sees it.

Source: "Compute options in Azure Database for PostgreSQL flexible server" and "Storage options"
(https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-compute,
https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-storage), as of January 2025; not every
SKU is in every region: `az postgres flexible-server list-skus --location REGION` lists a region's.
High availability is not offered on the Burstable tier
(https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-high-availability).
"""
from __future__ import annotations

import re

VERSIONS = ("15", "16", "17")  # current majors; cvlocal needs 15 or newer (docs/scale.md)
STORAGE_SIZES_GB = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767)
HIGH_AVAILABILITY = ("Disabled", "SameZone", "ZoneRedundant")

# Tier by SKU family: Standard_B<n>ms / B2s (Burstable), Standard_D<n>s_v3, D<n>ds_v4/v5, D<n>ads_v5
# (GeneralPurpose), Standard_E<n>s_v3, E<n>ds_v4/v5, E<n>ads_v5 (MemoryOptimized).
FAMILIES = {
    "Burstable": (r"Standard_B(1ms|2s|2ms|4ms|8ms|12ms|16ms|20ms)",),
    "GeneralPurpose": (r"Standard_D(2|4|8|16|32|48|64)s_v3", r"Standard_D(2|4|8|16|32|48|64)ds_v4",
                       r"Standard_D(2|4|8|16|32|48|64|96)a?ds_v5"),
    "MemoryOptimized": (r"Standard_E(2|4|8|16|20|32|48|64)s_v3", r"Standard_E(2|4|8|16|20|32|48|64)ds_v4",
                        r"Standard_E(2|4|8|16|20|32|48|64|96)a?ds_v5"),
}


def sku_tier(sku: str) -> str | None:
    """The tier Azure files `sku` under, or None for a name it does not offer."""
    for tier, patterns in FAMILIES.items():
        if any(re.fullmatch(pattern, sku) for pattern in patterns):
            return tier
    return None


def skus_for_help() -> str:
    return ("Burstable Standard_B1ms, B2s, B2ms, B4ms ... B20ms; GeneralPurpose Standard_D2s_v3 ... D64s_v3, "
            "D2ds_v4 ... D64ds_v4, D2ds_v5 / D2ads_v5 ... D96ds_v5; MemoryOptimized Standard_E2s_v3 ..., "
            "E2ds_v4 ..., E2ds_v5 / E2ads_v5 ... E96ds_v5")
