"""From a Pulumi stack's outputs to the pipeline's CUSTOM_VISION_* settings (pipeline/config/stack.py)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pulumi.automation import OutputValue

from pipeline.config.stack import OUTPUT_VARIABLES, StackOutputsUnavailable, main, service_settings, stack_outputs

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = {
    "trainingEndpoint": "https://cvops-dev.cognitiveservices.azure.com/",
    "trainingKey": "training-key-0123",
    "predictionEndpoint": "https://cvops-dev.cognitiveservices.azure.com/",
    "predictionKey": "prediction-key-4567",
    "predictionResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/cvops-dev",
    "region": "eastus",
    "mode": "multi-service",
}


def test_outputs_map_to_the_pipeline_variables():
    assert service_settings(OUTPUTS) == {
        "CUSTOM_VISION_TRAINING_ENDPOINT": OUTPUTS["trainingEndpoint"],
        "CUSTOM_VISION_TRAINING_KEY": "training-key-0123",
        "CUSTOM_VISION_PREDICTION_ENDPOINT": OUTPUTS["predictionEndpoint"],
        "CUSTOM_VISION_PREDICTION_KEY": "prediction-key-4567",
        "CUSTOM_VISION_PREDICTION_RESOURCE_ID": OUTPUTS["predictionResourceId"],
    }


def test_automation_api_output_values_are_unwrapped():
    wrapped = {name: OutputValue(value, secret=name.endswith("Key")) for name, value in OUTPUTS.items()}
    assert service_settings(wrapped) == service_settings(OUTPUTS)


def test_keyless_stack_leaves_the_keys_out():
    settings = service_settings({**OUTPUTS, "trainingKey": "", "predictionKey": ""})
    assert "CUSTOM_VISION_TRAINING_KEY" not in settings and "CUSTOM_VISION_PREDICTION_KEY" not in settings
    assert settings["CUSTOM_VISION_TRAINING_ENDPOINT"] == OUTPUTS["trainingEndpoint"]


def test_missing_outputs_are_named():
    with pytest.raises(StackOutputsUnavailable, match="no predictionEndpoint, predictionResourceId output"):
        service_settings({"trainingEndpoint": "https://x/", "trainingKey": "k"})


def test_without_the_pulumi_cli_the_error_lists_the_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no `pulumi` anywhere
    with pytest.raises(StackOutputsUnavailable) as error:
        stack_outputs("dev", ROOT)
    message = str(error.value)
    assert "Pulumi CLI is not installed" in message and "'dev'" in message
    assert all(variable in message for variable in OUTPUT_VARIABLES.values())


def test_command_without_the_cli_fails_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["dev", "--", "true"]) == 2
    assert "CUSTOM_VISION_TRAINING_ENDPOINT" in capsys.readouterr().err


def fake_pulumi(folder: Path, outputs: dict[str, str]) -> None:
    """A stand-in `pulumi` that answers what the Automation API asks: version, stack select, stack output."""
    (folder / "outputs.json").write_text(json.dumps(outputs))
    masked = {k: "[secret]" if k.endswith("Key") else v for k, v in outputs.items()}
    (folder / "masked.json").write_text(json.dumps(masked))
    script = folder / "pulumi"
    script.write_text(f"""#!{sys.executable}
import sys
from pathlib import Path
args = sys.argv[1:]
here = Path({str(folder)!r})
with open(here / "calls.log", "a") as log:
    log.write(" ".join(args) + "\\n")
if args[:1] == ["version"]:
    print("v3.200.0")
elif "output" in args and "stack" in args:
    if "stack-missing" in args:
        sys.stderr.write("error: no stack named 'stack-missing' found\\n")
        sys.exit(255)
    print((here / ("outputs.json" if "--show-secrets" in args else "masked.json")).read_text())
elif "select" in args and "stack-missing" in args:
    sys.stderr.write("error: no stack named 'stack-missing' found\\n")
    sys.exit(255)
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def pulumi_on_path(tmp_path, monkeypatch):
    fake_pulumi(tmp_path, OUTPUTS)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", "true")
    return tmp_path


def test_outputs_are_read_through_the_automation_api_with_secrets_shown(pulumi_on_path):
    settings = stack_outputs("dev", ROOT)
    assert settings["CUSTOM_VISION_TRAINING_KEY"] == "training-key-0123"  # not "[secret]"
    assert settings == service_settings(OUTPUTS)


def test_reading_outputs_selects_no_stack(pulumi_on_path):
    """`pulumi stack select` would change the stack the user has selected in that folder."""
    stack_outputs("dev", ROOT)
    calls = (pulumi_on_path / "calls.log").read_text().splitlines()
    assert not any("select" in call.split() for call in calls), calls
    outputs = [call for call in calls if "stack output" in call]
    assert outputs and all("--stack dev" in call for call in outputs), calls


def test_unknown_stack_says_what_the_cli_said(pulumi_on_path):
    with pytest.raises(StackOutputsUnavailable, match="no stack named 'stack-missing'.*CUSTOM_VISION_PREDICTION_KEY"):
        stack_outputs("stack-missing", ROOT)


def test_command_gets_the_settings_and_never_prints_keys(pulumi_on_path, capfd):
    check = ("import os, sys; "
             "sys.exit(0 if os.environ['CUSTOM_VISION_PREDICTION_KEY'] == 'prediction-key-4567' else 9)")
    assert main(["dev", "--cwd", str(ROOT), "--", sys.executable, "-c", check]) == 0
    assert main(["dev", "--cwd", str(ROOT), "--", sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert main(["dev", "--cwd", str(ROOT)]) == 0
    printed = capfd.readouterr()
    assert "CUSTOM_VISION_TRAINING_KEY" in printed.out
    assert "training-key-0123" not in printed.out + printed.err


def test_stack_outputs_drive_cvops_plan_against_the_local_service(cvlocal_service, datasets, tmp_path):
    """Mocked stack outputs (through the Automation API and a stand-in CLI) -> `cvops plan --stack`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_pulumi(bin_dir, {
        **OUTPUTS,
        "trainingEndpoint": cvlocal_service.endpoint,
        "trainingKey": cvlocal_service.training_key,
        "predictionEndpoint": cvlocal_service.endpoint,
        "predictionKey": cvlocal_service.prediction_key,
        "predictionResourceId": cvlocal_service.prediction_resource_id,
    })
    config = tmp_path / "stack-plan.yaml"
    config.write_text(f"project: {{name: stack-plan-{tmp_path.name}}}\n"
                      f"dataset: {{path: {datasets / 'fruit'}}}\n"
                      "publish: {name: stack-plan}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOM_VISION_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK="true")
    result = subprocess.run([sys.executable, "-m", "pipeline", "plan", str(config), "--stack", "dev", "--json"],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    plan = json.loads(result.stdout)
    assert plan["project"]["create"] is True and plan["images"]["upload"] > 0
    assert cvlocal_service.training_key not in result.stdout + result.stderr
