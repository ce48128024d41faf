"""The built-in Azure roles this project assigns, and the condition that limits who may assign them.

Role definition ids are the same GUID in every tenant. Source, with each role's actions and data actions:
https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning

Why these two (docs/deploy.md has the comparison):
  training    Cognitive Services Custom Vision Contributor: `accounts/CustomVision/*` (create, train,
              publish, delete projects). It also covers classify, so a multi-service account needs no other.
  prediction  Cognitive Services Custom Vision Deployment: `CustomVision/classify/*` and `detect/*` plus
              reads; no `listKeys`, and no data actions outside Custom Vision. "Cognitive Services User"
              would add `accounts/listkeys/action` (the keys, on a keyless stack) and `Microsoft.CognitiveServices/*`
              data actions for every service of the account. There is no built-in "Custom Vision Prediction" role.

Self-hosted mode (infra/self_hosted/) grants data roles to the service's managed identity, each at the
narrowest scope that works (sources: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage,
/security and /containers):
  Storage Blob Data Contributor  the blob container (not the account): read, write, delete blobs
  Key Vault Secrets User         each of the service's secrets (not the vault): read a secret's value
  AcrPull                        the registry: pull the image
and, when the stack creates the registry and `principalId` names the deploy identity, AcrPush on it for that
identity (the workflow pushes the image).

Also a command: `python -m infra.roles condition [--mode custom-vision|self-hosted|all]` prints the ABAC
condition for the deploy identity's "Role Based Access Control Administrator" assignment (docs/deploy.md).
"""
from __future__ import annotations

import sys
from typing import Sequence

CUSTOM_VISION_CONTRIBUTOR = "c1ff6cc2-c111-46fe-8896-e0ef812ad9f3"  # Cognitive Services Custom Vision Contributor
CUSTOM_VISION_DEPLOYMENT = "5c4089e1-6d96-4d2f-b296-c1bc7137275f"  # Cognitive Services Custom Vision Deployment

STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"

# The only roles the deploy identity may hand out (and take back), per kind of stack.
ASSIGNABLE_ROLES = (CUSTOM_VISION_CONTRIBUTOR, CUSTOM_VISION_DEPLOYMENT)
SELF_HOSTED_ROLES = (STORAGE_BLOB_DATA_CONTRIBUTOR, KEY_VAULT_SECRETS_USER, ACR_PULL, ACR_PUSH)
ROLES_BY_MODE = {
    "custom-vision": ASSIGNABLE_ROLES,
    "self-hosted": SELF_HOSTED_ROLES,
    "all": ASSIGNABLE_ROLES + SELF_HOSTED_ROLES,
}

# The "Role Based Access Control Administrator" built-in role, which the condition is attached to.
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"


def delegation_condition(role_ids: Sequence[str] = ASSIGNABLE_ROLES) -> str:
    """An ABAC condition (version 2.0) allowing role assignment writes and deletes for `role_ids` only.

    The "Constrain roles" example of
    https://learn.microsoft.com/azure/role-based-access-control/delegate-role-assignments-examples:
    writes are checked on the request's role, deletes on the existing assignment's role.
    """
    ids = ", ".join(role_ids)
    return (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{ids}}}))"
        " AND "
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{ids}}}))"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    mode = argv[2] if len(argv) == 3 and argv[1] == "--mode" else "custom-vision" if len(argv) == 1 else None
    if not argv or argv[0] != "condition" or mode not in ROLES_BY_MODE:
        print(f"usage: python -m infra.roles condition [--mode {'|'.join(ROLES_BY_MODE)}]", file=sys.stderr)
        return 2
    print(delegation_condition(ROLES_BY_MODE[mode]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
