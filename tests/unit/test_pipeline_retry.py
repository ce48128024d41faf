"""Retries: which failures are retried, how long to wait (backoff with jitter, Retry-After), when to stop.
The end-to-end check against a throttling service is in test_pipeline_run.py."""
from __future__ import annotations

import random
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from azure.core.credentials import AccessToken
from msrest.exceptions import ClientRequestError, HttpOperationError

from pipeline.sdk.clients import TokenCredentials
from pipeline.sdk.errors import as_pipeline_error
from pipeline.sdk.retry import RetryPolicy, Retrying, call_with_retries, is_retryable, retry_after


def http_error(status, headers=None, code=None):
    exc = HttpOperationError.__new__(HttpOperationError)
    Exception.__init__(exc, f"status {status}")
    exc.response = SimpleNamespace(status_code=status, headers=headers or {})
    exc.error = SimpleNamespace(code=code, message=f"message {status}")
    return exc


def policy(**kwargs):
    waits = []
    return RetryPolicy(sleep=waits.append, rng=random.Random(1), **kwargs), waits


def test_classification():
    assert is_retryable(http_error(429)) and is_retryable(http_error(503)) and is_retryable(http_error(500))
    assert is_retryable(http_error(408)) and is_retryable(ClientRequestError("connection refused"))
    assert not is_retryable(http_error(400)) and not is_retryable(http_error(404))
    assert not is_retryable(ValueError("x"))


def test_retry_after_forms():
    assert retry_after(http_error(429, {"Retry-After": "2"})) == 2.0
    assert retry_after(http_error(429, {"retry-after-ms": "1500"})) == 1.5
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after(http_error(429, {"Retry-After": later})) <= 30
    assert retry_after(http_error(503)) is None


def test_backoff_grows_with_jitter_and_honours_retry_after():
    p, _ = policy(base_delay=1.0, max_delay=8.0)
    delays = [p.delay(n, None) for n in range(1, 7)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and 2.0 <= delays[2] <= 4.0
    assert all(4.0 <= d <= 8.0 for d in delays[3:])
    assert 3.0 <= p.delay(1, 3.0) <= 3.25


def test_retries_until_success_then_counts():
    p, waits = policy()
    answers = [http_error(429, {"Retry-After": "1"}), ClientRequestError("reset"), "done"]

    def flaky():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    assert call_with_retries(p, "get_projects", flaky) == "done"
    assert p.retries == 2 and len(waits) == 2 and 1.0 <= waits[0] <= 1.3


def test_gives_up_after_max_attempts_and_names_the_operation():
    p, waits = policy(max_attempts=3)

    def always():
        raise http_error(503, code="ErrorUnknown")
    with pytest.raises(HttpOperationError) as info:
        call_with_retries(p, "train_project", always)
    assert len(waits) == 2
    message = str(as_pipeline_error(info.value))
    assert message.startswith("train_project: the service answered HTTP 503 ErrorUnknown") and "3 attempts" in message


def test_not_retryable_is_raised_at_once():
    p, waits = policy()

    def bad():
        raise http_error(400, code="BadRequest")
    with pytest.raises(HttpOperationError):
        call_with_retries(p, "create_tag", bad)
    assert waits == []


def test_retrying_proxy_wraps_operations_only():
    target = SimpleNamespace(config="cfg", get_tags=lambda project_id: ["t"])
    proxy = Retrying(target, policy()[0])
    assert proxy.config == "cfg" and proxy.get_tags("p") == ["t"] and proxy.client is target


def test_token_credentials_send_bearer_tokens_and_explain_failures():
    class Credential:
        def __init__(self, fail=False):
            self.fail, self.scopes = fail, []

        def get_token(self, scope):
            self.scopes.append(scope)
            if self.fail:
                raise RuntimeError("DefaultAzureCredential failed to retrieve a token\nmore lines")
            return AccessToken("eyJ-token-value", 2**40)

    credential = Credential()
    session = TokenCredentials(credential).signed_session()
    assert session.headers["Authorization"] == "Bearer eyJ-token-value"
    assert credential.scopes == ["https://cognitiveservices.azure.com/.default"]
    from pipeline.redact import redact
    assert "eyJ-token-value" not in redact("header eyJ-token-value")
    with pytest.raises(Exception, match="keyless sign-in failed.*failed to retrieve a token Set the key"):
        TokenCredentials(Credential(fail=True)).signed_session()


def test_keyless_clients_send_bearer_tokens_over_http():
    """Without keys, the SDK clients carry `Authorization: Bearer` (a loopback server records the headers)."""
    import http.server
    import threading

    from pipeline.config import ServiceConfig
    from pipeline.sdk.clients import prediction_client, training_client

    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        class Credential:
            def get_token(self, scope):
                return AccessToken(f"token-for-{scope}", 2**40)
        endpoint = f"http://127.0.0.1:{server.server_port}"
        service = ServiceConfig(training_endpoint=endpoint, training_key=None)
        assert training_client(service, token_credential=Credential()).get_projects() == []
        assert seen[0]["authorization"] == "Bearer token-for-https://cognitiveservices.azure.com/.default"
        assert "training-key" not in seen[0]
        keyed = ServiceConfig(training_endpoint=endpoint, training_key="a-training-key-1")
        training_client(keyed).get_projects()
        assert seen[1]["training-key"] == "a-training-key-1" and "authorization" not in seen[1]
        assert prediction_client(service, token_credential=Credential()).client.config.endpoint == endpoint
    finally:
        server.shutdown()


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def access_policy(grace):
    clock, waits = FakeClock(), []

    def sleep(seconds):
        waits.append(seconds)
        clock.now += seconds
    return RetryPolicy(sleep=sleep, clock=clock, rng=random.Random(1), access_grace_s=grace), waits


def test_keyless_401_is_waited_out_while_a_role_assignment_applies(caplog):
    p, waits = access_policy(15 * 60)
    answers = [http_error(401), http_error(403), "projects"]

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    with caplog.at_level("WARNING", logger="cvops.retry"):
        assert call_with_retries(p, "get_projects", call) == "projects"
    assert waits == [15.0, 15.0]
    messages = [r.getMessage() for r in caplog.records if "role assignment" in r.getMessage()]
    assert len(messages) == 1, "one line when the wait starts"
    assert messages[0].startswith("get_projects: HTTP 401 with an Entra ID token")
    assert "up to 15 min (service.rbac_wait_minutes)" in messages[0] and "up to 10 minutes" in messages[0]


def test_keyless_401_gives_up_after_the_role_wait_saying_how_long_it_waited():
    from pipeline.sdk import notices

    p, waits = access_policy(15 * 60)
    said: list[str] = []
    previous = notices.listen(said.append)
    try:
        def refused():
            raise http_error(403, code="PermissionDenied")
        with pytest.raises(HttpOperationError) as info:
            call_with_retries(p, "get_projects", refused)
    finally:
        notices.listen(previous)
    assert sum(waits) == pytest.approx(15 * 60) and len(waits) == 60
    # Progress once a minute while it waits: "waited 1 min of 15 min", ... "14 min of 15 min".
    assert said[0] == "get_projects: still HTTP 403; waited 1 min of 15 min for the role assignment to apply"
    assert len(said) == 14 and said[-1].endswith("waited 14 min of 15 min for the role assignment to apply")
    message = str(as_pipeline_error(info.value))
    assert "still refused after waiting 15 min for the role assignment" in message
    assert "service.rbac_wait_minutes" in message


def test_a_wrong_key_is_not_retried():
    p, waits = access_policy(0)

    def refused():
        raise http_error(401, code="Unauthorized")
    with pytest.raises(HttpOperationError):
        call_with_retries(p, "get_projects", refused)
    assert waits == []


def test_only_keyless_clients_wait_for_role_assignments():
    from pipeline.config import ServiceConfig
    from pipeline.sdk.clients import prediction_client, training_client

    class Credential:
        def get_token(self, scope):
            return AccessToken("t", 2**40)
    keyless = ServiceConfig(training_endpoint="http://127.0.0.1:9", training_key=None, prediction_key=None)
    keyed = ServiceConfig(training_endpoint="http://127.0.0.1:9", training_key="a-training-key-1",
                          prediction_key="a-prediction-key-1")
    assert training_client(keyless, token_credential=Credential()).policy.access_grace_s == 15 * 60
    assert prediction_client(keyless, token_credential=Credential()).policy.access_grace_s == 15 * 60
    assert training_client(keyed).policy.access_grace_s == 0
    assert prediction_client(keyed).policy.access_grace_s == 0
    # service.rbac_wait_minutes sets it; a key never waits, whatever it says.
    patient = keyless.model_copy(update={"rbac_wait_minutes": 30})
    assert training_client(patient, token_credential=Credential()).policy.access_grace_s == 30 * 60
    keyed_patient = keyed.model_copy(update={"rbac_wait_minutes": 30})
    assert training_client(keyed_patient).policy.access_grace_s == 0


def test_the_role_wait_is_refused_outside_its_bounds():
    from pydantic import ValidationError

    from pipeline.config import ServiceConfig
    with pytest.raises(ValidationError, match="rbac_wait_minutes"):
        ServiceConfig(rbac_wait_minutes=-1)
    with pytest.raises(ValidationError, match="rbac_wait_minutes"):
        ServiceConfig(rbac_wait_minutes=121)
