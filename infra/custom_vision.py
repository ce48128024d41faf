"""The Custom Vision accounts of one stack, as a Pulumi ComponentResource.

Modes (all accounts in one region: publishing needs training and prediction side by side):
  multi-service  one `CognitiveServices` account serves training and prediction
  split          `CustomVision.Training` + `CustomVision.Prediction`
  mixed          `CustomVision.Training` + a `CognitiveServices` account for prediction

Soft delete: a deleted account lingers for 48 hours. Creating one with the same name then fails
with `FlagMustBeSetForRestore`; set `cvops:restore true` to take the old one back (with its
projects), or purge it (`az cognitiveservices account purge`) to start clean.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, cognitiveservices, resources

from infra.config import CustomVisionArgs

COMPONENT_TYPE = "cvops:infra:CustomVision"

# Built-in role definition ids (the same GUID in every tenant).
CUSTOM_VISION_CONTRIBUTOR = "c1ff6cc2-c111-46fe-8896-e0ef812ad9f3"  # Cognitive Services Custom Vision Contributor
# There is no built-in "Custom Vision Prediction" role; Cognitive Services User grants the
# data actions that prediction calls need on the prediction account.
COGNITIVE_SERVICES_USER = "a97b65f3-24c7-4388-baec-2e87135dc908"  # Cognitive Services User

KINDS = {
    "multi-service": {"multi-service": "CognitiveServices"},
    "split": {"training": "CustomVision.Training", "prediction": "CustomVision.Prediction"},
    "mixed": {"training": "CustomVision.Training", "prediction": "CognitiveServices"},
}


@dataclass(frozen=True)
class AccountPlan:
    """One account to create: its role in the pair, ARM kind, sku and name."""

    role: str  # "training", "prediction" or "multi-service"
    kind: str
    sku: str
    name: str

    @property
    def serves_training(self) -> bool:
        return self.role in ("training", "multi-service")

    @property
    def serves_prediction(self) -> bool:
        return self.role in ("prediction", "multi-service")


def plan_accounts(args: CustomVisionArgs) -> list[AccountPlan]:
    """The accounts a configuration asks for, before any resource exists."""
    plans = []
    for role, kind in KINDS[args.mode].items():
        sku = args.prediction_sku if role == "prediction" else args.training_sku
        name = args.name_prefix if role == "multi-service" else f"{args.name_prefix}-{role}"
        plans.append(AccountPlan(role=role, kind=kind, sku=sku, name=name))
    return plans


class CustomVision(pulumi.ComponentResource):
    """Resource group (created or looked up), accounts, keys as secrets, optional role assignments."""

    def __init__(self, name: str, args: CustomVisionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.args = args
        tags = {"project": "cvops", "stack": pulumi.get_stack(), "managed-by": "pulumi", **args.tags}

        self.resource_group_name = self._resource_group(name, args, tags, child)
        self.accounts: dict[str, cognitiveservices.Account] = {}
        self.role_assignments: list[authorization.RoleAssignment] = []
        keys: dict[str, pulumi.Output[str]] = {}
        for plan in plan_accounts(args):
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
            "resourceGroup": self.resource_group_name,
        }

    def _resource_group(self, name, args, tags, child) -> pulumi.Output[str]:
        if args.create_resource_group:
            group = resources.ResourceGroup(
                f"{name}-rg", resource_group_name=args.resource_group_name,
                location=args.region, tags=tags, opts=child,
            )
            return group.name
        # An existing group (e.g. one an admin hands out): look it up so a typo fails at preview.
        existing = resources.get_resource_group_output(
            resource_group_name=args.resource_group_name, opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return existing.name

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
        keys = cognitiveservices.list_account_keys_output(
            account_name=account.name, resource_group_name=self.resource_group_name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        # listAccountKeys results are not marked secret by the provider: wrap them.
        return pulumi.Output.secret(keys.key1)

    def _grant_roles(self, name, plan: AccountPlan, account, args) -> None:
        subscription = authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=self)).subscription_id
        roles = []
        if plan.serves_training:
            roles.append(("contributor", CUSTOM_VISION_CONTRIBUTOR))
        if plan.serves_prediction:
            roles.append(("prediction-user", COGNITIVE_SERVICES_USER))
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
