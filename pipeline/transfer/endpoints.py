"""Which Custom Vision service a transfer reads from or writes to, and with which key.

`--from` / `--to` take an endpoint URL (the key from CVOPS_SOURCE_TRAINING_KEY / CVOPS_TARGET_TRAINING_KEY,
keyless Entra ID when unset) or `stack:NAME` (the Pulumi stack's outputs, as `--stack`). Without them, the
CUSTOM_VISION_* variables (or `--stack NAME`) say, as for every other command. A key is never taken from the
command line, where any process listing would show it."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from pydantic import SecretStr

from pipeline.config import ServiceConfig
from pipeline.config.settings import variable
from pipeline.errors import ConfigError
from pipeline.redact import register_secret

KEY_VARIABLES = {"source": "CVOPS_SOURCE_TRAINING_KEY", "target": "CVOPS_TARGET_TRAINING_KEY"}
TARGET_RESOURCE_ID = "CVOPS_TARGET_PREDICTION_RESOURCE_ID"
FLAGS = {"source": "--from", "target": "--to"}


@dataclass
class Endpoint:
    service: ServiceConfig
    label: str  # how messages name it: the endpoint URL, with the stack it came from


def resolve(spec: str | None, role: str, stack: str | None = None,
            environ: Mapping[str, str] | None = None) -> Endpoint:
    """The service of the source (`role="source"`) or target (`"target"`) of a transfer."""
    environ = os.environ if environ is None else environ
    flag = FLAGS[role]
    if spec and spec.startswith("stack:"):
        stack, spec = spec.removeprefix("stack:"), None
        if not stack:
            raise ConfigError(f"{flag} stack:NAME: the stack name is missing")
    if spec is None:
        values = _stack_values(stack) if stack else {
            name: environ.get(variable(name)) for name in ("training_endpoint", "training_key",
                                                           "prediction_resource_id")}
        if not values.get("training_endpoint"):
            raise ConfigError(f"no {role} service: give {flag} URL (or {flag} stack:NAME), or set "
                              f"{variable('training_endpoint')}")
        where = f"stack {stack}" if stack else variable("training_endpoint")
        return _endpoint(values, f"{values['training_endpoint']} ({where})")
    if not spec.startswith(("http://", "https://")):
        raise ConfigError(f"{flag} {spec}: give the service's endpoint URL (https://NAME.cognitiveservices.azure.com/ "
                          "or http://HOST:PORT) or stack:NAME")
    values = {"training_endpoint": spec, "training_key": environ.get(KEY_VARIABLES[role]),
              "prediction_resource_id": environ.get(TARGET_RESOURCE_ID) if role == "target" else None}
    keyless = "" if values["training_key"] else f", keyless: {KEY_VARIABLES[role]} is not set"
    return _endpoint(values, spec + keyless)


def _endpoint(values: Mapping[str, str | None], label: str) -> Endpoint:
    key = values.get("training_key") or None
    register_secret(key)
    return Endpoint(ServiceConfig(training_endpoint=values["training_endpoint"],
                                  training_key=SecretStr(key) if key else None,
                                  prediction_resource_id=values.get("prediction_resource_id") or None), label)


def _stack_values(stack: str) -> dict[str, str | None]:
    from pipeline.config.settings import SETTINGS
    from pipeline.config.stack import StackOutputsUnavailable, stack_outputs

    try:
        outputs = stack_outputs(stack)
    except StackOutputsUnavailable as exc:
        raise ConfigError(f"Pulumi stack {stack!r}: {exc}") from None
    return {setting.field: outputs.get(setting.variable) for setting in SETTINGS}
