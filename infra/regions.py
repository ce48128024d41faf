"""The one list of Azure regions that offer Custom Vision (training and prediction).

Source: the regions listed for "Azure AI Custom Vision" on Microsoft's "Products available by region"
(https://azure.microsoft.com/explore/global-infrastructure/products-by-region/) and offered by the Custom
Vision portal, taken when the program was first written (service facts as of January 2025) and not
re-checked against Azure since: that needs a subscription. Check a region before adding it, for both kinds:
  az cognitiveservices account list-skus --kind CustomVision.Training --location REGION --query "[].name"
An account in a region without Custom Vision is created by ARM, but every training call fails.
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

