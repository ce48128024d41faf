"""Azure Database for PostgreSQL flexible server: private (network.py), TLS required, Entra ID only.

The service signs in as its managed identity with an access token for a password (CVLOCAL_DATABASE_AUTH=entra,
cvlocal/store/postgres/entra.py), so password authentication is off and no database password exists: the
identity is the server's Entra administrator, and owns the `cvlocal` database it migrates.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, dbforpostgresql, managedidentity

from infra.self_hosted.config import SelfHostedArgs
from infra.self_hosted.network import PrivateNetwork

PORT = 5432


@dataclass
class Database:
    server: dbforpostgresql.Server
    administrator: dbforpostgresql.Administrator
    database: dbforpostgresql.Database
    tls: dbforpostgresql.Configuration

    def url(self, role: pulumi.Input[str]) -> pulumi.Output[str]:
        """The service's --database: its role, no password (a token is), TLS required by the client too."""
        return pulumi.Output.concat("postgresql://", role, "@", self.server.fully_qualified_domain_name,
                                    f":{PORT}/", self.database.name, "?sslmode=require")


def postgres(label: str, args: SelfHostedArgs, group: pulumi.Input[str], net: PrivateNetwork,
             identity: managedidentity.UserAssignedIdentity, tags: dict, parent: pulumi.Resource) -> Database:
    child = pulumi.ResourceOptions(parent=parent)
    names = args.names
    server = dbforpostgresql.Server(
        f"{label}-postgres", server_name=names["postgres"], resource_group_name=group, location=args.region,
        version=args.postgres_version,
        sku=dbforpostgresql.SkuArgs(name=args.postgres_sku, tier=args.postgres_tier),
        storage=dbforpostgresql.StorageArgs(storage_size_gb=args.postgres_storage_gb, auto_grow="Enabled"),
        backup=dbforpostgresql.BackupArgs(backup_retention_days=args.postgres_backup_retention_days,
                                          geo_redundant_backup="Enabled" if args.postgres_geo_redundant_backup
                                          else "Disabled"),
        high_availability=dbforpostgresql.HighAvailabilityArgs(mode=args.postgres_high_availability),
        network=dbforpostgresql.NetworkArgs(delegated_subnet_resource_id=net.subnet_id("postgres"),
                                            private_dns_zone_arm_resource_id=net.postgres_zone.id,
                                            public_network_access="Disabled"),
        auth_config=dbforpostgresql.AuthConfigArgs(active_directory_auth="Enabled", password_auth="Disabled",
                                                   tenant_id=_tenant(parent)),
        tags=tags, opts=pulumi.ResourceOptions(parent=parent, depends_on=net.links))
    administrator = dbforpostgresql.Administrator(
        f"{label}-postgres-admin", server_name=server.name, resource_group_name=group,
        object_id=identity.principal_id, principal_name=identity.name, principal_type="servicePrincipal",
        tenant_id=identity.tenant_id, opts=child)
    database = dbforpostgresql.Database(
        f"{label}-postgres-database", database_name=names["database"], server_name=server.name,
        resource_group_name=group, charset="UTF8", collation="en_US.utf8", opts=child)
    tls = dbforpostgresql.Configuration(
        f"{label}-postgres-tls", configuration_name="require_secure_transport", value="on", source="user-override",
        server_name=server.name, resource_group_name=group, opts=child)
    return Database(server, administrator, database, tls)


def _tenant(parent: pulumi.Resource) -> pulumi.Output[str]:
    return authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=parent)).tenant_id
