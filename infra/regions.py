"""The one list of Azure regions that offer Custom Vision (training and prediction).

Taken from the regions the Custom Vision portal offers when creating a resource; Microsoft's
"products by region" page is the authority. Check it before adding a region: an account in a
region without Custom Vision is created by ARM but every training call fails.
"""
from __future__ import annotations

CUSTOM_VISION_REGIONS: tuple[str, ...] = (
    "australiaeast",
    "brazilsouth",
    "centralindia",
    "eastasia",
    "eastus",
    "eastus2",
    "japaneast",
    "koreacentral",
    "northcentralus",
    "northeurope",
    "southcentralus",
    "southeastasia",
    "uksouth",
    "westeurope",
    "westus",
    "westus2",
)


def normalise_region(value: str) -> str:
    """'East US' and 'eastus' name the same region; ARM wants the second form."""
    return value.replace(" ", "").lower()

