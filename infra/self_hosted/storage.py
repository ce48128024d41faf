"""Blob storage for images, models and exports: keys off (Entra ID only), TLS 1.2+, no public access of any kind,
soft delete; reached from the environment through a private endpoint (network.py). The service's identity is
Storage Blob Data Contributor on its container, not on the account."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import managedidentity, network, storage

from infra.roles import STORAGE_BLOB_DATA_CONTRIBUTOR
from infra.self_hosted.config import SelfHostedArgs
from infra.self_hosted.grants import Grants
from infra.self_hosted.network import PrivateNetwork


@dataclass
class Blobs:
    account: storage.StorageAccount
    service: storage.BlobServiceProperties
    container: storage.BlobContainer
    endpoint: network.PrivateEndpoint
    dns: network.PrivateDnsZoneGroup

    @property
    def url(self) -> pulumi.Output[str]:
        """The service's --blobs."""
        return pulumi.Output.concat("azureblob://", self.account.name, "/", self.container.name)


def blob_storage(label: str, args: SelfHostedArgs, group: pulumi.Input[str], net: PrivateNetwork,
                 identity: managedidentity.UserAssignedIdentity, grants: Grants, tags: dict,
                 parent: pulumi.Resource) -> Blobs:
    child = pulumi.ResourceOptions(parent=parent)
    names = args.names
    account = storage.StorageAccount(
        f"{label}-storage", account_name=names["storage"], resource_group_name=group, location=args.region,
        kind="StorageV2", sku=storage.SkuArgs(name="Standard_LRS"), access_tier="Hot",
        allow_shared_key_access=False, default_to_o_auth_authentication=True, minimum_tls_version="TLS1_2",
        enable_https_traffic_only=True, allow_blob_public_access=False, public_network_access="Disabled",
        network_rule_set=storage.NetworkRuleSetArgs(default_action="Deny", bypass="None"),
        allow_cross_tenant_replication=False, tags=tags, opts=child)
    retention = storage.DeleteRetentionPolicyArgs(enabled=True, days=args.blob_soft_delete_days)
    service = storage.BlobServiceProperties(
        f"{label}-blob-service", account_name=account.name, resource_group_name=group, blob_services_name="default",
        delete_retention_policy=retention, container_delete_retention_policy=retention,
        is_versioning_enabled=args.blob_versioning, opts=child)
    container = storage.BlobContainer(
        f"{label}-blob-container", container_name=names["container"], account_name=account.name,
        resource_group_name=group, public_access="None", opts=child)
    endpoint = network.PrivateEndpoint(
        f"{label}-blob-endpoint", private_endpoint_name=f"{names['storage']}-blob", resource_group_name=group,
        location=args.region, subnet=network.SubnetArgs(id=net.subnet_id("endpoints")),
        private_link_service_connections=[network.PrivateLinkServiceConnectionArgs(
            name="blob", private_link_service_id=account.id, group_ids=["blob"])], tags=tags, opts=child)
    dns = network.PrivateDnsZoneGroup(
        f"{label}-blob-endpoint-dns", private_dns_zone_group_name="default", private_endpoint_name=endpoint.name,
        resource_group_name=group,
        private_dns_zone_configs=[network.PrivateDnsZoneConfigArgs(name="blob", private_dns_zone_id=net.blob_zone.id)],
        opts=child)
    grants.grant(f"{label}-blob-data", identity.principal_id, STORAGE_BLOB_DATA_CONTRIBUTOR, container.id)
    return Blobs(account, service, container, endpoint, dns)
