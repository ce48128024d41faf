"""The Custom Vision accounts of one stack, as a Pulumi ComponentResource.

Which accounts each mode creates: infra/accounts.py. Roles granted with `principalId`: infra/roles.py.

Soft delete: a deleted account lingers for 48 hours. Creating one with the same name then fails
with `FlagMustBeSetForRestore`; set `cvops:restore true` to take the old one back (with its
projects), or purge it (`az cognitiveservices account purge`) to start clean.

Keys are read (`listAccountKeys`) at `pulumi up` only, never in a preview: the pull-request preview
runs as a read-only identity, and `listKeys` is an action Reader does not have. A preview shows the
key outputs as unknown.
"""
from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, cognitiveservices

from infra.accounts import AccountPlan
from infra.config import CustomVisionArgs
from infra.resource_group import stack_resource_group
from infra.roles import CUSTOM_VISION_CONTRIBUTOR, CUSTOM_VISION_DEPLOYMENT

COMPONENT_TYPE = "cvops:infra:CustomVision"


class CustomVision(pulumi.ComponentResource):
    """Resource group (created or looked up), accounts, keys as secrets, optional role assignments."""

    def __init__(self, name: str, args: CustomVisionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.args = args
        tags = {"project": "cvops", "stack": pulumi.get_stack(), "managed-by": "pulumi", **args.tags}

        if args.custom_subdomains and args.name_prefix_is_default:
            pulumi.log.warn(
                f"custom subdomains are global DNS names, and {args.name_prefix!r} (the default prefix) "
                "may be taken in Azure already; set cvops:namePrefix to a prefix of your own", resource=self)

        # Created, adopted (imported) when it exists already, or looked up: infra/resource_group.py.
        self.resource_group, self.resource_group_name = stack_resource_group(
            f"{name}-rg", args.resource_group_name, args.region, args.create_resource_group, tags, self)
        self.accounts: dict[str, cognitiveservices.Account] = {}
        self.role_assignments: list[authorization.RoleAssignment] = []
        keys: dict[str, pulumi.Output[str]] = {}
        for plan in args.accounts:
            account = self._account(name, plan, args, tags, child)
            self.accounts[plan.role] = account
            keys[plan.role] = self._primary_key(account, args)
            if args.principal_id:
                self._grant_roles(name, plan, account, args)

        training_role = "multi-service" if args.mode == "multi-service" else "training"
        prediction_role = "multi-service" if args.mode == "multi-service" else "prediction"
        training, prediction = self.accounts[training_role], self.accounts[prediction_role]

        self.training_endpoint = training.properties.endpoint
        self.training_key = keys[training_role]
        self.prediction_endpoint = prediction.properties.endpoint
        self.prediction_key = keys[prediction_role]
        self.prediction_resource_id = prediction.id
        self.region = pulumi.Output.from_input(args.region)
        self.mode = pulumi.Output.from_input(args.mode)
        # The training account's SKU: the pipeline paces its calls to that tier's rates (F0: 2 trainings/s).
        training_sku = next(plan.sku for plan in args.accounts if plan.role == training_role)
        self.training_sku = pulumi.Output.from_input(training_sku)
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, pulumi.Output]:
        """The stack outputs, by the names the pipeline reads (pipeline/config/settings.py)."""
        return {
            "trainingEndpoint": self.training_endpoint,
            "trainingKey": self.training_key,
            "predictionEndpoint": self.prediction_endpoint,
            "predictionKey": self.prediction_key,
            "predictionResourceId": self.prediction_resource_id,
            "region": self.region,
            "mode": self.mode,
            "trainingSku": self.training_sku,
            "resourceGroup": self.resource_group_name,
        }

    def _account(self, name, plan: AccountPlan, args, tags, child) -> cognitiveservices.Account:
        return cognitiveservices.Account(
            f"{name}-{plan.role}",
            account_name=plan.name,
            resource_group_name=self.resource_group_name,
            location=args.region,
            kind=plan.kind,
            sku=cognitiveservices.SkuArgs(name=plan.sku),
            properties=cognitiveservices.AccountPropertiesArgs(
                custom_sub_domain_name=plan.name if args.custom_subdomains else None,
                disable_local_auth=args.disable_local_auth,
                restore=args.restore or None,
            ),
            tags={**tags, "cvops-role": plan.role},
            opts=child,
        )

    def _primary_key(self, account: cognitiveservices.Account, args) -> pulumi.Output[str]:
        if args.disable_local_auth:
            # Keys are off (ARM refuses to list them); clients use Entra ID tokens instead.
            return pulumi.Output.secret("")
        if pulumi.runtime.is_dry_run():
            # A preview never lists keys (see the module docstring): unknown until `pulumi up`.
            return pulumi.Output.secret(account.id.apply(lambda _: pulumi.output.UNKNOWN))
        keys = cognitiveservices.list_account_keys_output(
            account_name=account.name, resource_group_name=self.resource_group_name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        # listAccountKeys results are not marked secret by the provider: wrap them.
        return pulumi.Output.secret(keys.key1)

    def _grant_roles(self, name, plan: AccountPlan, account, args) -> None:
        """The narrowest built-in Custom Vision role each account's job needs (infra/roles.py says why)."""
        subscription = authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=self)).subscription_id
        # Contributor covers classify too, so a multi-service account gets it alone.
        roles = [("contributor", CUSTOM_VISION_CONTRIBUTOR)] if plan.serves_training else [
            ("deployment", CUSTOM_VISION_DEPLOYMENT)]
        for label, role_id in roles:
            self.role_assignments.append(authorization.RoleAssignment(
                f"{name}-{plan.role}-{label}",
                principal_id=args.principal_id,
                principal_type=args.principal_type,
                role_definition_id=pulumi.Output.concat(
                    "/subscriptions/", subscription, "/providers/Microsoft.Authorization/roleDefinitions/", role_id),
                scope=account.id,
                opts=pulumi.ResourceOptions(parent=self),
            ))
