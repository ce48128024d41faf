"""Pulumi unit tests of the real program (infra/ and __main__.py) with mocked Azure: no CLI, no cloud."""
from __future__ import annotations

import json
import runpy
from pathlib import Path

import pulumi
import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
PRINCIPAL = "11111111-2222-3333-4444-555555555555"

# Built-in role definition ids, written out from Microsoft's list (built-in-roles/ai-machine-learning),
# not imported from the module under test.
CUSTOM_VISION_CONTRIBUTOR = "c1ff6cc2-c111-46fe-8896-e0ef812ad9f3"
CUSTOM_VISION_DEPLOYMENT = "5c4089e1-6d96-4d2f-b296-c1bc7137275f"
COGNITIVE_SERVICES_USER = "a97b65f3-24c7-4388-baec-2e87135dc908"  # lists keys: never granted


class AzureMocks(pulumi.runtime.Mocks):
    """Answers like ARM would: ids, account endpoints, listAccountKeys key1/key2.

    `fresh = True` answers as a preview of a stack that was never deployed does: no ids, and no
    value for anything Azure computes (names, endpoints), which Pulumi then shows as unknown.
    """

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []
        self.fresh = False
        self.groups: dict[str, dict] = {}  # resource groups that exist in Azure: name -> location, tags

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(args)
        outputs = dict(args.inputs)
        if self.fresh:
            if args.typ == "azure-native:cognitiveservices:Account":
                outputs["properties"] = {**outputs.get("properties", {}), "endpoint": pulumi.output.UNKNOWN}
            return ["", outputs]
        if args.typ == "azure-native:resources:ResourceGroup":
            name = args.inputs["resourceGroupName"]
            outputs["name"] = name
            return [f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}", outputs]
        if args.typ == "azure-native:cognitiveservices:Account":
            name = args.inputs["accountName"]
            subdomain = args.inputs.get("properties", {}).get("customSubDomainName")
            endpoint = (f"https://{subdomain}.cognitiveservices.azure.com/" if subdomain
                        else f"https://{args.inputs['location']}.api.cognitive.microsoft.com/")
            outputs["name"] = name
            outputs["properties"] = {**args.inputs.get("properties", {}), "endpoint": endpoint}
            return [f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{args.inputs['resourceGroupName']}"
                    f"/providers/Microsoft.CognitiveServices/accounts/{name}", outputs]
        return [f"{args.name}-id", outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append(args)
        if args.token == "azure-native:cognitiveservices:listAccountKeys":
            account = args.args["accountName"]
            return {"key1": f"{account}-key1", "key2": f"{account}-key2"}
        if args.token == "azure-native:resources:getResourceGroup":
            name = args.args["resourceGroupName"]
            if name not in self.groups:  # as azure-native reports ARM's 404
                return {}, [("", f"request failed: GET /subscriptions/{SUBSCRIPTION}/resourcegroups/{name}: 404 "
                                 f"ResourceGroupNotFound: Resource group '{name}' could not be found.")]
            return {"name": name, "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}", **self.groups[name]}
        if args.token == "azure-native:authorization:getClientConfig":
            return {"subscriptionId": SUBSCRIPTION, "tenantId": "tenant", "clientId": "client", "objectId": PRINCIPAL}
        raise NotImplementedError(args.token)

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == f"azure-native:{typ}"]

    def accounts(self) -> dict[str, dict]:
        return {r.inputs["accountName"]: r.inputs for r in self.of_type("cognitiveservices:Account")}

    def listed_keys(self) -> bool:
        return any(c.token == "azure-native:cognitiveservices:listAccountKeys" for c in self.calls)


# The mocks go in before the program is imported, as Pulumi's testing guide asks.
MOCKS = AzureMocks()
pulumi.runtime.set_mocks(MOCKS, project="cvops", stack="dev", preview=False)

from infra.config import ConfigError, CustomVisionArgs, parse_args  # noqa: E402
from infra.custom_vision import CustomVision  # noqa: E402
from infra.regions import CUSTOM_VISION_REGIONS  # noqa: E402

OUTPUT_NAMES = {"trainingEndpoint", "trainingKey", "predictionEndpoint", "predictionKey",
                "predictionResourceId", "region", "mode", "trainingSku", "resourceGroup"}


@pytest.fixture(autouse=True)
def fresh_mocks():
    pulumi.runtime.set_mocks(MOCKS, project="cvops", stack="dev", preview=False)  # other modules set their own
    MOCKS.resources.clear()
    MOCKS.calls.clear()
    MOCKS.groups.clear()
    MOCKS.fresh = False
    yield


@pytest.fixture
def preview():
    """Run the program as `pulumi preview` does (a dry run); back to `pulumi up` afterwards."""
    pulumi.runtime.set_mocks(MOCKS, project="cvops", stack="dev", preview=True)
    yield MOCKS
    pulumi.runtime.set_mocks(MOCKS, project="cvops", stack="dev", preview=False)


def args(**values) -> CustomVisionArgs:
    return parse_args({"region": "eastus", **values}, stack="dev")


def checked(outputs: dict[str, pulumi.Output], check) -> pulumi.Output:
    """Run `check(values, secret_flags)` once every output has settled."""
    async def settle():
        secret = {name: await output.is_secret() for name, output in outputs.items()}
        return secret

    flags = pulumi.Output.from_input(settle())
    return pulumi.Output.all(flags, pulumi.Output.all(**outputs)).apply(lambda pair: check(pair[1], pair[0]))


def settled(outputs: dict[str, pulumi.Output], check) -> pulumi.Output:
    """Run `check({name: (value, known, secret)})`, also when some outputs are unknown (a preview)."""
    async def states():
        return {name: (await o.future(), await o.is_known(), await o.is_secret()) for name, o in outputs.items()}

    return pulumi.Output.from_input(states()).apply(check)


def granted_roles() -> set[tuple[str | None, str]]:
    """(account name or None while unknown, role definition GUID) of every role assignment registered."""
    prefix = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
    granted = set()
    for assignment in MOCKS.of_type("authorization:RoleAssignment"):
        inputs = assignment.inputs
        assert inputs["principalId"] == PRINCIPAL and inputs["principalType"] == "ServicePrincipal"
        assert inputs["roleDefinitionId"].startswith(prefix)
        scope = inputs.get("scope")  # unknown (not a str) in a preview of a new stack
        granted.add((scope.rsplit("/", 1)[1] if isinstance(scope, str) else None,
                     inputs["roleDefinitionId"][len(prefix):]))
    return granted


@pytest.mark.parametrize("mode, kinds", [
    ("multi-service", {"cvops-dev": "CognitiveServices"}),
    ("split", {"cvops-dev-training": "CustomVision.Training", "cvops-dev-prediction": "CustomVision.Prediction"}),
    ("mixed", {"cvops-dev-training": "CustomVision.Training", "cvops-dev-prediction": "CognitiveServices"}),
])
@pulumi.runtime.test
def test_each_mode_creates_its_kinds_in_one_region(mode, kinds):
    component = CustomVision("cv", args(mode=mode, region="West Europe"))

    def check(values, _secret):
        accounts = MOCKS.accounts()
        assert {name: a["kind"] for name, a in accounts.items()} == kinds
        assert {a["location"] for a in accounts.values()} == {"westeurope"}
        assert {a["sku"]["name"] for a in accounts.values()} == {"S0"}
        assert values["region"] == "westeurope" and values["mode"] == mode and values["trainingSku"] == "S0"
        prediction_name = next(n for n in kinds if n.endswith("prediction")) if mode != "multi-service" else "cvops-dev"
        assert values["predictionResourceId"].endswith(f"/Microsoft.CognitiveServices/accounts/{prediction_name}")

    return checked(component.outputs(), check)


@pulumi.runtime.test
def test_split_takes_a_free_tier_per_custom_vision_account():
    component = CustomVision("cv", args(mode="split", sku=json.dumps({"training": "S0", "prediction": "F0"})))

    def check(_values, _secret):
        skus = {name: a["sku"]["name"] for name, a in MOCKS.accounts().items()}
        assert skus == {"cvops-dev-training": "S0", "cvops-dev-prediction": "F0"}

    return checked(component.outputs(), check)


@pulumi.runtime.test
def test_mixed_takes_the_free_tier_for_its_training_account_only():
    component = CustomVision("cv", args(mode="mixed", sku=json.dumps({"training": "F0", "prediction": "S0"})))

    def check(values, _secret):
        accounts = MOCKS.accounts()
        assert {name: (a["kind"], a["sku"]["name"]) for name, a in accounts.items()} == {
            "cvops-dev-training": ("CustomVision.Training", "F0"),
            "cvops-dev-prediction": ("CognitiveServices", "S0"),
        }
        assert values["trainingSku"] == "F0"  # the pipeline paces to the training account's tier

    return checked(component.outputs(), check)


@pytest.mark.parametrize("mode", ["multi-service", "split", "mixed"])
@pulumi.runtime.test
def test_keys_come_from_list_account_keys_as_secrets(mode):
    component = CustomVision("cv", args(mode=mode))
    training = "cvops-dev" if mode == "multi-service" else "cvops-dev-training"
    prediction = "cvops-dev" if mode == "multi-service" else "cvops-dev-prediction"

    def check(values, secret):
        assert values["trainingKey"] == f"{training}-key1"
        assert values["predictionKey"] == f"{prediction}-key1"
        assert secret["trainingKey"] and secret["predictionKey"]
        assert not secret["trainingEndpoint"] and not secret["predictionResourceId"]
        assert MOCKS.listed_keys()

    return checked(component.outputs(), check)


@pulumi.runtime.test
def test_endpoints_follow_custom_subdomains():
    component = CustomVision("cv", args(mode="split", customSubdomains="true", namePrefix="contoso-cv"))

    def check(values, _secret):
        assert values["trainingEndpoint"] == "https://contoso-cv-training.cognitiveservices.azure.com/"
        assert values["predictionEndpoint"] == "https://contoso-cv-prediction.cognitiveservices.azure.com/"
        assert all(a["properties"]["customSubDomainName"] == name for name, a in MOCKS.accounts().items())

    return checked(component.outputs(), check)


def test_default_prefix_with_custom_subdomains_warns_that_the_name_is_global(monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))
    CustomVision("cv-default", args(mode="split", customSubdomains="true"))
    CustomVision("cv-own", args(mode="split", customSubdomains="true", namePrefix="contoso-cv"))
    CustomVision("cv-regional", args(mode="split"))
    assert len(warnings) == 1 and "'cvops-dev' (the default prefix)" in warnings[0]
    assert "cvops:namePrefix" in warnings[0]


@pulumi.runtime.test
def test_main_exports_every_output(monkeypatch):
    exported: dict[str, pulumi.Output] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    pulumi.runtime.set_all_config({"cvops:region": "eastus", "cvops:mode": "multi-service", "cvops:sku": "S0"})
    runpy.run_path(str(ROOT / "__main__.py"))
    assert set(exported) == OUTPUT_NAMES

    def check(values, secret):
        assert values["trainingEndpoint"] == "https://eastus.api.cognitive.microsoft.com/"
        assert values["trainingEndpoint"] == values["predictionEndpoint"]
        assert values["trainingKey"] == values["predictionKey"] == "cvops-dev-key1"
        assert values["resourceGroup"] == "rg-cvops-dev"
        assert (values["region"], values["mode"]) == ("eastus", "multi-service")
        assert {name for name, is_secret in secret.items() if is_secret} == {"trainingKey", "predictionKey"}

    return checked(exported, check)


@pytest.mark.parametrize("mode, expected", [
    # Contributor's `accounts/CustomVision/*` includes classify: one account, one role.
    ("multi-service", {("cvops-dev", CUSTOM_VISION_CONTRIBUTOR)}),
    ("split", {("cvops-dev-training", CUSTOM_VISION_CONTRIBUTOR), ("cvops-dev-prediction", CUSTOM_VISION_DEPLOYMENT)}),
    ("mixed", {("cvops-dev-training", CUSTOM_VISION_CONTRIBUTOR), ("cvops-dev-prediction", CUSTOM_VISION_DEPLOYMENT)}),
])
@pulumi.runtime.test
def test_disable_local_auth_grants_the_narrowest_roles_and_drops_keys(mode, expected):
    component = CustomVision("cv", args(mode=mode, disableLocalAuth="true", principalId=PRINCIPAL,
                                        namePrefix="cvops-dev"))

    def check(values, secret):
        accounts = MOCKS.accounts()
        assert all(a["properties"]["disableLocalAuth"] is True for a in accounts.values())
        assert all(a["properties"]["customSubDomainName"] == name for name, a in accounts.items())
        granted = granted_roles()
        assert granted == expected
        assert COGNITIVE_SERVICES_USER not in {role for _, role in granted}
        assert values["trainingKey"] == values["predictionKey"] == "" and secret["trainingKey"]
        assert not MOCKS.listed_keys()

    # Wait for the assignments too: they register once the account id and subscription are known.
    assigned = pulumi.Output.all(*[a.id for a in component.role_assignments])
    return checked({**component.outputs(), "assignments": assigned}, check)


@pulumi.runtime.test
def test_no_role_assignments_without_a_principal():
    component = CustomVision("cv", args(mode="split"))

    def check(_values, _secret):
        assert MOCKS.of_type("authorization:RoleAssignment") == []

    return checked(component.outputs(), check)


@pulumi.runtime.test
def test_every_azure_resource_is_a_child_of_the_component():
    """`parent=` on every child: forgetting it moves a resource out of the component (and renames its URN)."""
    component = CustomVision("parented", args(mode="split", principalId=PRINCIPAL))
    children = [component.resource_group, *component.accounts.values(), *component.role_assignments]

    def check(urns):
        assert len(urns) == 5  # group, two accounts, two role assignments
        monitor = pulumi.runtime.settings.get_monitor()
        registered = [urn for urn in monitor.resources if urn.endswith(tuple(
            f"::parented-{suffix}" for suffix in ("rg", "training", "prediction",
                                                  "training-contributor", "prediction-deployment")))]
        assert sorted(registered) == sorted(urns)
        assert all("::cvops:infra:CustomVision$azure-native:" in urn for urn in urns), urns

    return pulumi.Output.all(*[child.urn for child in children]).apply(check)


@pulumi.runtime.test
def test_the_resource_group_is_kept_in_azure_when_it_leaves_the_program(monkeypatch):
    """Deleting a group deletes everything in it: `pulumi destroy` (or createResourceGroup false) must not."""
    monitor = pulumi.runtime.settings.get_monitor()
    retained: dict[str, bool] = {}
    register = monitor.RegisterResource

    def recording(request):
        retained[request.type] = request.retainOnDelete
        return register(request)

    monkeypatch.setattr(monitor, "RegisterResource", recording)
    component = CustomVision("kept", args(mode="split"))

    def check(_urns):
        assert retained["azure-native:resources:ResourceGroup"] is True
        assert retained["azure-native:cognitiveservices:Account"] is False

    return pulumi.Output.all(component.resource_group.urn, *[a.urn for a in component.accounts.values()]).apply(check)


@pulumi.runtime.test
def test_resource_group_created_with_prefix_tags_and_restore():
    component = CustomVision("cv", args(namePrefix="groceries", tags='{"owner": "vision-team"}', restore="true"))

    def check(values, _secret):
        [group] = MOCKS.of_type("resources:ResourceGroup")
        assert group.inputs["resourceGroupName"] == "rg-groceries" == values["resourceGroup"]
        assert group.inputs["location"] == "eastus"
        account = MOCKS.accounts()["groceries"]
        assert account["resourceGroupName"] == "rg-groceries"
        assert account["tags"]["owner"] == "vision-team" and account["tags"]["managed-by"] == "pulumi"
        assert account["properties"]["restore"] is True

    return checked(component.outputs(), check)


@pulumi.runtime.test
def test_existing_resource_group_is_looked_up_not_created():
    MOCKS.groups["rg-shared"] = {"location": "eastus", "tags": {}}
    component = CustomVision("cv", args(resourceGroup="rg-shared", createResourceGroup="false"))

    def check(values, _secret):
        assert MOCKS.of_type("resources:ResourceGroup") == []
        assert [c.args["resourceGroupName"] for c in MOCKS.calls
                if c.token == "azure-native:resources:getResourceGroup"] == ["rg-shared"]
        assert MOCKS.accounts()["cvops-dev"]["resourceGroupName"] == "rg-shared"
        assert values["resourceGroup"] == "rg-shared"

    return checked(component.outputs(), check)


@pytest.fixture
def registrations(monkeypatch):
    """What the program asks the engine for each resource: {type: request} with importId and retainOnDelete."""
    monitor = pulumi.runtime.settings.get_monitor()
    seen: dict[str, object] = {}
    register = monitor.RegisterResource

    def recording(request):
        seen[request.type] = request
        return register(request)

    monkeypatch.setattr(monitor, "RegisterResource", recording)
    return seen


GROUP_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-cvops-dev"


@pulumi.runtime.test
def test_a_group_that_exists_is_adopted_by_import_as_it_is(registrations):
    """createResourceGroup true and the group made by hand (or kept by a destroy): import it, do not create it
    (azure-native refuses to create what exists, at `pulumi up`, after a clean preview)."""
    MOCKS.groups["rg-cvops-dev"] = {"location": "westeurope", "tags": {"owner": "platform-team"}}
    component = CustomVision("cv", args(mode="split"))

    def check(values, _secret):
        [group] = MOCKS.of_type("resources:ResourceGroup")
        assert group.resource_id == GROUP_ID, "imported, by its ARM id"
        # An import must match what exists, or `pulumi up` fails: the group's own location and tags.
        assert group.inputs["location"] == "westeurope" and group.inputs["tags"] == {"owner": "platform-team"}
        request = registrations["azure-native:resources:ResourceGroup"]
        assert request.importId == GROUP_ID and request.retainOnDelete is True
        # The accounts still go where the stack says, into the adopted group.
        assert {a["location"] for a in MOCKS.accounts().values()} == {"eastus"}
        assert {a["resourceGroupName"] for a in MOCKS.accounts().values()} == {"rg-cvops-dev"}
        assert values["resourceGroup"] == "rg-cvops-dev"

    return checked(component.outputs(), check)


@pulumi.runtime.test
def test_a_missing_group_is_created_not_imported(registrations):
    component = CustomVision("cv", args(mode="split", region="westeurope"))

    def check(_values, _secret):
        [group] = MOCKS.of_type("resources:ResourceGroup")
        assert not group.resource_id and group.inputs["location"] == "westeurope"
        assert group.inputs["tags"]["managed-by"] == "pulumi" and group.inputs["tags"]["stack"] == "dev"
        request = registrations["azure-native:resources:ResourceGroup"]
        assert request.importId == "" and request.retainOnDelete is True

    return checked(component.outputs(), check)


def test_destroy_then_up_imports_the_kept_group_with_no_difference():
    """`pulumi destroy` keeps the group (retainOnDelete); the next `up` imports it. The import succeeds only if
    the program describes the group exactly as it is: the inputs of the two runs must be the same."""
    @pulumi.runtime.test
    def run(label):
        component = CustomVision(label, args(mode="split", tags='{"costCenter": "vision"}'))
        return component.resource_group.urn

    run("first")
    [created] = MOCKS.of_type("resources:ResourceGroup")
    MOCKS.groups["rg-cvops-dev"] = {"location": created.inputs["location"], "tags": created.inputs["tags"]}
    MOCKS.resources.clear()
    run("second")
    [adopted] = MOCKS.of_type("resources:ResourceGroup")
    assert adopted.resource_id == GROUP_ID and not created.resource_id
    assert adopted.inputs == created.inputs


def test_a_lookup_that_fails_for_another_reason_is_not_taken_for_a_missing_group(monkeypatch):
    """A 403 (the identity may not read the group) must not become a create that fails later, or a silent one."""
    def refuse(args):
        return {}, [("", "request failed: 403 AuthorizationFailed: the client does not have authorization to "
                         "perform action 'Microsoft.Resources/subscriptions/resourcegroups/read'")]

    monkeypatch.setattr(MOCKS, "call", refuse)
    with pytest.raises(Exception, match="AuthorizationFailed"):
        CustomVision("cv", args(mode="split"))
    assert MOCKS.of_type("resources:ResourceGroup") == []


@pulumi.runtime.test
def test_preview_of_a_deployed_stack_lists_no_keys(preview):
    """The PR preview's identity is Reader: `listKeys` is an action it lacks, so a preview must not call it."""
    component = CustomVision("cv", args(mode="split"))

    def check(states):
        assert not MOCKS.listed_keys()
        for key in ("trainingKey", "predictionKey"):
            value, known, secret = states[key]
            assert (known, secret) == (False, True), key
        assert states["trainingEndpoint"][:2] == ("https://eastus.api.cognitive.microsoft.com/", True)
        assert states["mode"][:2] == ("split", True)

    return settled(component.outputs(), check)


@pulumi.runtime.test
def test_preview_of_a_new_stack_with_unknown_ids_and_endpoints(preview):
    """Before the first `pulumi up` Azure has computed nothing: the program must still register everything."""
    preview.fresh = True
    component = CustomVision("cv", args(mode="mixed", principalId=PRINCIPAL))

    def check(states):
        for name in ("trainingEndpoint", "predictionEndpoint", "predictionResourceId", "trainingKey",
                     "predictionKey"):
            assert states[name][1] is False, f"{name} should be unknown in a preview of a new stack"
        assert states["trainingKey"][2] and states["predictionKey"][2]
        assert (states["region"][0], states["mode"][0]) == ("eastus", "mixed")
        assert set(MOCKS.accounts()) == {"cvops-dev-training", "cvops-dev-prediction"}
        assert {role for _, role in granted_roles()} == {CUSTOM_VISION_CONTRIBUTOR, CUSTOM_VISION_DEPLOYMENT}
        assert not MOCKS.listed_keys()

    # The URNs settle once the role assignments are registered (their ids stay unknown in a preview).
    registered = pulumi.Output.all(*[a.urn for a in component.role_assignments])
    return settled({**component.outputs(), "assignments": registered}, check)


def test_wrong_region_lists_the_valid_choices():
    with pytest.raises(ConfigError) as error:
        args(region="moon-central")
    message = str(error.value)
    assert "cvops:region 'moon-central' does not offer Custom Vision" in message
    assert all(region in message for region in CUSTOM_VISION_REGIONS)


@pulumi.runtime.test
def test_wrong_region_from_stack_config_fails_the_program():
    pulumi.runtime.set_all_config({"cvops:region": "antarctica"})
    with pytest.raises(ConfigError, match="choose one of: australiaeast"):
        runpy.run_path(str(ROOT / "__main__.py"))
    assert MOCKS.resources == []


@pulumi.runtime.test
def test_free_tier_on_a_multi_service_account_fails_before_any_resource():
    pulumi.runtime.set_all_config({"cvops:region": "eastus", "cvops:mode": "mixed",
                                   "cvops:sku": json.dumps({"training": "S0", "prediction": "F0"})})
    with pytest.raises(ConfigError, match="CognitiveServices \\(multi-service\\) account is S0 only"):
        runpy.run_path(str(ROOT / "__main__.py"))
    assert MOCKS.resources == []


def stack_file_config(stack: str) -> dict[str, str]:
    """A Pulumi.<stack>.yaml's values as the program sees them: strings, JSON for objects (infra/describe.py)."""
    from infra.describe import stack_file_values
    return stack_file_values(stack)


def test_example_stacks_are_valid():
    dev = parse_args(stack_file_config("dev"), stack="dev")
    assert (dev.region, dev.mode, dev.training_sku, dev.prediction_sku) == ("eastus", "multi-service", "S0", "S0")
    prod = parse_args(stack_file_config("prod"), stack="prod")
    assert prod.mode == "split" and prod.region != "eastus" and prod.region in CUSTOM_VISION_REGIONS
    # The least-privilege deploy identity holds rights on its resource group only: it cannot create one.
    assert not dev.create_resource_group and not prod.create_resource_group
