"""Role assignments, each to one principal, for one built-in role (infra/roles.py), at one scope."""
from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization


class Grants:
    """Makes the role assignments of one component, and keeps them (tests read `made`)."""

    def __init__(self, parent: pulumi.Resource):
        self.parent = parent
        self.subscription = authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=parent)).subscription_id
        self.made: list[authorization.RoleAssignment] = []

    def grant(self, label: str, principal_id: pulumi.Input[str], role_id: str, scope: pulumi.Input[str],
              principal_type: str = "ServicePrincipal") -> authorization.RoleAssignment:
        assignment = authorization.RoleAssignment(
            label, principal_id=principal_id, principal_type=principal_type, scope=scope,
            role_definition_id=pulumi.Output.concat(
                "/subscriptions/", self.subscription, "/providers/Microsoft.Authorization/roleDefinitions/", role_id),
            opts=pulumi.ResourceOptions(parent=self.parent))
        self.made.append(assignment)
        return assignment
