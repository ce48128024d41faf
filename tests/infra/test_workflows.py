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
    assert [u for u in uses if not PINNED.match(u)] == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_permissions_are_set_and_writes_are_per_job(path):
    workflow = load(path)
    assert "permissions" in workflow, "a workflow without permissions gets the repository default"
    top = workflow["permissions"] or {}
    assert all(level != "write" for level in top.values()), "write access belongs to the job that needs it"
    assert "concurrency" in workflow


def test_deploy_uses_oidc_and_never_overlaps_a_stack():
    workflow = load(WORKFLOWS / "deploy.yml")
    assert set(workflow["on"]) == {"push", "workflow_dispatch"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert "stack" in workflow["concurrency"]["group"]
    job = workflow["jobs"]["deploy"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["env"]["ARM_USE_OIDC"] == "true"
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "client-secret" not in text and "ARM_CLIENT_SECRET" not in text and "creds:" not in text
    steps = job["steps"]
    up = next(s for s in steps if s.get("uses", "").startswith("pulumi/actions@"))
    assert up["with"]["command"] == "up"
    run = next(s for s in steps if "cvops run config/groceries.yaml" in s.get("run", ""))
    assert "--stack \"$STACK\"" in run["run"] and not run.get("continue-on-error")


def test_preview_comments_and_runs_the_pipeline_against_cvlocal():
    workflow = load(WORKFLOWS / "pipeline-preview.yml")
    assert set(workflow["on"]) == {"pull_request"}
    assert {"config/**", "datasets/**"} <= set(workflow["on"]["pull_request"]["paths"])
    preview = workflow["jobs"]["pulumi-preview"]
    step = next(s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert step["with"]["command"] == "preview" and step["with"]["comment-on-pr"] is True
    local = workflow["jobs"]["pipeline-local"]
    assert "id-token" not in local["permissions"], "the local run never touches Azure"
    runs = "\n".join(s.get("run", "") for s in local["steps"])
    assert "cvlocal serve --port" in runs and "&" in runs
    assert "cvops run config/groceries.yaml" in runs
    assert local["env"]["CUSTOM_VISION_TRAINING_ENDPOINT"].startswith("http://127.0.0.1:")


def test_ci_runs_make_test_on_pushes_and_pull_requests():
    workflow = load(WORKFLOWS / "ci.yml")
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert workflow["permissions"] == {"contents": "read"}
    assert any("make test" in s.get("run", "") for s in workflow["jobs"]["test"]["steps"])
