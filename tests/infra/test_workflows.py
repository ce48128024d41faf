"""The GitHub workflows, checked offline: the workflow schema, zizmor, and the project's own rules."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def tool(name: str) -> str:
    """The dev tool installed next to this Python (the project's .venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `make install` (it installs the dev extras)")
    return found


def load(path: Path) -> dict:
    # PyYAML reads the key `on` as True; workflows use it as a name.
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_the_three_workflows_exist():
    assert [p.name for p in FILES] == ["ci.yml", "deploy.yml", "pipeline-preview.yml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_workflow_matches_the_github_schema(path):
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_of_medium_severity_or_higher():
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--min-severity", "medium", "--format", "json", str(WORKFLOWS)],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    findings = json.loads(result.stdout or "[]")
    summary = [f"{f['ident']}: {f['desc']} ({f['determinations']['severity']})" for f in findings]
    assert findings == [], "\n".join(summary)
    assert result.returncode == 0, result.stderr


def uses_lines(path: Path) -> list[str]:
    return [line.split("uses:", 1)[1].strip() for line in path.read_text().splitlines()
            if line.strip().lstrip("- ").startswith("uses:")]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_with_the_version_beside(path):
    uses = uses_lines(path)
    assert uses, "no actions found"
    # A workflow of this repository (deploy.yml calls ci.yml) is the same commit's: nothing to pin.
    assert [u for u in uses if not PINNED.match(u) and not u.startswith("./.github/workflows/")] == []


def jobs_of(path: Path) -> dict[str, dict]:
    return load(path)["jobs"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_nothing_is_granted_at_the_top_and_every_job_asks_for_its_own(path):
    workflow = load(path)
    assert workflow["permissions"] == {}, "a workflow without permissions gets the repository default"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name} inherits instead of asking"
        assert job["permissions"].get("contents") == "read", name
    assert "concurrency" in workflow


def signs_in_to_azure(job: dict) -> bool:
    return job["permissions"].get("id-token") == "write"


def test_only_the_two_azure_jobs_may_ask_for_an_oidc_token():
    azure_jobs = {(path.name, name) for path in FILES for name, job in jobs_of(path).items() if signs_in_to_azure(job)}
    assert azure_jobs == {("deploy.yml", "deploy"), ("pipeline-preview.yml", "pulumi-preview")}


def pinned_pulumi_sdk() -> str:
    pins = dict(line.split("==", 1) for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    return pins["pulumi"].strip()


def pulumi_steps() -> list[tuple[str, dict]]:
    return [(f"{path.name}:{name}", step) for path in FILES for name, job in jobs_of(path).items()
            for step in job.get("steps", []) if step.get("uses", "").startswith("pulumi/actions@")]


def test_every_pulumi_step_pins_the_cli_of_the_pinned_sdk():
    steps = pulumi_steps()
    assert len(steps) == 3  # preview; deploy's registry-only up (self-hosted) and its up
    for where, step in steps:
        assert str(step["with"]["pulumi-version"]) == pinned_pulumi_sdk(), where


def publishes_an_image(job: dict) -> bool:
    return any(step.get("uses", "").startswith("docker/build-push-action@") for step in job.get("steps", []))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_python_setup_caches_pip_keyed_on_the_pins_except_where_an_image_is_published(path):
    """A job that publishes an image restores no cache: one written by another run could poison it (zizmor)."""
    for name, job in jobs_of(path).items():
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("actions/setup-python@"):
                if publishes_an_image(job):
                    assert "cache" not in step["with"], name
                    continue
                assert step["with"]["cache"] == "pip", name
                assert set(step["with"]["cache-dependency-path"].split()) == {"constraints.txt", "pyproject.toml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_datasets_point_at_the_committed_folder(path):
    """Every forked push used to fail with exit 2: the workflows named a datasets/ folder the repo lacked."""
    for name, job in jobs_of(path).items():
        location = job.get("env", {}).get("CVOPS_DATASETS")
        if location is None:
            continue
        assert location == "${{ github.workspace }}/datasets", name
        assert (ROOT / "datasets" / "README.md").is_file()


def test_the_pipeline_config_finds_its_images_in_the_committed_folder():
    text = (ROOT / "config" / "groceries.yaml").read_text()
    paths = re.findall(r"\$\{CVOPS_DATASETS(?::-[^}]*)?\}/(\S+)", text)
    assert paths, "config/groceries.yaml reads nothing from CVOPS_DATASETS"
    missing = [p for p in paths if not (ROOT / "datasets" / p).exists()]
    assert missing == []


def test_deploy_uses_oidc_and_never_overlaps_a_stack():
    workflow = load(WORKFLOWS / "deploy.yml")
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert "stack" in workflow["concurrency"]["group"]
    job = workflow["jobs"]["deploy"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["environment"] == "${{ inputs.stack || 'dev' }}"
    assert job["env"]["ARM_USE_OIDC"] == "true"
    assert job["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_CLIENT_ID }}"
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "client-secret" not in text and "ARM_CLIENT_SECRET" not in text and "creds:" not in text
    steps = job["steps"]
    up = next(s for s in steps if s.get("uses", "").startswith("pulumi/actions@"))
    assert up["with"]["command"] == "up"
    run = next(s for s in steps if "cvops run config/groceries.yaml" in s.get("run", ""))
    assert "--stack \"$STACK\"" in run["run"] and not run.get("continue-on-error")
    # cvops signs in itself, with the job's OIDC token (pipeline/sdk/credentials.py): it needs the identity's ids.
    assert run["env"] == {"AZURE_CLIENT_ID": "${{ vars.AZURE_CLIENT_ID }}", "AZURE_TENANT_ID": "${{ vars.AZURE_TENANT_ID }}"}
    # The Pulumi CLI reads the stack with the Azure CLI's session: signed in afresh right before, not at the start.
    logins = [i for i, s in enumerate(steps) if s.get("uses", "").startswith("azure/login@")]
    assert len(logins) == 2 and logins[0] < steps.index(up) < logins[1] < steps.index(run)


def test_deploy_runs_only_after_the_tests_of_the_same_run_passed():
    """Deploy after green: the deploy job needs the test job of its own run, which is ci.yml itself, so the
    commit deployed is the commit tested; a failed `make test` leaves the deploy job skipped."""
    workflow = load(WORKFLOWS / "deploy.yml")
    test, deploy = workflow["jobs"]["test"], workflow["jobs"]["deploy"]
    assert test["uses"] == "./.github/workflows/ci.yml" and test["permissions"] == {"contents": "read"}
    assert deploy["needs"] == "test" and deploy["if"] == "github.ref == 'refs/heads/main'"
    assert "always()" not in deploy["if"] and "continue-on-error" not in test
    # ci.yml can be called, and its test job runs when called from a push or a dispatch.
    ci = load(WORKFLOWS / "ci.yml")
    assert "workflow_call" in ci["on"]
    condition = ci["jobs"]["test"]["if"]
    assert condition.startswith("github.event_name != 'pull_request' ||")
    # main is tested once per commit: by deploy.yml, not also by ci.yml's push.
    assert ci["on"]["push"] == {"branches-ignore": ["main"]}


def test_no_fork_can_drive_the_deploy():
    """The deploy identity's token is only for the dev/prod environments, and only deploy.yml uses them. It runs
    on a push to main or a manual dispatch (both need write access to this repository); never on pull_request,
    pull_request_target or workflow_run (which would run with this repository's rights for a fork's change)."""
    workflow = load(WORKFLOWS / "deploy.yml")
    assert set(workflow["on"]) == {"push", "workflow_dispatch"}
    assert workflow["on"]["push"] == {"branches": ["main"]}
    for path in FILES:
        assert not {"pull_request_target", "workflow_run"} & set(load(path)["on"]), path.name
    environments = {(path.name, name, job.get("environment")) for path in FILES for name, job in jobs_of(path).items()
                    if job.get("environment")}
    assert environments == {("deploy.yml", "deploy", "${{ inputs.stack || 'dev' }}"),
                            ("pipeline-preview.yml", "pulumi-preview", "preview")}


def steps_named(name: str) -> dict:
    return {step.get("name", step.get("uses", "")): step for step in jobs_of(WORKFLOWS / name)["deploy"]["steps"]}


SELF_HOSTED = "steps.stack.outputs.mode == 'self-hosted'"


def test_deploy_builds_pushes_and_deploys_a_self_hosted_stacks_image_by_digest():
    """Mode self-hosted: the stack's registry first (alone), the image built and pushed to it with the deploy
    identity's token, then `pulumi up` with cvops:image set to what was pushed, by digest."""
    steps = steps_named("deploy.yml")
    order = list(steps)
    settings = steps["Stack settings"]
    assert settings["run"] == '.venv/bin/python -m infra.describe "$STACK" >> "$GITHUB_OUTPUT"'
    registry_up = steps["pulumi up (the registry only)"]
    assert registry_up["if"] == f"{SELF_HOSTED} && steps.stack.outputs.create-registry == 'true'"
    assert registry_up["with"]["target"] == "${{ steps.stack.outputs.registry-targets }}"
    login = steps["Sign in to the registry"]
    assert login["if"] == SELF_HOSTED and login["run"] == 'az acr login --name "$REGISTRY"'
    build = steps["Build and push the image"]
    assert build["if"] == SELF_HOSTED and build["with"]["push"] is True and build["with"]["context"] == "."
    image = steps["The image by digest"]
    assert image["env"]["DIGEST"] == "${{ steps.image.outputs.digest }}" and "sha256:*" in image["run"]
    assert '\\"cvops:image\\"' in image["run"] and "$SERVER/cvlocal@$DIGEST" in image["run"]
    up = steps["pulumi up"]
    assert up["with"]["config-map"] == "${{ steps.image-config.outputs.config-map }}" and "if" not in up
    assert (order.index("Stack settings") < order.index("pulumi up (the registry only)") < order.index(
        "Sign in to the registry") < order.index("Build and push the image") < order.index("The image by digest")
        < order.index("pulumi up") < order.index("cvops run"))


def test_the_image_config_line_is_what_pulumi_actions_reads():
    """Run the step's shell as the runner would and read back its config-map as YAML (pulumi/actions parses it)."""
    import os
    import tempfile
    step = steps_named("deploy.yml")["The image by digest"]
    digest = "sha256:" + "0" * 64
    with tempfile.NamedTemporaryFile("r") as output:
        done = subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "SERVER": "cvopsshcr.azurecr.io", "DIGEST": digest,
                                   "GITHUB_OUTPUT": output.name})
        assert done.returncode == 0, done.stderr
        name, _, value = output.read().strip().partition("=")
    assert name == "config-map"
    assert yaml.safe_load(value) == {"cvops:image": {"value": f"cvopsshcr.azurecr.io/cvlocal@{digest}",
                                                     "secret": False}}
    refused = subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True, timeout=30,
                             env={**os.environ, "SERVER": "s", "DIGEST": "", "GITHUB_OUTPUT": "/dev/null"})
    assert refused.returncode == 1 and "no image digest" in refused.stderr


def test_deploy_can_create_a_stack_that_does_not_exist_yet():
    job = jobs_of(WORKFLOWS / "deploy.yml")["deploy"]
    up = next(s for _, s in pulumi_steps() if s["with"]["command"] == "up")
    assert up["with"]["upsert"] is True
    assert up["with"]["secrets-provider"] == "${{ vars.PULUMI_SECRETS_PROVIDER }}"
    # Later runs find the provider in the state, so nobody has to commit the stack file's encrypted key.
    assert job["env"]["PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"] == "true"


def test_no_job_passes_a_passphrase_that_may_be_unset():
    """An unset secret is an empty string, and Pulumi accepts an empty passphrase: a new stack encrypted with nothing."""
    for path in FILES:
        for name, job in jobs_of(path).items():
            assert "PULUMI_CONFIG_PASSPHRASE" not in job.get("env", {}), f"{path.name}:{name}"


PREVIEW_PATHS = {"infra/**", "__main__.py", "Pulumi*.yaml", "pyproject.toml", "constraints.txt",
                 "config/**", "datasets/**", ".github/workflows/pipeline-preview.yml"}


def test_preview_runs_on_infrastructure_changes_too():
    workflow = load(WORKFLOWS / "pipeline-preview.yml")
    assert set(workflow["on"]) == {"pull_request"}
    assert set(workflow["on"]["pull_request"]["paths"]) == PREVIEW_PATHS


@pytest.mark.parametrize("pattern", sorted(PREVIEW_PATHS))
def test_each_preview_path_matches_files_in_the_repository(pattern):
    """A filter that matches nothing (a typo, a moved folder) silently turns the preview off."""
    glob = pattern.replace("**", "**/*") if pattern.endswith("**") else pattern
    assert [p for p in ROOT.glob(glob) if p.is_file()], pattern


def test_preview_signs_in_as_the_read_only_identity_behind_its_own_environment():
    job = jobs_of(WORKFLOWS / "pipeline-preview.yml")["pulumi-preview"]
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    # Not `dev`/`prod`: their OIDC subjects are what the deploy identity trusts.
    assert job["environment"] == "preview"
    assert job["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    assert job["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_PREVIEW_CLIENT_ID }}"
    login = next(s for s in job["steps"] if s.get("uses", "").startswith("azure/login@"))
    assert login["with"]["client-id"] == "${{ vars.AZURE_PREVIEW_CLIENT_ID }}"
    assert "AZURE_CLIENT_ID" not in yaml.safe_dump(job), "the deploy identity's client id in the preview job"
    step = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert step["with"]["command"] == "preview" and step["with"]["comment-on-pr"] is True
    assert step["with"]["refresh"] is False


def test_preview_runs_the_pipeline_against_cvlocal_without_azure():
    local = jobs_of(WORKFLOWS / "pipeline-preview.yml")["pipeline-local"]
    assert local["permissions"] == {"contents": "read"}, "the local run never touches Azure"
    assert "environment" not in local
    runs = "\n".join(s.get("run", "") for s in local["steps"])
    assert "cvlocal serve --port" in runs and "&" in runs
    assert "--tier S0" in runs, "the preview meets Azure's S0 quotas and request rates"
    assert "cvops run config/groceries.yaml" in runs
    assert local["env"]["CUSTOM_VISION_TRAINING_ENDPOINT"].startswith("http://127.0.0.1:")


def test_ci_runs_make_test_once_per_change():
    workflow = load(WORKFLOWS / "ci.yml")
    assert set(workflow["on"]) == {"push", "pull_request", "workflow_call"}
    job = workflow["jobs"]["test"]
    assert job["permissions"] == {"contents": "read"}
    # A same-repository PR is tested by its branch's push; the pull_request run is for forks only.
    assert job["if"] == ("github.event_name != 'pull_request' || "
                         "github.event.pull_request.head.repo.full_name != github.repository")
    assert any("make test" in s.get("run", "") or ".ci/run" in s.get("run", "") for s in job["steps"])  # runs make test


def test_ci_runs_the_suite_where_its_engines_install():
    """The browser tests need Debian's Chromium (Ubuntu only has a snap): the job runs .ci/run in a Debian
    container as root, which installs Chromium, PostgreSQL and Node.js; the datasets are the committed folder."""
    job = jobs_of(WORKFLOWS / "ci.yml")["test"]
    assert job["container"].startswith("python:3.11-") and job["container"].endswith(("-bookworm", "-trixie"))
    run = next(s["run"] for s in job["steps"] if ".ci/run" in s.get("run", ""))
    assert 'CVOPS_DATASETS="$GITHUB_WORKSPACE/datasets"' in run and "CI=true" in run
    text = (ROOT / ".ci" / "run").read_text()
    assert "chromium" in text and "apt-get install" in text and "make test" in text
