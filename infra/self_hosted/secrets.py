"""The service's keys and link-signing secret: generated once (pulumi-random, kept encrypted in the state),
stored in a Key Vault (RBAC, purge protection), and given to the Container App as Key Vault references read with
its managed identity, which is Key Vault Secrets User on each of these secrets and nothing else.

The references have no version: the app reads each secret's newest version when a revision starts. The app
also carries `secrets_version()`, a digest of the versions, as a plain variable, so a new version (a key
replaced for rotation, docs/deploy.md) changes the app's template and Container Apps rolls out a new revision,
ready before the old one stops: no restart by hand, no downtime."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, keyvault, managedidentity

from infra.roles import KEY_VAULT_SECRETS_USER
from infra.self_hosted.config import SelfHostedArgs
from infra.self_hosted.grants import Grants

# Secret name in the vault (and in the app) -> the variable cvlocal reads (docs/scale.md, "Keys").
VARIABLES = {
    "training-key": "CVLOCAL_TRAINING_KEY",
    "training-key2": "CVLOCAL_TRAINING_KEY2",
    "prediction-key": "CVLOCAL_PREDICTION_KEY",
    "prediction-key2": "CVLOCAL_PREDICTION_KEY2",
    "signing-secret": "CVLOCAL_SIGNING_SECRET",
}
KEY_LENGTH = 48  # cvlocal takes 32 characters or more


@dataclass
class Secrets:
    vault: keyvault.Vault
    values: dict[str, pulumi.Output[str]]   # secret name -> value (secret outputs)
    stored: dict[str, keyvault.Secret]

    def secrets_version(self) -> pulumi.Output[str]:
        """Which versions of the secrets the app runs with (versions are not secret: ids, not values)."""
        versions = [self.stored[name].properties.apply(lambda p: p.secret_uri_with_version) for name in VARIABLES]
        return pulumi.Output.all(*versions).apply(
            lambda uris: hashlib.sha256("\n".join(uris).encode()).hexdigest()[:16])

    def reference(self, name: str) -> pulumi.Output[str]:
        """The versionless Key Vault URL of a secret: the newest version is the one read."""
        return pulumi.Output.concat(self.vault.properties.vault_uri, "secrets/", name)


def _generated(label: str, name: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    child = pulumi.ResourceOptions(parent=parent)
    if name == "signing-secret":  # cvlocal wants 32 hex digits or more
        return pulumi.Output.secret(random.RandomId(f"{label}-{name}", byte_length=32, opts=child).hex)
    # pulumi-random marks `result` secret through the engine; say so here as well, so nothing depends on that.
    return pulumi.Output.secret(
        random.RandomPassword(f"{label}-{name}", length=KEY_LENGTH, special=False, opts=child).result)


def service_secrets(label: str, args: SelfHostedArgs, group: pulumi.Input[str],
                    identity: managedidentity.UserAssignedIdentity, grants: Grants, tags: dict,
                    parent: pulumi.Resource) -> Secrets:
    child = pulumi.ResourceOptions(parent=parent)
    tenant = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent)).tenant_id
    vault = keyvault.Vault(
        f"{label}-vault", vault_name=args.names["vault"], resource_group_name=group, location=args.region,
        properties=keyvault.VaultPropertiesArgs(
            tenant_id=tenant, sku=keyvault.SkuArgs(family="A", name="standard"), enable_rbac_authorization=True,
            enable_purge_protection=True, enable_soft_delete=True, soft_delete_retention_in_days=90),
        tags=tags, opts=child)
    values = {name: _generated(label, name, parent) for name in VARIABLES}
    stored = {}
    for name, value in values.items():
        stored[name] = keyvault.Secret(
            f"{label}-vault-{name}", secret_name=name, vault_name=vault.name, resource_group_name=group,
            properties=keyvault.SecretPropertiesArgs(value=value), opts=child)
        grants.grant(f"{label}-vault-{name}-reader", identity.principal_id, KEY_VAULT_SECRETS_USER, stored[name].id)
    return Secrets(vault, values, stored)
