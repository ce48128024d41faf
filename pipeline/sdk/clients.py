"""The Custom Vision clients: the official SDK, authenticated with keys or (keyless) with Entra ID bearer
tokens from azure-identity, and wrapped so that every call is paced to the tier's rate and retries throttling
and transient failures. The retries are ours alone (`retry.py`): the transport's own (urllib3's, three per call
with backoff) are turned off, so each attempt is said as it happens and none waits unseen."""
from __future__ import annotations

from typing import Any

from msrest.authentication import ApiKeyCredentials, Authentication

from pipeline.config import ServiceConfig
from pipeline.config.settings import variable
from pipeline.errors import ConfigError, PipelineError
from pipeline.redact import register_secret
from pipeline.sdk.credentials import CachedTokens, shared_tokens
from pipeline.sdk.pacing import Pacer, Rates, pacer_for
from pipeline.sdk.retry import RetryPolicy, Retrying
from pipeline.sdk.tiers import tier as tier_named

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
CONNECT_TIMEOUT_S = 10.0  # a host that never accepts the connection; answers may take longer (read timeout)
READ_TIMEOUT_S = 100.0    # msrest's default


class TokenCredentials(Authentication):
    """msrest credentials that send `Authorization: Bearer <token>`, from an azure-identity credential through
    a token cache (msrest signs every request; the cache asks the credential once a token lifetime)."""

    def __init__(self, credential: Any, scope: str = COGNITIVE_SERVICES_SCOPE):
        super().__init__()
        self._tokens = credential if isinstance(credential, CachedTokens) else CachedTokens(credential)
        self._scope = scope

    def signed_session(self, session=None):
        session = super().signed_session(session)
        try:
            token = self._tokens.token(self._scope)
        except Exception as exc:  # noqa: BLE001 - azure-identity raises several types; all mean "no token"
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PipelineError("keyless sign-in failed (no key configured, so Entra ID tokens from "
                                f"azure-identity were used): {first_line} Set the key, or sign in (az login; in "
                                "GitHub Actions: AZURE_CLIENT_ID, AZURE_TENANT_ID and `id-token: write`)") from None
        session.headers["Authorization"] = f"Bearer {token}"
        return session


def _credentials(key: Any, header: str, token_credential: Any = None) -> Authentication:
    """The key in its header; without a key, bearer tokens (credentials.py chooses the credential unless given)."""
    if key is not None and key.get_secret_value():
        register_secret(key.get_secret_value())
        return ApiKeyCredentials(in_headers={header: key.get_secret_value()})
    return TokenCredentials(shared_tokens() if token_credential is None else token_credential)


def _policy(service: ServiceConfig, credentials: Authentication) -> RetryPolicy:
    # Keyless only: a wrong key stays wrong, and says so on the first call.
    keyless = isinstance(credentials, TokenCredentials)
    return RetryPolicy(max_attempts=service.max_attempts, max_delay=service.max_delay_seconds,
                       access_grace_s=service.rbac_wait_minutes * 60 if keyless else 0.0)


def rates(service: ServiceConfig) -> Rates:
    """The rates to pace at: the tier's, `requests_per_second` (capped by the tier's for training calls), or
    none known (learned from the first 429)."""
    known = tier_named(service.tier)
    per_second = service.requests_per_second
    if per_second:
        train = min(per_second, known.train_calls_per_second) if known else per_second
        prediction = min(per_second, known.predictions_per_second) if known else per_second
        return Rates(train, per_second, prediction, "service.requests_per_second")
    if known:
        return Rates(known.train_calls_per_second, known.calls_per_second, known.predictions_per_second, known.name)
    return Rates()


def _pacer(service: ServiceConfig, endpoint: str) -> Pacer:
    return pacer_for(endpoint, rates(service))


def _transport(client: Any) -> Any:
    """No retries below ours, and a bounded wait for a connection."""
    retry = client.config.retry_policy.policy  # urllib3's Retry, as msrest configured it
    retry.total, retry.connect, retry.read, retry.status, retry.other = None, 0, 0, 0, 0
    retry.status_forcelist, retry.backoff_factor = (), 0
    retry.respect_retry_after_header, retry.raise_on_status = False, False
    client.config.connection.timeout = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
    return client


def training_client(service: ServiceConfig, policy: RetryPolicy | None = None,
                    token_credential: Any = None) -> Retrying:
    """CustomVisionTrainingClient behind retries."""
    from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
    if not service.training_endpoint:
        raise ConfigError(f"service.training_endpoint is not set: set {variable('training_endpoint')} "
                          "or use --stack NAME")
    credentials = _credentials(service.training_key, "Training-key", token_credential)
    client = _transport(CustomVisionTrainingClient(service.training_endpoint, credentials))
    return Retrying(client, policy or _policy(service, credentials), _pacer(service, service.training_endpoint),
                    "training")


def prediction_client(service: ServiceConfig, policy: RetryPolicy | None = None,
                      token_credential: Any = None) -> Retrying:
    """CustomVisionPredictionClient behind retries (the prediction endpoint defaults to the training one)."""
    from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
    endpoint = service.prediction_endpoint or service.training_endpoint
    if not endpoint:
        raise ConfigError(f"service.prediction_endpoint is not set: set {variable('prediction_endpoint')} "
                          "or use --stack NAME")
    credentials = _credentials(service.prediction_key, "Prediction-key", token_credential)
    client = _transport(CustomVisionPredictionClient(endpoint, credentials))
    return Retrying(client, policy or _policy(service, credentials), _pacer(service, endpoint), "prediction")

