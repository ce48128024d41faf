"""`mode: self-hosted` (infra/self_hosted/): the real program with mocked Azure, no CLI, no cloud. What a review
would check by hand: every resource a child of the component, no public path to the database or the blobs, keys
off on the storage account, secrets only as secrets, each role at the narrowest scope (GUIDs written out here,
from Microsoft's built-in roles lists, not imported), the Container App's flags as cvlocal parses them, the
image by digest, config refused before any resource, and a preview of a new stack."""
from __future__ import annotations

import re
import runpy
from pathlib import Path

import pulumi
import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DEPLOYER = "11111111-2222-3333-4444-555555555555"
IMAGE = "cvopsdevcr.azurecr.io/cvlocal@sha256:" + "0123456789abcdef" * 4

# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage, /security, /containers
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"
SECRET_MARK = "4dabf18193072939515e22adb298388d"  # Pulumi's wire marker of a secret value

TYPES = {
    "resources:ResourceGroup": 1, "managedidentity:UserAssignedIdentity": 1, "network:VirtualNetwork": 1,
    "privatedns:PrivateZone": 2, "privatedns:VirtualNetworkLink": 2, "dbforpostgresql:Server": 1,
    "dbforpostgresql:Administrator": 1, "dbforpostgresql:Database": 1, "dbforpostgresql:Configuration": 1,
    "storage:StorageAccount": 1, "storage:BlobServiceProperties": 1, "storage:BlobContainer": 1,
    "network:PrivateEndpoint": 1, "network:PrivateDnsZoneGroup": 1, "keyvault:Vault": 1, "keyvault:Secret": 5,
    "containerregistry:Registry": 1, "operationalinsights:Workspace": 1, "app:ManagedEnvironment": 1,
    "app:ContainerApp": 1, "authorization:RoleAssignment": 8,
}


def arm_id(args: pulumi.runtime.MockResourceArgs, provider: str, name: str) -> str:
    group = args.inputs.get("resourceGroupName", "rg")
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{provider}/{name}"


def unknown(computed: dict, inputs: dict) -> dict:
    """`computed` with every value Azure makes (not an input) unknown, as a preview of a new stack has it."""
    def one(key, value):
        given = inputs.get(key)
        if isinstance(value, dict) and isinstance(given, dict):
            return unknown(value, given)
        return given if key in inputs and given == value else pulumi.output.UNKNOWN
    return {key: one(key, value) for key, value in computed.items()}


class AzureMocks(pulumi.runtime.Mocks):
    """Answers as ARM would, with what Azure computes (ids, host names, principal ids). `fresh`: a preview of a
    stack never deployed, where nothing Azure computes is known."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []
        self.fresh = False
        self.version = "v1"  # the version Key Vault gives a secret it stores

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(args)
        out, inputs, typ = dict(args.inputs), args.inputs, args.typ.removeprefix("azure-native:")
        if args.typ == "random:index/randomPassword:RandomPassword":
            return [args.name, {**out, "result": f"generated-{args.name}-" + "x" * 24}]
        if args.typ == "random:index/randomId:RandomId":
            return [args.name, {**out, "hex": "ab" * 32}]
        computed = {
            "resources:ResourceGroup": lambda: (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/"
                                                f"{inputs['resourceGroupName']}", {"name": inputs["resourceGroupName"]}),
            "managedidentity:UserAssignedIdentity": lambda: (
                arm_id(args, "Microsoft.ManagedIdentity/userAssignedIdentities", inputs["resourceName"]),
                {"name": inputs["resourceName"], "principalId": "99999999-0000-0000-0000-00000000000a",
                 "clientId": "99999999-0000-0000-0000-00000000000b", "tenantId": TENANT}),
            "network:VirtualNetwork": lambda: (
                arm_id(args, "Microsoft.Network/virtualNetworks", inputs["virtualNetworkName"]), {}),
            "privatedns:PrivateZone": lambda: (
                arm_id(args, "Microsoft.Network/privateDnsZones", inputs["privateZoneName"]),
                {"name": inputs["privateZoneName"]}),
            "dbforpostgresql:Server": lambda: (
                arm_id(args, "Microsoft.DBforPostgreSQL/flexibleServers", inputs["serverName"]),
                {"name": inputs["serverName"],
                 "fullyQualifiedDomainName": f"{inputs['serverName']}.postgres.database.azure.com"}),
            "dbforpostgresql:Database": lambda: (f"{args.name}-id", {"name": inputs["databaseName"]}),
            "storage:StorageAccount": lambda: (
                arm_id(args, "Microsoft.Storage/storageAccounts", inputs["accountName"]), {"name": inputs["accountName"]}),
            "storage:BlobContainer": lambda: (
                arm_id(args, "Microsoft.Storage/storageAccounts", "cvopsdevblobs/blobServices/default/containers/"
                       + inputs["containerName"]), {"name": inputs["containerName"]}),
            "network:PrivateEndpoint": lambda: (f"{args.name}-id", {"name": inputs["privateEndpointName"]}),
            "keyvault:Vault": lambda: (
                arm_id(args, "Microsoft.KeyVault/vaults", inputs["vaultName"]),
                {"name": inputs["vaultName"], "properties": {
                    **inputs["properties"], "vaultUri": f"https://{inputs['vaultName']}.vault.azure.net/"}}),
            "keyvault:Secret": lambda: (
                arm_id(args, "Microsoft.KeyVault/vaults", f"cvops-dev-kv/secrets/{inputs['secretName']}"),
                {"properties": {"secretUriWithVersion": f"https://cvops-dev-kv.vault.azure.net/secrets/"
                                                        f"{inputs['secretName']}/{self.version}"}}),
            "containerregistry:Registry": lambda: (
                arm_id(args, "Microsoft.ContainerRegistry/registries", inputs["registryName"]),
                {"loginServer": f"{inputs['registryName'].lower()}.azurecr.io"}),
            "operationalinsights:Workspace": lambda: (
                arm_id(args, "Microsoft.OperationalInsights/workspaces", inputs["workspaceName"]),
                {"name": inputs["workspaceName"], "customerId": "logs-customer-id"}),
            "app:ManagedEnvironment": lambda: (arm_id(args, "Microsoft.App/managedEnvironments",
                                                      inputs["environmentName"]), {}),
            "app:ContainerApp": lambda: (
                arm_id(args, "Microsoft.App/containerApps", inputs["containerAppName"]),
                {"configuration": {**inputs["configuration"], "ingress": {
                    **inputs["configuration"]["ingress"],
                    "fqdn": f"{inputs['containerAppName']}.blue-sky-1234.westeurope.azurecontainerapps.io"}},
                 # ARM answers the identities as a map of id -> its principal and client ids.
                 "identity": {"type": "UserAssigned", "userAssignedIdentities": {
                     identity: {"principalId": "p", "clientId": "c"}
                     for identity in inputs["identity"]["userAssignedIdentities"]}}}),
        }
        if typ in computed:
            resource_id, extra = computed[typ]()
            if self.fresh:  # a preview: what Azure computes is unknown
                return ["", {**out, **unknown(extra, inputs)}]
            return [resource_id, {**out, **extra}]
        return ["" if self.fresh else f"{args.name}-id", out]

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append(args)
        if args.token == "azure-native:resources:getResourceGroup":
            return {}, [("", "404 ResourceGroupNotFound: Resource group could not be found.")]
        if args.token == "azure-native:authorization:getClientConfig":
            return {"subscriptionId": SUBSCRIPTION, "tenantId": TENANT, "clientId": "c", "objectId": DEPLOYER}
        if args.token == "azure-native:operationalinsights:getSharedKeys":
            return {"primarySharedKey": "log-analytics-shared-key", "secondarySharedKey": "second"}
        if args.token == "azure-native:containerregistry:getRegistry":
            name = args.args["registryName"]
            return {"id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{args.args['resourceGroupName']}/providers/"
                          f"Microsoft.ContainerRegistry/registries/{name}", "loginServer": f"{name}.azurecr.io"}
        raise NotImplementedError(args.token)

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == f"azure-native:{typ}"]

    def one(self, typ: str) -> dict:
        [resource] = self.of_type(typ)
        return resource.inputs


MOCKS = AzureMocks()
pulumi.runtime.set_mocks(MOCKS, project="cvops", stack="dev", preview=False)

from infra.config import ConfigError, parse_args  # noqa: E402
from infra.self_hosted.component import SelfHosted  # noqa: E402
from infra.self_hosted.config import SelfHostedArgs  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_mocks():
    pulumi.runtime.set_mocks(MOCKS, project="cvops", stack="dev", preview=False)
    MOCKS.resources.clear()
    MOCKS.calls.clear()
    MOCKS.fresh = False
    MOCKS.version = "v1"
    yield


def args(**values) -> SelfHostedArgs:
    return parse_args({"region": "westeurope", "mode": "self-hosted", "image": IMAGE, **values}, stack="dev")


def settled(component: SelfHosted, check):
    """Run `check(values, secret_flags)` once outputs, every role assignment, the environment and the app have
    settled."""
    outputs = component.outputs()

    async def states():
        return ({name: await o.future() for name, o in outputs.items()},
                {name: await o.is_secret() for name, o in outputs.items()})

    # the environment too: it registers only once the log workspace's keys are looked up, which may come last
    registered = pulumi.Output.all(*[grant.urn for grant in component.grants.made],
                                   component.environment.environment.urn,
                                   *([component.app.urn] if component.app else []))
    return pulumi.Output.all(pulumi.Output.from_input(states()), registered).apply(lambda pair: check(*pair[0]))


def is_secret(value) -> bool:
    return isinstance(value, dict) and value.get(SECRET_MARK) == "1b47061264138c4ac30d75fd1eb44270"


@pulumi.runtime.test
def test_the_resource_graph_is_every_resource_the_service_needs_each_a_child_of_the_component():
    component = SelfHosted("graph", args(principalId=DEPLOYER))

    def check(_values, _secret):
        counts = {}
        for resource in MOCKS.resources:
            if resource.typ.startswith("azure-native:"):
                key = resource.typ.removeprefix("azure-native:")
                counts[key] = counts.get(key, 0) + 1
        assert counts == TYPES
        monitor = pulumi.runtime.settings.get_monitor()
        mine = [urn for urn in monitor.resources if "::graph-" in urn]
        # parent= on every one: each URN is under the component's type.
        assert len(mine) == sum(TYPES.values()) + 5  # the Azure resources, and the four keys and the secret
        assert all("cvops:infra:SelfHosted$" in urn for urn in mine if not urn.endswith("SelfHosted::graph")), \
            [urn for urn in mine if "cvops:infra:SelfHosted$" not in urn]

    return settled(component, check)


@pulumi.runtime.test
def test_postgres_has_no_public_path_requires_tls_and_takes_entra_tokens_only():
    component = SelfHosted("pg", args(postgresSku="Standard_D2ds_v5", postgresHighAvailability="ZoneRedundant",
                                      postgresBackupRetentionDays="14", postgresStorageGb="128"))

    def check(_values, _secret):
        server = MOCKS.one("dbforpostgresql:Server")
        assert server["network"]["publicNetworkAccess"] == "Disabled"
        assert server["network"]["delegatedSubnetResourceId"].endswith("/virtualNetworks/cvops-dev-vnet/subnets/postgres")
        assert server["network"]["privateDnsZoneArmResourceId"].endswith(
            "/privateDnsZones/cvops-dev-pg.private.postgres.database.azure.com")
        assert server["authConfig"] == {"activeDirectoryAuth": "Enabled", "passwordAuth": "Disabled",
                                         "tenantId": TENANT}
        assert "administratorLogin" not in server and "administratorLoginPassword" not in server
        assert server["sku"] == {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"} and server["version"] == "17"
        assert server["highAvailability"]["mode"] == "ZoneRedundant"
        assert server["backup"]["backupRetentionDays"] == 14 and server["storage"]["storageSizeGB"] == 128
        assert MOCKS.one("dbforpostgresql:Configuration") | {} == {
            "configurationName": "require_secure_transport", "value": "on", "source": "user-override",
            "serverName": "cvops-dev-pg", "resourceGroupName": "rg-cvops-dev"}
        admin = MOCKS.one("dbforpostgresql:Administrator")
        assert admin["principalName"] == "cvops-dev-id" and admin["principalType"] == "servicePrincipal"
        assert admin["objectId"] == "99999999-0000-0000-0000-00000000000a"
        subnets = {s["name"]: s for s in MOCKS.one("network:VirtualNetwork")["subnets"]}
        assert subnets["postgres"]["delegations"][0]["serviceName"] == "Microsoft.DBforPostgreSQL/flexibleServers"
        assert subnets["apps"]["delegations"][0]["serviceName"] == "Microsoft.App/environments"

    return settled(component, check)


@pulumi.runtime.test
def test_the_blobs_have_no_public_path_no_shared_keys_and_soft_delete():
    component = SelfHosted("blobs", args(blobSoftDeleteDays="14"))

    def check(_values, _secret):
        account = MOCKS.one("storage:StorageAccount")
        assert account["allowSharedKeyAccess"] is False and account["defaultToOAuthAuthentication"] is True
        assert account["minimumTlsVersion"] == "TLS1_2" and account["enableHttpsTrafficOnly"] is True
        assert account["allowBlobPublicAccess"] is False and account["publicNetworkAccess"] == "Disabled"
        assert account["networkRuleSet"] == {"defaultAction": "Deny", "bypass": "None"}
        assert MOCKS.one("storage:BlobContainer")["publicAccess"] == "None"
        service = MOCKS.one("storage:BlobServiceProperties")
        assert service["deleteRetentionPolicy"] == {"enabled": True, "days": 14}
        assert service["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 14}
        endpoint = MOCKS.one("network:PrivateEndpoint")
        assert endpoint["subnet"]["id"].endswith("/subnets/endpoints")
        [connection] = endpoint["privateLinkServiceConnections"]
        assert connection["groupIds"] == ["blob"] and connection["privateLinkServiceId"].endswith(
            "/storageAccounts/cvopsdevblobs")
        [zone] = MOCKS.one("network:PrivateDnsZoneGroup")["privateDnsZoneConfigs"]
        assert zone["privateDnsZoneId"].endswith("/privateDnsZones/privatelink.blob.core.windows.net")
        assert {link["privateZoneName"] for link in (r.inputs for r in MOCKS.of_type("privatedns:VirtualNetworkLink"))} \
            == {"cvops-dev-pg.private.postgres.database.azure.com", "privatelink.blob.core.windows.net"}

    return settled(component, check)


def role_grants() -> list[tuple[str, str, str, str]]:
    """(principal, principal type, role GUID, scope) of every role assignment."""
    prefix = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
    found = []
    for grant in MOCKS.of_type("authorization:RoleAssignment"):
        inputs = grant.inputs
        assert inputs["roleDefinitionId"].startswith(prefix)
        found.append((inputs["principalId"], inputs["principalType"], inputs["roleDefinitionId"][len(prefix):],
                      inputs["scope"]))
    return found


@pulumi.runtime.test
def test_each_role_is_granted_at_the_narrowest_scope():
    component = SelfHosted("roles", args(principalId=DEPLOYER))
    identity = "99999999-0000-0000-0000-00000000000a"

    def check(_values, _secret):
        grants = role_grants()
        group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-cvops-dev/providers/"
        assert sorted(grants) == sorted([
            (identity, "ServicePrincipal", STORAGE_BLOB_DATA_CONTRIBUTOR,
             group + "Microsoft.Storage/storageAccounts/cvopsdevblobs/blobServices/default/containers/cvlocal"),
            *[(identity, "ServicePrincipal", KEY_VAULT_SECRETS_USER,
               group + f"Microsoft.KeyVault/vaults/cvops-dev-kv/secrets/{name}")
              for name in ("training-key", "training-key2", "prediction-key", "prediction-key2", "signing-secret")],
            (identity, "ServicePrincipal", ACR_PULL, group + "Microsoft.ContainerRegistry/registries/cvopsdevcr"),
            (DEPLOYER, "ServicePrincipal", ACR_PUSH, group + "Microsoft.ContainerRegistry/registries/cvopsdevcr"),
        ])
        # Nothing at the resource group, the subscription, the whole account or the whole vault.
        assert not any(scope.rstrip("/").endswith(("rg-cvops-dev", SUBSCRIPTION, "cvopsdevblobs", "cvops-dev-kv"))
                       for *_, scope in grants)

    return settled(component, check)


def test_the_deploy_identitys_condition_covers_exactly_the_roles_self_hosted_grants():
    """The ABAC condition the docs give the deploy identity (infra/roles.py) lists these GUIDs and no other."""
    import subprocess
    import sys
    printed = subprocess.run([sys.executable, "-m", "infra.roles", "condition", "--mode", "self-hosted"],
                             capture_output=True, text=True, cwd=ROOT, timeout=60).stdout
    guids = set(re.findall(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}", printed))
    assert guids == {STORAGE_BLOB_DATA_CONTRIBUTOR, KEY_VAULT_SECRETS_USER, ACR_PULL, ACR_PUSH}
    assert printed.count("@Request[") == 1 and printed.count("@Resource[") == 1
    assert printed.strip() in (ROOT / "docs" / "deploy.md").read_text()


def all_values(value):
    if isinstance(value, dict):
        if is_secret(value):
            return
        for item in value.values():
            yield from all_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_values(item)
    else:
        yield value


@pulumi.runtime.test
def test_keys_and_the_log_key_exist_only_as_secrets():
    component = SelfHosted("secrets", args())

    def check(values, secret):
        assert secret["trainingKey"] and secret["predictionKey"]
        assert values["trainingKey"].startswith("generated-secrets-training-key-")
        assert values["predictionKey"].startswith("generated-secrets-prediction-key-")
        assert {name for name, flag in secret.items() if flag} == {"trainingKey", "predictionKey"}
        generated = {values["trainingKey"], values["predictionKey"], "ab" * 32, "log-analytics-shared-key"}
        generated |= {f"generated-secrets-{name}-" + "x" * 24 for name in ("training-key2", "prediction-key2")}
        # Outside a secret wrapper, no resource input holds a key, the signing secret or the log workspace's key.
        for resource in MOCKS.resources:
            if resource.typ.startswith("azure-native:"):
                leaked = generated & {v for v in all_values(resource.inputs) if isinstance(v, str)}
                assert not leaked, (resource.typ, leaked)
        for secret_resource in MOCKS.of_type("keyvault:Secret"):
            assert is_secret(secret_resource.inputs["properties"]), secret_resource.inputs["secretName"]
        environment = MOCKS.one("app:ManagedEnvironment")
        assert is_secret(environment["appLogsConfiguration"])  # the shared key makes the whole object secret
        # The app holds Key Vault references, never values.
        configuration = MOCKS.one("app:ContainerApp")["configuration"]
        assert all("value" not in s and s["keyVaultUrl"].startswith("https://cvops-dev-kv.vault.azure.net/secrets/")
                   for s in configuration["secrets"])
        vault = MOCKS.one("keyvault:Vault")["properties"]
        assert vault["enableRbacAuthorization"] is True and vault["enablePurgeProtection"] is True
        assert "accessPolicies" not in vault

    return settled(component, check)


@pulumi.runtime.test
def test_the_container_app_runs_the_image_by_digest_with_flags_cvlocal_parses():
    from cvlocal.cli import _parser
    from tests.infra.test_cluster_deployment import entrypoint

    component = SelfHosted("app", args(minReplicas="2", maxReplicas="6", concurrentRequests="15",
                                       trainingWorkers="2", cpu="1.5", tier="F0"))

    def check(values, _secret):
        inputs = MOCKS.one("app:ContainerApp")
        [container] = inputs["template"]["containers"]
        assert container["image"] == IMAGE
        serve = _parser().parse_args([*entrypoint()[1:], *container["args"]])  # as the image runs it
        assert serve.database == ("postgresql://cvops-dev-id@cvops-dev-pg.postgres.database.azure.com:5432/cvlocal"
                                  "?sslmode=require")
        assert serve.blobs == "azureblob://cvopsdevblobs/cvlocal" and serve.training_workers == 2
        assert serve.tier.name == "F0" and serve.port == 8400 and serve.host == "0.0.0.0"
        env = {e["name"]: e for e in container["env"]}
        assert {name: e.get("secretRef") for name, e in env.items() if "secretRef" in e} == {
            "CVLOCAL_TRAINING_KEY": "training-key", "CVLOCAL_TRAINING_KEY2": "training-key2",
            "CVLOCAL_PREDICTION_KEY": "prediction-key", "CVLOCAL_PREDICTION_KEY2": "prediction-key2",
            "CVLOCAL_SIGNING_SECRET": "signing-secret"}
        assert env["CVLOCAL_DATABASE_AUTH"]["value"] == "entra"
        assert env["AZURE_CLIENT_ID"]["value"] == "99999999-0000-0000-0000-00000000000b"
        assert {s["name"] for s in inputs["configuration"]["secrets"]} == {e["secretRef"] for e in env.values()
                                                                           if "secretRef" in e}
        assert container["resources"] == {"cpu": 1.5, "memory": "3Gi"}
        probes = {p["type"]: p["httpGet"]["path"] for p in container["probes"]}
        assert probes == {"Startup": "/health", "Liveness": "/health", "Readiness": "/ready"}
        assert {p["httpGet"]["port"] for p in container["probes"]} == {8400}
        ingress = inputs["configuration"]["ingress"]
        assert ingress["external"] is True and ingress["allowInsecure"] is False and ingress["targetPort"] == 8400
        scale = inputs["template"]["scale"]
        assert (scale["minReplicas"], scale["maxReplicas"]) == (2, 6)
        assert scale["rules"] == [{"name": "http-requests", "http": {"metadata": {"concurrentRequests": "15"}}}]
        assert inputs["identity"]["userAssignedIdentities"] == [
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-cvops-dev/providers/Microsoft.ManagedIdentity/"
            "userAssignedIdentities/cvops-dev-id"]
        assert inputs["configuration"]["registries"] == [{
            "server": "cvopsdevcr.azurecr.io", "identity": inputs["identity"]["userAssignedIdentities"][0]}]
        # The stack outputs the pipeline reads, as the Azure modes have them.
        assert values["trainingEndpoint"] == values["predictionEndpoint"] == \
            "https://cvops-dev-app.blue-sky-1234.westeurope.azurecontainerapps.io/"
        assert values["trainingSku"] == "F0" and values["mode"] == "self-hosted"
        assert values["predictionResourceId"] == (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-cvops-dev/"
                                                  "providers/Microsoft.CognitiveServices/accounts/cvops-dev-app")

    return settled(component, check)


def test_the_apps_port_and_entrypoint_are_the_images():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "EXPOSE 8400" in dockerfile and '"--port", "8400"' in dockerfile


def test_the_prediction_resource_id_is_one_cvlocal_accepts_for_publishing():
    from cvlocal.api.schemas.iterations import PREDICTION_RESOURCE_ID

    assert PREDICTION_RESOURCE_ID.fullmatch(f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-cvops-dev/providers/"
                                            "Microsoft.CognitiveServices/accounts/cvops-dev-app")


@pulumi.runtime.test
def test_without_an_image_everything_but_the_app_is_made(monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))
    component = SelfHosted("first", args(image=""))

    def check(values, _secret):
        assert MOCKS.of_type("app:ContainerApp") == [] and len(MOCKS.of_type("app:ManagedEnvironment")) == 1
        assert values["trainingEndpoint"] == "" and values["registryLoginServer"] == "cvopsdevcr.azurecr.io"
        assert len(warnings) == 1 and "cvops:image is not set" in warnings[0]

    return settled(component, check)


@pulumi.runtime.test
def test_an_existing_registry_is_looked_up_and_only_pulled_from():
    component = SelfHosted("existing", args(createRegistry="false", registry="contosoimages",
                                            registryResourceGroup="rg-shared-images", principalId=DEPLOYER,
                                            image="contosoimages.azurecr.io/cvlocal@sha256:" + "f" * 64))

    def check(_values, _secret):
        assert MOCKS.of_type("containerregistry:Registry") == []
        [call] = [c for c in MOCKS.calls if c.token == "azure-native:containerregistry:getRegistry"]
        assert call.args == {"registryName": "contosoimages", "resourceGroupName": "rg-shared-images"}
        registry_roles = [(role, scope) for _, _, role, scope in role_grants() if "registries" in scope]
        assert registry_roles == [(ACR_PULL, f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-shared-images/"
                                             "providers/Microsoft.ContainerRegistry/registries/contosoimages")]

    return settled(component, check)


@pytest.fixture
def preview():
    pulumi.runtime.set_mocks(MOCKS, project="cvops", stack="dev", preview=True)
    yield MOCKS
    pulumi.runtime.set_mocks(MOCKS, project="cvops", stack="dev", preview=False)


@pulumi.runtime.test
def test_a_preview_of_a_new_stack_registers_everything_with_unknowns(preview):
    preview.fresh = True
    component = SelfHosted("new", args(principalId=DEPLOYER))
    outputs = component.outputs()

    async def states():
        return {name: (await o.is_known(), await o.is_secret()) for name, o in outputs.items()}

    def check(states):
        for name in ("trainingEndpoint", "predictionEndpoint", "registryLoginServer"):
            assert states[name][0] is False, f"{name} should be unknown before Azure made anything"
        assert states["trainingKey"][1] and states["predictionKey"][1]
        assert states["region"] == (True, False) and states["mode"] == (True, False)
        assert len(MOCKS.of_type("app:ContainerApp")) == 1 and len(MOCKS.of_type("keyvault:Secret")) == 5
        assert len(MOCKS.of_type("authorization:RoleAssignment")) == 8

    registered = pulumi.Output.all(*[grant.urn for grant in component.grants.made], component.app.urn)
    return pulumi.Output.all(pulumi.Output.from_input(states()), registered).apply(lambda pair: check(pair[0]))


OUTPUT_NAMES = {"trainingEndpoint", "trainingKey", "predictionEndpoint", "predictionKey", "predictionResourceId",
                "region", "mode", "trainingSku", "resourceGroup"}


@pulumi.runtime.test
def test_main_exports_the_azure_modes_outputs_for_self_hosted(monkeypatch):
    exported: dict[str, pulumi.Output] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    pulumi.runtime.set_all_config({"cvops:region": "westeurope", "cvops:mode": "self-hosted", "cvops:image": IMAGE})
    runpy.run_path(str(ROOT / "__main__.py"))
    assert OUTPUT_NAMES <= set(exported)

    def check(values):
        assert len(MOCKS.of_type("app:ContainerApp")) == 1 and values[0].startswith("https://cvops-dev-app.")

    return pulumi.Output.all(exported["trainingEndpoint"], *exported.values()).apply(check)


@pytest.mark.parametrize("values, message", [
    ({"postgresSku": "Standard_B3ms"}, "cvops:postgresSku 'Standard_B3ms' is not a PostgreSQL flexible server SKU; "
                                       "choose one of: Burstable Standard_B1ms"),
    ({"minReplicas": "4", "maxReplicas": "2"}, "cvops:minReplicas 4 is above cvops:maxReplicas 2"),
    ({"region": "antarctica"}, "cvops:region 'antarctica' does not offer both Azure Container Apps and PostgreSQL "
                               "flexible server"),
    ({"tier": "S1"}, "cvops:tier 'S1' is not valid; choose one of: F0, S0, unlimited"),
    ({"registry": "my-registry"}, "cvops:registry 'my-registry' is not valid: container registry names take letters "
                                  "and digits only"),
    ({"registry": "acr"}, "cvops:registry 'acr' is not valid: 3 characters; container registry names take 5 to 50"),
    ({"image": "cvopsdevcr.azurecr.io/cvlocal:latest"}, "cvops:image 'cvopsdevcr.azurecr.io/cvlocal:latest' is not "
                                                        "an image by digest"),
    ({"image": "ghcr.io/contoso/cvlocal@sha256:" + "a" * 64}, "is not an image by digest"),
    ({"image": "otherregistry.azurecr.io/cvlocal@sha256:" + "a" * 64}, "is in otherregistry.azurecr.io, not in the "
                                                                        "stack's registry cvopsdevcr.azurecr.io"),
    ({"postgresHighAvailability": "ZoneRedundant"}, "not offered on Burstable SKUs"),
    ({"postgresVersion": "13"}, "cvops:postgresVersion '13' is not valid; choose one of: 15, 16, 17"),
    ({"postgresStorageGb": "100"}, "cvops:postgresStorageGb '100' is not valid; choose one of: 32, 64"),
    ({"postgresBackupRetentionDays": "40"}, "choose a whole number from 7 to 35"),
    ({"cpu": "0.5", "trainingWorkers": "2"}, "cvops:cpu 0.5 gives a replica 1 GiB, and 2 training worker(s) need "
                                             "1.5 GiB"),
    ({"cpu": "3.3"}, "cvops:cpu '3.3' is not valid; choose one of: 0.5, 0.75, 1"),
    ({"namePrefix": "a-long-prefix-for-vault"}, "it makes the key vault name 'a-long-prefix-for-vault-kv'"),
    ({"registryResourceGroup": "rg-images"}, "set cvops:createRegistry false with it"),
    ({"concurrentRequests": "0"}, "choose a whole number from 1 to 1000"),
])
def test_config_that_cannot_work_is_refused_before_any_resource(values, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        args(**values)
    assert MOCKS.resources == []


def test_the_tiers_are_cvlocals():
    from cvlocal.tiers import TIERS
    from infra.self_hosted.config import TIERS as CONFIG_TIERS

    assert set(CONFIG_TIERS) == set(TIERS)


def test_defaults_fit_the_measured_memory_and_current_postgres():
    defaults = args()
    assert (defaults.cpu, defaults.memory_gib, defaults.training_workers) == (1.0, 2.0, 1)
    assert defaults.memory_gib * 1024 >= 2 * 350, "twice the 350 MB peak `make bench` measured"
    assert (defaults.postgres_sku, defaults.postgres_tier, defaults.postgres_version) == (
        "Standard_B1ms", "Burstable", "17")
    assert (defaults.min_replicas, defaults.max_replicas, defaults.tier) == (1, 3, "S0")


def test_the_region_list_has_a_source_and_a_date():
    from infra import regions

    text = Path(regions.__file__).read_text()
    assert "https://azure.microsoft.com/explore/global-infrastructure/products-by-region/" in text
    assert re.fullmatch(r"\d{4}-\d{2}", regions.SELF_HOSTED_REGIONS_CHECKED)
    assert "az provider show -n Microsoft.App" in text and "az postgres flexible-server list-skus" in text
    assert set(regions.SELF_HOSTED_REGIONS) >= {"eastus", "westeurope"}
    assert regions.SELF_HOSTED_REGIONS == tuple(sorted(regions.SELF_HOSTED_REGIONS))


def test_an_example_self_hosted_stack_is_valid():
    from infra.describe import stack_file_values

    values = stack_file_values("selfhosted")
    parsed = parse_args(values, stack="selfhosted")
    assert parsed.mode == "self-hosted" and parsed.image is None  # deploy.yml sets the image from its push


@pulumi.runtime.test
def test_the_registry_urn_deploy_yml_targets_is_the_programs(tmp_path, monkeypatch):
    """deploy.yml makes the registry first with `pulumi up --target <URN from infra.describe>`: a URN that does
    not match the program's would fail that step (or target nothing)."""
    from infra.describe import describe

    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  cvops:region: westeurope\n  cvops:mode: self-hosted\n"
                                              f"  cvops:principalId: {DEPLOYER}\n")
    described = describe("dev", tmp_path)
    assert described["registry"] == "cvopsdevcr" and described["create-registry"] == "true"
    monkeypatch.setattr(pulumi, "export", lambda name, value: None)
    pulumi.runtime.set_all_config({"cvops:region": "westeurope", "cvops:mode": "self-hosted",
                                   "cvops:principalId": DEPLOYER})
    component = runpy.run_path(str(ROOT / "__main__.py"))["stack"]
    push = next(grant for grant in component.grants.made if "registry-push" in grant._name)

    def check(urns):
        assert described["registry-targets"].split("\n") == urns  # the registry, then the deploy identity's push

    return pulumi.Output.all(component.registry.resource.urn, push.urn).apply(check)


def test_describe_refuses_a_stack_the_program_would_refuse(tmp_path, capsys):
    from infra.describe import main

    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  cvops:region: westeurope\n  cvops:mode: self-hosted\n"
                                              "  cvops:minReplicas: 5\n  cvops:maxReplicas: 2\n")
    import infra.describe as module
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(module, "ROOT", tmp_path)
    try:
        assert main(["bad"]) == 2
    finally:
        monkeypatch.undo()
    assert capsys.readouterr().err.startswith("error: cvops:minReplicas 5 is above cvops:maxReplicas 2")


def secrets_version_after(version: str) -> str:
    MOCKS.version = version
    component = SelfHosted(f"rotate-{version}", args())
    seen = []

    @pulumi.runtime.test
    def run():
        return component.app.urn.apply(lambda _: seen.append(
            {e["name"]: e.get("value") for e in MOCKS.of_type("app:ContainerApp")[-1].inputs["template"][
                "containers"][0]["env"]}["CVLOCAL_SECRETS_VERSION"]))
    run()
    return seen[0]


def test_a_new_secret_version_rolls_out_a_new_revision():
    """Key rotation replaces a key: Key Vault stores a new version, and the app's template must change with it, or
    the running replicas keep the old key until something else restarts them."""
    first, again, rotated = secrets_version_after("v1"), secrets_version_after("v1"), secrets_version_after("v2")
    assert re.fullmatch(r"[0-9a-f]{16}", first) and first == again and rotated != first


def test_describe_writes_several_targets_in_githubs_multiline_form():
    from infra.describe import github_output

    assert github_output({"mode": "self-hosted", "registry-targets": "urn:a\nurn:b"}) == (
        "mode=self-hosted\nregistry-targets<<END_OF_REGISTRY-TARGETS\nurn:a\nurn:b\nEND_OF_REGISTRY-TARGETS")
