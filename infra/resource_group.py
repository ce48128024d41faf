"""The stack's resource group: created, adopted when it already exists, or looked up (docs/deploy.md, "Resource
groups that already exist").

`createResourceGroup: true`
  - no group of that name: the program creates it (in the stack's region, with the stack's tags);
  - a group of that name exists (kept by an earlier `pulumi destroy`, left when the flag was flipped off and on,
    or made by hand): the program *imports* it, with the location and tags it has. An import must describe the
    resource exactly as it is, or `pulumi up` fails (Pulumi's import contract, developer-docs/architecture/
    import.md), so the group is adopted as it stands; once in the state, the same declaration is an ordinary
    resource. azure-native itself never adopts: creating what exists fails at `pulumi up` after a clean preview
    (pulumi/pulumi-azure-native#1123).
  Either way the group is `retainOnDelete`: deleting a group deletes everything in it, Pulumi's or not, so
  `pulumi destroy` (or the flag turned off) only forgets it.
`createResourceGroup: false`
  the group is looked up and used, never owned (a typo fails at preview).
"""
from __future__ import annotations

from typing import Mapping

import pulumi
from pulumi_azure_native import resources

NOT_FOUND = ("ResourceGroupNotFound", "could not be found")


def existing_group(name: str, parent: pulumi.Resource) -> resources.AwaitableGetResourceGroupResult | None:
    """The group as Azure has it now, or None when there is none (any other failure is raised)."""
    try:
        return resources.get_resource_group(resource_group_name=name, opts=pulumi.InvokeOptions(parent=parent))
    except Exception as exc:  # noqa: BLE001 - the provider's errors arrive as plain Exceptions with ARM's code
        if any(marker in str(exc) for marker in NOT_FOUND):
            return None
        raise


def stack_resource_group(label: str, name: str, region: str, create: bool, tags: Mapping[str, str],
                         parent: pulumi.Resource) -> tuple[resources.ResourceGroup | None, pulumi.Output[str]]:
    """(the group resource when the program owns one, its name as an Output)."""
    if not create:
        found = resources.get_resource_group_output(resource_group_name=name,
                                                     opts=pulumi.InvokeOutputOptions(parent=parent))
        return None, found.name
    found = existing_group(name, parent)
    if found is None:
        group = resources.ResourceGroup(label, resource_group_name=name, location=region, tags=dict(tags),
                                        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True))
    else:
        group = resources.ResourceGroup(label, resource_group_name=name, location=found.location,
                                        tags=dict(found.tags or {}),
                                        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True,
                                                                    import_=found.id))
    return group, group.name
