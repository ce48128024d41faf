"""docs/deploy.md keeps the steps a first deploy needs (each one a trap when missing) and names its sources."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "deploy.md").read_text()


@pytest.mark.parametrize("needed", [
    "az provider register --namespace \"$namespace\"",       # an empty subscription registers nothing
    "Microsoft.CognitiveServices Microsoft.Storage Microsoft.KeyVault",
    "ResourceKindRequireAcceptTerms",                         # multi-service accounts: Responsible AI terms
    "az ad sp show --id \"$DEPLOY_APP\" --query id -o tsv",   # the principal's object id, not the app id
    "python -m infra.naming",                                 # global names, offline
    "az storage account check-name",
    "checkNameAvailability",
    "checkDomainAvailability",
    "--enable-versioning true",                               # state backend protection
    "--enable-delete-retention true",
    "--enable-purge-protection true",
    "pulumi destroy",                                         # teardown, then the soft-deleted accounts
    "az cognitiveservices account purge",
    "az cognitiveservices account list-deleted",
    "az cognitiveservices account list-skus --kind CustomVision.Training --location",  # a region, checked
    "9/25/2028",                                              # the retirement date, in Microsoft's words
    "docs/self-hosted.md",
    "environment:preview",                                    # the preview identity's only OIDC subject
    "AZURE_PREVIEW_CLIENT_ID",
    "PULUMI_SECRETS_PROVIDER",
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_ACCESS_TOKEN",
])
def test_the_guide_keeps_the_step(needed):
    assert needed in GUIDE


@pytest.mark.parametrize("source", [
    "https://learn.microsoft.com/azure/ai-services/multi-service-resource",       # why not AIServices
    "https://learn.microsoft.com/azure/ai-services/custom-vision-service/limits-and-quotas",
    "https://azure.microsoft.com/pricing/details/cognitive-services/custom-vision-service/",
    "https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules",
    "https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-reserved-resource-name",
    "https://learn.microsoft.com/azure/role-based-access-control/delegate-role-assignments-examples",
    "https://azure.microsoft.com/explore/global-infrastructure/products-by-region/",
])
def test_the_guide_cites_its_sources(source):
    assert source in GUIDE


@pytest.mark.parametrize("trap, handled_by", [
    ("**Keyless CI loses its token.**", "ClientAssertionCredential"),
    ("**The role wait is too short.**", "service.rbac_wait_minutes"),
    ("**`createResourceGroup: true` fails when the group exists.**", "imports an existing group"),
    ("**Deploys do not wait for tests.**", "`needs: test`"),
])
def test_the_first_deploy_checklist_names_each_trap_and_its_answer(trap, handled_by):
    section = GUIDE.split("## First deploy", 1)[1].split("\n## ", 1)[0]
    item = section.split(trap, 1)[1].split("\n- [ ]", 1)[0]
    assert "**What the project does:**" in item and handled_by in item


@pytest.mark.parametrize("source", [
    "https://github.com/Azure/login/issues/180",
    "https://github.com/Azure/azure-cli/issues/28708",
    "https://github.com/pulumi/pulumi-azure-native/issues/1123",
    "https://learn.microsoft.com/azure/role-based-access-control/troubleshooting",
    "https://www.pulumi.com/docs/iac/concepts/resources/options/import/",
])
def test_the_first_deploy_checklist_cites_the_failure_reports(source):
    assert source in GUIDE


def test_the_deploy_identity_never_trusts_the_pull_request_subject():
    # The old guide trusted `repo:OWNER/REPO:pull_request` on the near-Owner deploy identity.
    assert "for env in dev prod; do" in GUIDE
    assert "environment:$subject" not in GUIDE and "pull_request; do" not in GUIDE


SELF_HOSTED = GUIDE.split("## Self-hosted on Azure", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("needed", [
    # from an empty subscription: every provider the mode's resources need
    *[f"Microsoft.{namespace}" for namespace in ("App", "OperationalInsights", "DBforPostgreSQL", "Storage",
                                                 "KeyVault", "ContainerRegistry", "ManagedIdentity", "Network")],
    "python -m infra.roles condition --mode self-hosted",
    "### What it costs at the defaults", "as of January 2025", "https://prices.azure.com/api/retail/prices",
    "https://learn.microsoft.com/azure/container-apps/billing",
    "### Scaling", "### Backups and restore", "point-in-time restore", "soft delete",
    "### Rotating a key without downtime", "Move the clients to key 2", "### Upgrades", "advisory lock",
    "### Teardown", "purge protection", "### Moving from a Custom Vision stack", "--from stack:prod --to stack:selfhosted",
    "**Why VNet integration, not firewall rules.**", "350 MB",
])
def test_the_self_hosted_section_keeps_what_a_first_deploy_needs(needed):
    assert needed in SELF_HOSTED
