"""Where the service runs: a Log Analytics workspace, a Container Apps environment on the private network
(workload profiles, Consumption), and the Container App running the cvlocal image by digest.

The app: HTTPS ingress only (HTTP is redirected by the platform, never served), probes on /health (liveness,
start-up) and /ready (readiness: the database and the blobs answer), replicas and an HTTP scale rule from
config, resources from config (cpu, twice that in GiB; config.py says what `make bench` measured), cvlocal's
tier and training workers, keys from Key Vault references, the database with Entra tokens, the blobs with the
managed identity."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import app, managedidentity, operationalinsights

from infra.self_hosted.config import SelfHostedArgs
from infra.self_hosted.database import Database
from infra.self_hosted.network import PrivateNetwork
from infra.self_hosted.registry import Registry
from infra.self_hosted.secrets import VARIABLES, Secrets
from infra.self_hosted.storage import Blobs

PORT = 8400  # the image's `cvlocal serve --port 8400` (Dockerfile)
PROFILE = "Consumption"


@dataclass
class Environment:
    logs: operationalinsights.Workspace
    environment: app.ManagedEnvironment


def environment(label: str, args: SelfHostedArgs, group: pulumi.Input[str], net: PrivateNetwork, tags: dict,
                parent: pulumi.Resource) -> Environment:
    child = pulumi.ResourceOptions(parent=parent)
    logs = operationalinsights.Workspace(
        f"{label}-logs", workspace_name=args.names["logs"], resource_group_name=group, location=args.region,
        sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"), retention_in_days=args.log_retention_days,
        tags=tags, opts=child)
    keys = operationalinsights.get_shared_keys_output(resource_group_name=group, workspace_name=logs.name,
                                                      opts=pulumi.InvokeOutputOptions(parent=parent))
    managed = app.ManagedEnvironment(
        f"{label}-environment", environment_name=args.names["environment"], resource_group_name=group,
        location=args.region,
        workload_profiles=[app.WorkloadProfileArgs(name=PROFILE, workload_profile_type=PROFILE)],
        vnet_configuration=app.VnetConfigurationArgs(infrastructure_subnet_id=net.subnet_id("apps"), internal=False),
        app_logs_configuration=app.AppLogsConfigurationArgs(
            destination="log-analytics",
            log_analytics_configuration=app.LogAnalyticsConfigurationArgs(
                customer_id=logs.customer_id, shared_key=pulumi.Output.secret(keys.primary_shared_key))),
        tags=tags, opts=child)
    return Environment(logs, managed)


def serve_args(args: SelfHostedArgs, database: Database, blobs: Blobs,
               identity: managedidentity.UserAssignedIdentity) -> list[pulumi.Input[str]]:
    """Appended to the image's `cvlocal serve --host 0.0.0.0 --port 8400 --data-dir /data`."""
    return ["--database", database.url(identity.name), "--blobs", blobs.url,
            "--training-workers", str(args.training_workers), "--tier", args.tier,
            # The platform's ingress is the only way in: trust its X-Forwarded-* (scheme, host) from any address.
            "--forwarded-allow-ips", "*"]


def _probe(kind: str, path: str, **timing) -> app.ContainerAppProbeArgs:
    return app.ContainerAppProbeArgs(type=kind, http_get=app.ContainerAppProbeHttpGetArgs(path=path, port=PORT),
                                     **timing)


def container_app(label: str, args: SelfHostedArgs, group: pulumi.Input[str], env: Environment,
                  identity: managedidentity.UserAssignedIdentity, registry: Registry, secrets: Secrets,
                  database: Database, blobs: Blobs, after: list[pulumi.Resource], tags: dict,
                  parent: pulumi.Resource) -> app.ContainerApp:
    environment_variables = [app.EnvironmentVarArgs(name=variable, secret_ref=name)
                             for name, variable in VARIABLES.items()]
    environment_variables += [
        app.EnvironmentVarArgs(name="AZURE_CLIENT_ID", value=identity.client_id),  # which identity signs in
        app.EnvironmentVarArgs(name="CVLOCAL_DATABASE_AUTH", value="entra"),
        # Not read by cvlocal: a new secret version changes it, which rolls out a new revision (secrets.py).
        app.EnvironmentVarArgs(name="CVLOCAL_SECRETS_VERSION", value=secrets.secrets_version()),
    ]
    return app.ContainerApp(
        f"{label}-app", container_app_name=args.names["app"], resource_group_name=group, location=args.region,
        managed_environment_id=env.environment.id, workload_profile_name=PROFILE,
        identity=app.ManagedServiceIdentityArgs(type="UserAssigned", user_assigned_identities=[identity.id]),
        configuration=app.ConfigurationArgs(
            active_revisions_mode="Single",
            ingress=app.IngressArgs(external=True, target_port=PORT, transport="auto", allow_insecure=False),
            registries=[app.RegistryCredentialsArgs(server=registry.login_server, identity=identity.id)],
            secrets=[app.SecretArgs(name=name, key_vault_url=secrets.reference(name), identity=identity.id)
                     for name in VARIABLES]),
        template=app.TemplateArgs(
            containers=[app.ContainerArgs(
                name="cvlocal", image=args.image, args=serve_args(args, database, blobs, identity),
                env=environment_variables,
                resources=app.ContainerResourcesArgs(cpu=args.cpu, memory=f"{args.memory_gib:g}Gi"),
                probes=[_probe("Startup", "/health", period_seconds=5, failure_threshold=24),
                        _probe("Liveness", "/health", period_seconds=10, failure_threshold=3),
                        _probe("Readiness", "/ready", period_seconds=10, failure_threshold=3)])],
            scale=app.ScaleArgs(min_replicas=args.min_replicas, max_replicas=args.max_replicas, rules=[
                app.ScaleRuleArgs(name="http-requests", http=app.HttpScaleRuleArgs(
                    metadata={"concurrentRequests": str(args.concurrent_requests)}))]),
            # SIGTERM: in-flight requests finish and trainings go back to the other replicas (docs/scale.md).
            termination_grace_period_seconds=40),
        tags=tags,
        # The first revision pulls with AcrPull and reads the Key Vault references: grant those first.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after))
