"""Issue 17, problem 2: a rollback is sticky. `cvops rollback` records a hold in the project itself, which any
runner's `run` respects (it trains and gates but does not publish, and says so) until `cvops release`."""
from __future__ import annotations

import json
import shutil

import pytest

from harness.pipeline import cvops, unique, write_config
from pipeline.config.loader import load_config
from pipeline.sdk.clients import training_client

pytestmark = [pytest.mark.datasets, pytest.mark.slow]


def published_now(config, env) -> tuple[list[str], str]:
    """(names of the iterations published under the config's name, the project's description)."""
    loaded = load_config(config, env)
    trainer = training_client(loaded.config.service)
    project = next(p for p in trainer.get_projects() if p.name == loaded.config.project.name)
    return ([i.name for i in trainer.get_iterations(project.id) if i.publish_name == loaded.config.publish.name],
            project.description)


def test_rollback_holds_until_release(cvlocal_service, service_env, datasets, tmp_path):
    plus = tmp_path / "fruit-plus"
    shutil.copytree(datasets / "fruit", plus)
    for image in (datasets / "fruit-extra").glob("*/*"):
        shutil.copy(image, plus / image.parent.name / image.name)
    name = unique("Hold")
    fruit = write_config(tmp_path / "fruit.yaml", project={"name": name, "description": "kept as it is"},
                         gates=None, smoke_test=None)
    config = write_config(tmp_path / "plus.yaml", base=fruit, dataset={"path": str(plus)})
    for step in (fruit, config):
        done = cvops("run", str(step), env=service_env, cwd=tmp_path)
        assert done.exit_code == 0, done.output
    assert published_now(config, service_env)[0] == ["Iteration 2"]

    rolled = cvops("rollback", str(config), env=service_env, cwd=tmp_path)
    assert rolled.exit_code == 0, rolled.output
    assert "Iteration 1 published as 'groceries', held there until `cvops release`" in rolled.stdout
    published, description = published_now(config, service_env)
    lines = description.splitlines()  # the user's text, the dataset version of each iteration, the hold
    assert published == ["Iteration 1"] and lines[0] == "kept as it is" and lines[-1].startswith("cvops:hold {")
    assert [line.split()[0] for line in lines[1:-1]] == ["cvops:dataset", "cvops:dataset"]

    # The issue: the next unchanged run (any CI push, from any machine: another working folder here) published
    # Iteration 2 again. Now it passes the gates, says why it does not publish, and exits 0.
    elsewhere = tmp_path / "another-runner"
    elsewhere.mkdir()
    held = cvops("run", str(config), env=service_env, cwd=elsewhere)
    assert held.exit_code == 0, held.output
    assert "ok: held: Iteration 2 passed the gates but is not published: 'groceries' is held on Iteration 1" \
        in held.stdout
    assert "warning: Iteration 2 passed the gates but is not published" in held.stderr
    report = json.loads((elsewhere / "out" / "report.json").read_text())
    assert report["outcome"] == "held" and report["hold"]["iteration"] == "Iteration 1"
    assert "⏸️ **held**" in (elsewhere / "out" / "report.md").read_text()
    assert published_now(config, service_env)[0] == ["Iteration 1"]

    status = cvops("status", str(config), "--json", env=service_env, cwd=tmp_path)
    assert json.loads(status.stdout)["hold"]["iteration"] == "Iteration 1"
    assert "hold: 'groceries' stays on Iteration 1" in cvops("status", str(config), env=service_env,
                                                              cwd=tmp_path).stdout
    planned = json.loads(cvops("plan", str(config), "--json", env=service_env, cwd=tmp_path).stdout)["publish"]
    assert planned["would_publish"].startswith("nothing: 'groceries' is held on Iteration 1")

    released = cvops("unhold", str(config), env=service_env, cwd=tmp_path)
    assert released.exit_code == 0 and "ok: released 'groceries' (it was held on Iteration 1" in released.stdout
    assert published_now(config, service_env)[1] == "\n".join(lines[:-1])  # the hold goes, the rest stays
    assert "is not held" in cvops("release", str(config), env=service_env, cwd=tmp_path).stdout
    again = cvops("run", str(config), env=service_env, cwd=tmp_path)
    assert again.exit_code == 0, again.output
    assert "published Iteration 2 as 'groceries' (was Iteration 1)" in again.stderr
    assert published_now(config, service_env)[0] == ["Iteration 2"]
