"""The Azure regions each kind of stack can use: those that offer Custom Vision (training and prediction), and
for `mode: self-hosted` those that offer both Azure Container Apps (workload profiles environments) and
Azure Database for PostgreSQL flexible server.

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


# Self-hosted mode. Source: the regions listed for both "Azure Container Apps" and "Azure Database for
# PostgreSQL" (flexible server) on Microsoft's "Products available by region"
# (https://azure.microsoft.com/explore/global-infrastructure/products-by-region/), as of January 2025 (the
# project's service facts), kept to regions open to every subscription; not re-checked against Azure since:
# that needs a subscription. Check a region before adding it (both must answer):
#   az provider show -n Microsoft.App --query "resourceTypes[?resourceType=='managedEnvironments'].locations[]"
#   az postgres flexible-server list-skus --location REGION --query "[].supportedServerVersions"
SELF_HOSTED_REGIONS: tuple[str, ...] = (
    "australiaeast",
    "brazilsouth",
    "canadacentral",
    "centralindia",
    "centralus",
    "eastasia",
    "eastus",
    "eastus2",
    "francecentral",
    "germanywestcentral",
    "japaneast",
    "koreacentral",
    "northcentralus",
    "northeurope",
    "norwayeast",
    "southafricanorth",
    "southcentralus",
    "southeastasia",
    "swedencentral",
    "switzerlandnorth",
    "uaenorth",
    "uksouth",
    "westeurope",
    "westus",
    "westus2",
    "westus3",
)
SELF_HOSTED_REGIONS_CHECKED = "2025-01"  # when the list above was taken; docs/deploy.md says the same


def normalise_region(value: str) -> str:
    """'East US' and 'eastus' name the same region; ARM wants the second form."""
    return value.replace(" ", "").lower()

