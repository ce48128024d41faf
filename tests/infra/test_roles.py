"""The roles the program grants and the condition on the deploy identity's right to grant them (infra/roles.py).

GUIDs are written out here from Microsoft's built-in roles list, not imported: a typo in the module fails.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from infra import roles

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

CUSTOM_VISION_CONTRIBUTOR = "c1ff6cc2-c111-46fe-8896-e0ef812ad9f3"
CUSTOM_VISION_DEPLOYMENT = "5c4089e1-6d96-4d2f-b296-c1bc7137275f"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
COGNITIVE_SERVICES_USER = "a97b65f3-24c7-4388-baec-2e87135dc908"

CONDITION = (
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
    "(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals "
    "{c1ff6cc2-c111-46fe-8896-e0ef812ad9f3, 5c4089e1-6d96-4d2f-b296-c1bc7137275f})) AND "
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
    "(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals "
    "{c1ff6cc2-c111-46fe-8896-e0ef812ad9f3, 5c4089e1-6d96-4d2f-b296-c1bc7137275f}))"
)


def test_role_ids_are_microsofts():
    assert roles.CUSTOM_VISION_CONTRIBUTOR == CUSTOM_VISION_CONTRIBUTOR
    assert roles.CUSTOM_VISION_DEPLOYMENT == CUSTOM_VISION_DEPLOYMENT
    assert roles.RBAC_ADMINISTRATOR == RBAC_ADMINISTRATOR
    assert set(roles.ASSIGNABLE_ROLES) == {CUSTOM_VISION_CONTRIBUTOR, CUSTOM_VISION_DEPLOYMENT}
    assert COGNITIVE_SERVICES_USER not in roles.ASSIGNABLE_ROLES


def test_condition_limits_writes_and_deletes_to_the_two_custom_vision_roles():
    assert roles.delegation_condition() == CONDITION
    # Writes are judged on the request, deletes on the existing assignment (two sources, as Azure requires).
    assert CONDITION.count("@Request[") == 1 and CONDITION.count("@Resource[") == 1
    assert set(re.findall(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}", CONDITION)) == {
        CUSTOM_VISION_CONTRIBUTOR, CUSTOM_VISION_DEPLOYMENT}


def test_command_prints_the_condition():
    result = subprocess.run([sys.executable, "-m", "infra.roles", "condition"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == CONDITION
    wrong = subprocess.run([sys.executable, "-m", "infra.roles"], capture_output=True, text=True, cwd=ROOT,
                           timeout=60)
    assert wrong.returncode == 2 and "usage" in wrong.stderr


def test_deploy_guide_writes_the_condition_out_and_scopes_it_to_the_resource_group():
    text = DEPLOY_DOC.read_text()
    assert CONDITION in text
    assert "--condition-version 2.0" in text
    block = text[text.index("Role Based Access Control Administrator\" \\"):][:600]
    assert '--scope "$RG_ID"' in block and "--condition" in block


def test_deploy_guide_names_the_roles_it_grants_and_why_not_cognitive_services_user():
    text = DEPLOY_DOC.read_text()
    for guid in (CUSTOM_VISION_CONTRIBUTOR, CUSTOM_VISION_DEPLOYMENT, COGNITIVE_SERVICES_USER):
        assert guid in text
    assert "listkeys/action" in text
    assert "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning" in text


STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"


def test_self_hosted_roles_are_microsofts_and_the_condition_takes_them_by_mode():
    assert (roles.STORAGE_BLOB_DATA_CONTRIBUTOR, roles.KEY_VAULT_SECRETS_USER, roles.ACR_PULL, roles.ACR_PUSH) == (
        STORAGE_BLOB_DATA_CONTRIBUTOR, KEY_VAULT_SECRETS_USER, ACR_PULL, ACR_PUSH)
    everything = set(re.findall(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}",
                                roles.delegation_condition(roles.ROLES_BY_MODE["all"])))
    assert everything == {CUSTOM_VISION_CONTRIBUTOR, CUSTOM_VISION_DEPLOYMENT, STORAGE_BLOB_DATA_CONTRIBUTOR,
                          KEY_VAULT_SECRETS_USER, ACR_PULL, ACR_PUSH}
    assert roles.main(["condition", "--mode", "self-hosted"]) == 0
    assert roles.main(["condition", "--mode", "everything"]) == 2
