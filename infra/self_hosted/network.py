"""The private network: PostgreSQL and the blobs are reachable from the Container Apps environment only.

Why VNet integration and not firewall rules: a Container Apps environment on the Consumption profile has no
outbound addresses of its own to put in a firewall rule (they are shared and may change), so a rule that admitted
"the environment's outbound IPs" would admit other tenants' apps too, or break when the addresses move. Here:
  apps       the environment's infrastructure subnet (delegated to Microsoft.App/environments; /23)
  postgres   the flexible server's delegated subnet: the server has a private address and no public endpoint
  endpoints  the storage account's private endpoint (blob), the account's public endpoint is turned off
with a private DNS zone each, linked to the network, so the usual host names resolve to private addresses.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

ADDRESS_SPACE = "10.40.0.0/16"
SUBNETS = {"apps": "10.40.0.0/23", "postgres": "10.40.2.0/24", "endpoints": "10.40.3.0/24"}
DELEGATIONS = {"apps": "Microsoft.App/environments", "postgres": "Microsoft.DBforPostgreSQL/flexibleServers"}
BLOB_ZONE = "privatelink.blob.core.windows.net"


@dataclass
class PrivateNetwork:
    vnet: network.VirtualNetwork
    postgres_zone: privatedns.PrivateZone
    blob_zone: privatedns.PrivateZone
    links: list[privatedns.VirtualNetworkLink]

    def subnet_id(self, name: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.vnet.id, "/subnets/", name)


def _subnet(name: str) -> network.SubnetArgs:
    delegation = DELEGATIONS.get(name)
    return network.SubnetArgs(
        name=name, address_prefix=SUBNETS[name],
        delegations=[network.DelegationArgs(name=name, service_name=delegation)] if delegation else None,
        private_endpoint_network_policies="Disabled" if name == "endpoints" else None)


def private_network(label: str, names: dict[str, str], group: pulumi.Input[str], region: str, tags: dict,
                    parent: pulumi.Resource) -> PrivateNetwork:
    child = pulumi.ResourceOptions(parent=parent)
    # Subnets declared inline: separate Subnet resources and a VirtualNetwork fight over the subnet list.
    vnet = network.VirtualNetwork(
        f"{label}-network", virtual_network_name=names["network"], resource_group_name=group, location=region,
        address_space=network.AddressSpaceArgs(address_prefixes=[ADDRESS_SPACE]),
        subnets=[_subnet(name) for name in SUBNETS], tags=tags, opts=child)
    # Azure wants the server's zone to end in .postgres.database.azure.com.
    postgres_zone = privatedns.PrivateZone(
        f"{label}-postgres-zone", private_zone_name=f"{names['postgres']}.private.postgres.database.azure.com",
        resource_group_name=group, location="global", tags=tags, opts=child)
    blob_zone = privatedns.PrivateZone(f"{label}-blob-zone", private_zone_name=BLOB_ZONE,
                                       resource_group_name=group, location="global", tags=tags, opts=child)
    links = [privatedns.VirtualNetworkLink(
        f"{label}-{kind}-zone-link", private_zone_name=zone.name, resource_group_name=group, location="global",
        registration_enabled=False, virtual_network=privatedns.SubResourceArgs(id=vnet.id),
        virtual_network_link_name=names["network"], tags=tags, opts=child)
        for kind, zone in (("postgres", postgres_zone), ("blob", blob_zone))]
    return PrivateNetwork(vnet, postgres_zone, blob_zone, links)
