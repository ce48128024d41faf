"""The Custom Vision clients: the official SDK, authenticated with keys or (keyless) with Entra ID bearer
tokens from azure-identity, and wrapped so that every call retries throttling and transient failures."""
from __future__ import annotations

import re
from typing import Any

from msrest.authentication import ApiKeyCredentials, Authentication

from pipeline.config import ServiceConfig
from pipeline.errors import ConfigError, PipelineError
from pipeline.redact import register_secret
from pipeline.retry import RetryPolicy, Retrying

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"


class TokenCredentials(Authentication):
    """msrest credentials that send `Authorization: Bearer <token>` from an azure-identity credential."""

    def __init__(self, credential: Any, scope: str = COGNITIVE_SERVICES_SCOPE):
        super().__init__()
        self._credential = credential
        self._scope = scope

    def signed_session(self, session=None):
        session = super().signed_session(session)
        try:
            token = self._credential.get_token(self._scope).token
        except Exception as exc:  # noqa: BLE001 - azure-identity raises several types; all mean "no token"
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PipelineError("keyless sign-in failed (no key configured, so azure-identity "
                                f"DefaultAzureCredential was used): {first_line} Set the key, or sign in "
                                "(az login; azure/login with OIDC in GitHub Actions)") from None
        register_secret(token)
        session.headers["Authorization"] = f"Bearer {token}"
        return session


def _credentials(key: Any, header: str, token_credential: Any = None) -> Authentication:
    """The key in its header; without a key, bearer tokens (from DefaultAzureCredential unless given)."""
    if key is not None and key.get_secret_value():
        register_secret(key.get_secret_value())
        return ApiKeyCredentials(in_headers={header: key.get_secret_value()})
    if token_credential is None:
        from azure.identity import DefaultAzureCredential  # only needed keyless
        token_credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    return TokenCredentials(token_credential)


def _policy(service: ServiceConfig) -> RetryPolicy:
    return RetryPolicy(max_attempts=service.max_attempts, max_delay=service.max_delay_seconds)


def training_client(service: ServiceConfig, policy: RetryPolicy | None = None,
                    token_credential: Any = None) -> Retrying:
    """CustomVisionTrainingClient behind retries."""
    from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
    if not service.training_endpoint:
        raise ConfigError("service.training_endpoint is not set: set CUSTOM_VISION_TRAINING_ENDPOINT "
                          "or use --stack NAME")
    client = CustomVisionTrainingClient(service.training_endpoint,
                                        _credentials(service.training_key, "Training-key", token_credential))
    return Retrying(client, policy or _policy(service))


def prediction_client(service: ServiceConfig, policy: RetryPolicy | None = None,
                      token_credential: Any = None) -> Retrying:
    """CustomVisionPredictionClient behind retries (the prediction endpoint defaults to the training one)."""
    from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
    endpoint = service.prediction_endpoint or service.training_endpoint
    if not endpoint:
        raise ConfigError("service.prediction_endpoint is not set: set CUSTOM_VISION_PREDICTION_ENDPOINT "
                          "or use --stack NAME")
    client = CustomVisionPredictionClient(endpoint, _credentials(service.prediction_key, "Prediction-key",
                                                                        token_credential))
    return Retrying(client, policy or _policy(service))


def as_pipeline_error(exc: BaseException, endpoint: str | None = None) -> PipelineError | None:
    """One clear line for an SDK or transport failure (None: not one of those)."""
    from msrest.exceptions import ClientRequestError, HttpOperationError

    from pipeline.errors import ServiceError
    from pipeline.retry import error_code, status_of

    operation = getattr(exc, "cvops_operation", None)
    attempts = getattr(exc, "cvops_attempts", 1)
    after = f" (after {attempts} attempts)" if attempts > 1 else ""
    prefix = f"{operation}: " if operation else ""
    if isinstance(exc, HttpOperationError):
        status, code = status_of(exc), error_code(exc)
        message = getattr(getattr(exc, "error", None), "message", None) or str(exc)
        hint = ""
        if status in (401, 403):
            hint = " (check the key, or the role assignment when keyless)"
        return ServiceError(f"{prefix}the service answered HTTP {status}{' ' + code if code else ''}: "
                            f"{message}{hint}{after}", code, status)
    if isinstance(exc, ClientRequestError):
        endpoint = getattr(exc, "cvops_endpoint", None) or endpoint
        where = f" at {endpoint}" if endpoint else ""
        reason = re.search(r"\[Errno -?\d+\] [^'\")]+|Read timed out|timed out|Connection aborted|"
                           r"RemoteDisconnected[^'\")]*|too many \d+ error responses", str(exc))
        return ServiceError(f"{prefix}cannot reach the service{where}{after}: "
                            f"{reason.group(0) if reason else str(exc)[:300]}")
    if isinstance(exc, TypeError) and "CustomVisionError" in str(exc):
        return ServiceError(f"{prefix}the service answered an error with an empty body")
    return None
