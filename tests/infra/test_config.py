"""Stack configuration rules that Azure would otherwise enforce only at `pulumi up` (infra/config.py)."""
from __future__ import annotations

import json

import pytest

from infra.config import ConfigError, parse_args

PRINCIPAL = "11111111-2222-3333-4444-555555555555"


def args(**values):
    return parse_args({"region": "eastus", **values}, stack="dev")


def test_missing_region_says_how_to_set_it():
    with pytest.raises(ConfigError, match=r"pulumi config set cvops:region REGION.*eastus"):
        parse_args({}, stack="dev")


def test_wrong_mode_lists_the_valid_choices():
    with pytest.raises(ConfigError, match="cvops:mode 'both' is not valid; choose one of: multi-service, split, mixed"):
        args(mode="both")


def test_ai_services_is_not_a_mode_custom_vision_accepts():
    with pytest.raises(ConfigError, match="cvops:mode 'aiservices' is not valid"):
        args(mode="AIServices")


@pytest.mark.parametrize("values, message", [
    ({"sku": "P1"}, "cvops:sku 'P1' is not valid; choose one of: F0, S0"),
    ({"sku": '{"training": "S0", "prediction": "F0"}'}, "multi-service mode creates one account"),
    ({"mode": "split", "sku": '{"training": "S0", "predict": "F0"}'}, "unknown keys"),
    ({"disableLocalAuth": "true"}, "cvops:principalId must name the identity"),
    ({"disableLocalAuth": "true", "principalId": PRINCIPAL, "customSubdomains": "false"},
     "needs cvops:customSubdomains"),
    ({"principalId": "someone"}, "is not an object id"),
    ({"principalId": PRINCIPAL, "principalType": "Robot"}, "choose one of: ServicePrincipal, User, Group"),
    ({"restore": "yes"}, "cvops:restore 'yes' is not a boolean"),
    ({"namePrefix": "Bad_Prefix"}, "cvops:namePrefix 'bad_prefix' is not valid"),
])
def test_invalid_config_fails_with_a_clear_message(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        args(**values)


# F0 exists for CustomVision.Training / CustomVision.Prediction only; multi-service accounts are S0.
@pytest.mark.parametrize("values, key", [
    ({"mode": "multi-service", "sku": "F0"}, "cvops:sku F0"),
    ({"mode": "mixed", "sku": json.dumps({"training": "S0", "prediction": "F0"})}, "cvops:sku.prediction F0"),
    ({"mode": "mixed", "sku": "F0"}, "cvops:sku.prediction F0"),
])
def test_free_tier_on_a_multi_service_account_is_refused(values, key):
    with pytest.raises(ConfigError) as error:
        args(**values)
    message = str(error.value)
    assert message.startswith(f"{key} is not available for the ")
    assert "CognitiveServices (multi-service) account is S0 only" in message
    assert "use mode split" in message
    assert "one F0 account of each kind per subscription" in message


@pytest.mark.parametrize("values, skus", [
    ({"mode": "split", "sku": "F0"}, ("F0", "F0")),
    ({"mode": "split", "sku": json.dumps({"training": "S0", "prediction": "F0"})}, ("S0", "F0")),
    ({"mode": "mixed", "sku": json.dumps({"training": "F0", "prediction": "S0"})}, ("F0", "S0")),
    ({"mode": "multi-service", "sku": "S0"}, ("S0", "S0")),
])
def test_free_tier_on_custom_vision_kinds_is_accepted(values, skus):
    parsed = args(**values)
    assert (parsed.training_sku, parsed.prediction_sku) == skus
    assert {(a.kind, a.sku) for a in parsed.accounts if a.sku == "F0"} <= {
        ("CustomVision.Training", "F0"), ("CustomVision.Prediction", "F0")}


@pytest.mark.parametrize("values, message", [
    # ARM's account rule: 2-64 letters, digits, hyphens; alphanumeric at both ends.
    ({"namePrefix": "-cv"}, "Cognitive Services account name '-cv'"),
    ({"namePrefix": "cv-"}, "Cognitive Services account name 'cv-'"),
    ({"namePrefix": "a" * 54, "mode": "split"}, "65 characters; Cognitive Services account names take 2 to 64"),
    ({"namePrefix": "a" * 65}, "65 characters"),
    ({"namePrefix": "cv.team"}, "letters, digits and hyphens"),
    # Custom subdomains are DNS labels (63) and must avoid Azure's reserved words.
    ({"namePrefix": "a" * 53, "mode": "split", "customSubdomains": "true"},
     "custom subdomain name '" + "a" * 53 + "-prediction', and 64 characters"),
    ({"namePrefix": "microsoft-cv", "customSubdomains": "true"}, "reserves 'microsoft' anywhere"),
    ({"namePrefix": "login-cv", "customSubdomains": "true"}, "reserves 'login' at the start"),
    ({"namePrefix": "azure", "customSubdomains": "true"}, "'azure' is a reserved word"),
    ({"resourceGroup": "rg-cv."}, "cvops:resourceGroup 'rg-cv.' is not valid"),
    ({"resourceGroup": "rg cv"}, "cvops:resourceGroup 'rg cv' is not valid"),
])
def test_names_break_azure_rules_before_azure_sees_them(values, message):
    with pytest.raises(ConfigError, match="^cvops:(namePrefix|resourceGroup) ") as error:
        args(**values)
    assert message in str(error.value)


def test_names_within_the_rules_are_kept():
    parsed = args(mode="split", customSubdomains="true", namePrefix="Contoso-Vision-42",
                  resourceGroup="rg-contoso_vision(42)")
    assert [a.name for a in parsed.accounts] == ["contoso-vision-42-training", "contoso-vision-42-prediction"]
    assert parsed.resource_group_name == "rg-contoso_vision(42)"
    assert not parsed.name_prefix_is_default
    # Reserved words bind only names that become host names: without custom subdomains they are fine.
    assert args(namePrefix="login-cv").name_prefix == "login-cv"


def test_the_default_prefix_is_flagged_for_the_global_name_warning():
    assert args().name_prefix_is_default
    assert args(namePrefix="cvops-dev").name_prefix_is_default
    assert not args(namePrefix="contoso-dev").name_prefix_is_default
