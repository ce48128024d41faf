"""The container registry the image is pushed to and pulled from: created by the stack (Basic, no admin user:
pushes and pulls sign in with Entra ID) or an existing one named in config. The service's identity may pull
(AcrPull); with `principalId` set (the deploy identity) and a registry the stack creates, that identity may push."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import containerregistry, managedidentity

from infra.roles import ACR_PULL, ACR_PUSH
from infra.self_hosted.config import SelfHostedArgs
from infra.self_hosted.grants import Grants


@dataclass
class Registry:
    resource: containerregistry.Registry | None  # None: an existing registry, looked up
    id: pulumi.Output[str]
    login_server: pulumi.Output[str]


def container_registry(label: str, args: SelfHostedArgs, group: pulumi.Input[str],
                       identity: managedidentity.UserAssignedIdentity, grants: Grants, tags: dict,
                       parent: pulumi.Resource) -> Registry:
    if args.create_registry:
        created = containerregistry.Registry(
            f"{label}-registry", registry_name=args.registry, resource_group_name=group, location=args.region,
            sku=containerregistry.SkuArgs(name="Basic"), admin_user_enabled=False, anonymous_pull_enabled=False,
            tags=tags, opts=pulumi.ResourceOptions(parent=parent))
        registry = Registry(created, created.id, created.login_server)
        if args.principal_id:
            grants.grant(f"{label}-registry-push", args.principal_id, ACR_PUSH, created.id, args.principal_type)
    else:
        found = containerregistry.get_registry_output(
            registry_name=args.registry, resource_group_name=args.registry_resource_group or group,
            opts=pulumi.InvokeOutputOptions(parent=parent))
        registry = Registry(None, found.id, found.login_server)
    grants.grant(f"{label}-registry-pull", identity.principal_id, ACR_PULL, registry.id)
    return registry
