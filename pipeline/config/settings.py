"""The five service settings, written once: each one's field in the config's `service:` section, the
environment variable that configs and CI set, and the Pulumi stack output it comes from (infra/custom_vision.py
exports these names)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    field: str                   # ServiceConfig field
    variable: str                # environment variable
    output: str                  # Pulumi stack output
    secret: bool = False         # a key: registered for redaction, never echoed; empty means keyless (Entra ID)
    needed_to: str | None = None  # the command step that cannot run without it (`cvops validate` says so)


SETTINGS: tuple[Setting, ...] = (
    Setting("training_endpoint", "CUSTOM_VISION_TRAINING_ENDPOINT", "trainingEndpoint", needed_to="train"),
    Setting("training_key", "CUSTOM_VISION_TRAINING_KEY", "trainingKey", secret=True),
    Setting("prediction_endpoint", "CUSTOM_VISION_PREDICTION_ENDPOINT", "predictionEndpoint"),
    Setting("prediction_key", "CUSTOM_VISION_PREDICTION_KEY", "predictionKey", secret=True),
    Setting("prediction_resource_id", "CUSTOM_VISION_PREDICTION_RESOURCE_ID", "predictionResourceId",
            needed_to="publish"),
)
BY_FIELD = {setting.field: setting for setting in SETTINGS}
SECRET_FIELDS = frozenset(setting.field for setting in SETTINGS if setting.secret)


def variable(field: str) -> str:
    """The environment variable of a `service:` field, e.g. CUSTOM_VISION_TRAINING_ENDPOINT."""
    return BY_FIELD[field].variable


def environment(values: dict[str, str]) -> dict[str, str]:
    """{field: value} as the CUSTOM_VISION_* variables (what a shell, a CI job or a test sets)."""
    return {BY_FIELD[field].variable: value for field, value in values.items()}
