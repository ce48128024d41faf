"""Config loading: ${VAR} expansion, stack outputs, and errors that name the file, the line and what to fix."""
from __future__ import annotations

import sys
import types

import pytest

from pipeline.config.loader import expand, load_config
from pipeline.errors import ConfigError
from pipeline.config.schema import schema

MINIMAL = """\
project:
  name: P
dataset:
  path: ${DATA:-/data}/fruit
publish:
  name: p
"""


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path, environ=None, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ or {}, **kwargs)
    assert info.value.exit_code == 2
    return info.value


def test_expand_forms():
    env = {"A": "1", "EMPTY": ""}
    assert expand("${A}/x", env) == "1/x"
    assert expand("${MISSING:-d}", env) == "d"
    assert expand("${EMPTY:-d}", env) == "d"
    assert expand("${EMPTY-d}", env) == ""
    assert expand("${MISSING-d}", env) == "d"
    assert expand("$$HOME ${A}${A}", env) == "$HOME 11"
    assert expand("${A:-}", {}) == ""
    with pytest.raises(KeyError):
        expand("${MISSING}", env)


def test_minimal_config_gets_defaults(tmp_path):
    loaded = load_config(write(tmp_path, MINIMAL), {})
    config = loaded.config
    assert str(config.dataset.path) == "/data/fruit"
    assert config.project.classification_type == "Multiclass"
    assert config.upload.batch_images == 64
    assert config.publish.keep_iterations == 10
    assert config.evaluation.threshold == 0.5
    assert loaded.source.line(("publish", "name")) == 6


def test_unknown_field_names_line_and_allowed_fields(tmp_path):
    path = write(tmp_path, MINIMAL.replace("  name: P\n", "  name: P\n  colour: red\n"))
    error = error_of(path)
    assert f"{path}:3:" in str(error)
    assert "project.colour: unknown field 'colour'" in str(error)
    assert "allowed here: name, description, domain, classification_type" in str(error)


def test_unknown_field_in_per_tag_gate(tmp_path):
    path = write(tmp_path, MINIMAL + "gates:\n  per_tag:\n    banana:\n      recal: 0.9\n")
    error = error_of(path)
    assert f"{path}:10: gates.per_tag.banana.recal: unknown field 'recal'" in str(error)
    assert "precision, recall, average_precision" in str(error)


def test_wrong_type_names_line_and_value(tmp_path):
    path = write(tmp_path, MINIMAL + "gates:\n  precision: high\n")
    error = error_of(path)
    assert f"{path}:8: gates.precision:" in str(error)
    assert "valid number" in str(error) and "'high'" in str(error)


def test_out_of_range_and_missing_required(tmp_path):
    path = write(tmp_path, MINIMAL.replace("  name: p\n", "  keep_iterations: 30\n"))
    message = str(error_of(path))
    assert f"{path}:5: publish.name: required field 'name' is missing" in message
    assert f"{path}:6: publish.keep_iterations: Input should be less than or equal to 20" in message


def test_undefined_variable_names_line_and_fix(tmp_path):
    path = write(tmp_path, MINIMAL + "service:\n  training_endpoint: ${NOT_SET_ANYWHERE}\n")
    error = error_of(path)
    assert f"{path}:8: service.training_endpoint: environment variable NOT_SET_ANYWHERE is not set" in str(error)
    assert "${NOT_SET_ANYWHERE:-default}" in str(error)


def test_invalid_yaml_and_duplicate_keys(tmp_path):
    error = error_of(write(tmp_path, "project:\n  name: [unclosed\npublish: {}\n"))
    assert "invalid YAML" in str(error) and error.line is not None
    error = error_of(write(tmp_path, MINIMAL + "project:\n  name: Q\n", "dup.yaml"))
    assert ":7: project: duplicate key (first at line 1)" in str(error)


def test_missing_and_empty_file(tmp_path):
    assert "config file not found" in str(error_of(tmp_path / "nope.yaml"))
    assert "empty" in str(error_of(write(tmp_path, "# nothing\n")))
    assert "YAML mapping" in str(error_of(write(tmp_path, "- a\n- b\n", "list.yaml")))


def test_secret_is_never_echoed_in_errors(tmp_path):
    path = write(tmp_path, MINIMAL + "service:\n  training_key: [s3cret-key-value]\n")
    assert "s3cret-key-value" not in str(error_of(path))
    loaded = load_config(write(tmp_path, MINIMAL + "service:\n  training_key: s3cret-key-value\n", "ok.yaml"), {})
    assert "s3cret-key-value" not in repr(loaded.config)


def test_empty_key_means_keyless(tmp_path):
    path = write(tmp_path, MINIMAL + "service:\n  training_key: ${KEY:-}\n  prediction_key: ''\n")
    service = load_config(path, {}).config.service
    assert service.training_key is None and service.prediction_key is None


def install_fake_stack(monkeypatch, outputs=None, error=None):
    """pipeline/config/stack.py drives the Pulumi CLI; here its interface answers without one."""
    module = types.ModuleType("pipeline.config.stack")

    class StackOutputsUnavailable(Exception):
        pass

    def stack_outputs(stack, work_dir="."):
        if error:
            raise StackOutputsUnavailable(error)
        return dict(outputs, _stack=stack)

    module.StackOutputsUnavailable, module.stack_outputs = StackOutputsUnavailable, stack_outputs
    monkeypatch.setitem(sys.modules, "pipeline.config.stack", module)


STACK = {"CUSTOM_VISION_TRAINING_ENDPOINT": "https://stack.example/", "CUSTOM_VISION_TRAINING_KEY": "stack-key-1234",
         "CUSTOM_VISION_PREDICTION_ENDPOINT": "https://stack-p.example/",
         "CUSTOM_VISION_PREDICTION_RESOURCE_ID": "/subscriptions/x/accounts/p"}


def test_stack_outputs_fill_the_service_and_the_variables(tmp_path, monkeypatch):
    install_fake_stack(monkeypatch, STACK)
    path = write(tmp_path, MINIMAL + "service:\n  pulumi_stack: dev\n  prediction_endpoint: ${CUSTOM_VISION_TRAINING_ENDPOINT}\n")
    service = load_config(path, {"CUSTOM_VISION_TRAINING_ENDPOINT": "https://env.example/"}).config.service
    assert service.training_endpoint == "https://stack.example/"
    assert service.prediction_endpoint == "https://stack.example/"  # the stack wins over the environment
    assert service.training_key.get_secret_value() == "stack-key-1234"
    assert service.prediction_resource_id == "/subscriptions/x/accounts/p"


def test_stack_flag_and_unavailable_stack(tmp_path, monkeypatch):
    install_fake_stack(monkeypatch, error="the Pulumi CLI is not installed")
    path = write(tmp_path, MINIMAL)
    error = error_of(path, stack="prod")
    assert "Pulumi stack 'prod'" in str(error) and "not installed" in str(error)
    # validate never calls Pulumi: the stack's values are placeholders
    loaded = load_config(path, {}, stack="prod", resolve_stack=False)
    assert loaded.stack == "prod" and "stack prod" in loaded.config.service.training_endpoint


def test_schema_is_what_config_schema_json_holds():
    import json
    from pathlib import Path

    shipped = json.loads((Path(__file__).resolve().parents[2] / "config" / "schema.json").read_text())
    assert shipped == schema(), "config/schema.json is stale: run `make schema`"
    assert shipped["additionalProperties"] is False
    assert {"project", "dataset", "publish"} <= set(shipped["required"])


@pytest.mark.parametrize("name", ["groceries.yaml", "trees.yaml"])
def test_shipped_configs_load(name, datasets):
    from pathlib import Path

    env = {"CUSTOM_VISION_TRAINING_ENDPOINT": "http://localhost:1", "CUSTOM_VISION_PREDICTION_ENDPOINT": "http://x",
           "CUSTOM_VISION_PREDICTION_RESOURCE_ID": "/subscriptions/x", "CVOPS_DATASETS": str(datasets)}
    loaded = load_config(Path(__file__).resolve().parents[2] / "config" / name, env)
    assert loaded.config.service.training_key is None  # keyless when no key is set
    if name == "trees.yaml":
        assert loaded.config.tag_name("Japanese_Cherry") == "Japanese Cherry"


def test_every_field_is_documented():
    from pathlib import Path

    from pydantic import BaseModel

    from pipeline.config import PipelineConfig

    docs = (Path(__file__).resolve().parents[2] / "docs" / "pipeline-config.md").read_text()

    def paths(model, prefix=""):
        for name, field in model.model_fields.items():
            key = prefix + (field.alias or name)
            yield key
            for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    yield from paths(arg, key + (".TAG." if key.endswith("per_tag") else
                                                 "[]." if key.endswith("smoke_test") else "."))
    missing = [p for p in paths(PipelineConfig) if f"`{p}" not in docs and f"{p}`" not in docs]
    assert not missing, f"docs/pipeline-config.md does not describe: {missing}"


def test_a_misspelt_top_level_key_is_unknown_not_the_real_key_missing(tmp_path):
    path = write(tmp_path, MINIMAL.replace("project:", "projct:"))
    error = error_of(path)
    assert str(error) == (f"{path}:1: projct: unknown field 'projct' (did you mean 'project'?); allowed here: "
                          "project, service, dataset, upload, training, evaluation, gates, smoke_test, publish, report")
    assert "required field 'project' is missing" not in str(error)
    # A key that is simply missing (no look-alike beside it) is still reported as missing.
    assert "required field 'project' is missing" in str(error_of(write(tmp_path, MINIMAL.replace(
        "project:\n  name: P\n", ""), "d.yaml")))


@pytest.mark.parametrize("field, given, expected", [
    ("precision", "90", "gates.precision: a fraction from 0 to 1, not a percentage: write 0.9 for 90%"),
    ("recall", "99.5", "gates.recall: a fraction from 0 to 1, not a percentage: write 0.995 for 99.5%"),
    ("recall", "150", "gates.recall: Input should be less than or equal to 1 (got 150)"),
])
def test_a_percentage_where_a_fraction_belongs_says_which_fraction(tmp_path, field, given, expected):
    path = write(tmp_path, MINIMAL + f"gates:\n  {field}: {given}\n")
    assert str(error_of(path)) == f"{path}:8: {expected}"


def test_home_folder_expands_in_paths(tmp_path):
    text = MINIMAL.replace("${DATA:-/data}/fruit", "~/datasets/fruit") + (
        "report:\n  json: ~/out/r.json\nsmoke_test:\n  - image: ~/a.jpg\n    expect: apple\n"
        "  - image: https://example.com/~x.jpg\n    expect: apple\n")
    config = load_config(write(tmp_path, text), {}).config
    home = __import__("pathlib").Path.home()
    assert config.dataset.path == home / "datasets" / "fruit" and config.report.json_path == home / "out" / "r.json"
    assert config.smoke_test[0].image == str(home / "a.jpg")
    assert config.smoke_test[1].image == "https://example.com/~x.jpg"


def test_tier_and_rate(tmp_path):
    base = MINIMAL + "service:\n  tier: ${TIER:-}\n"
    assert load_config(write(tmp_path, base), {}).config.service.tier is None
    assert load_config(write(tmp_path, base), {"TIER": "s0"}).config.service.tier == "S0"
    error = error_of(write(tmp_path, base), {"TIER": "S1"})
    assert "service.tier: Input should be 'F0' or 'S0'" in str(error)
    rate = load_config(write(tmp_path, MINIMAL + "service:\n  requests_per_second: 4\n"), {})
    from pipeline.sdk.clients import rates
    assert rates(rate.config.service) == rates(rate.config.service).__class__(4, 4, 4, "service.requests_per_second")
    f0 = load_config(write(tmp_path, MINIMAL + "service:\n  tier: F0\n  requests_per_second: 5\n"), {}).config
    assert (rates(f0.service).train, rates(f0.service).other, rates(f0.service).prediction) == (2, 5, 2)
