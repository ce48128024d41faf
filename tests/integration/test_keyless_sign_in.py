"""Keyless sign-in in GitHub Actions, over real HTTP: the official SDK client, azure-identity's real credential
and requests, against loopback stand-ins for GitHub's OIDC endpoint and Entra ID (harness/identity.py) whose
tokens live minutes. Two hours of simulated time run in seconds: `time.time` is the simulated clock."""
from __future__ import annotations

import os
import time

import pytest

from harness.identity import SimulatedClock, token_services
from pipeline.config import ServiceConfig
from pipeline.errors import PipelineError
from pipeline.sdk import credentials
from pipeline.sdk.clients import training_client

STEP_S = 30          # one SDK call every 30 simulated seconds
RUN_S = 2 * 3600     # two hours: longer than any access token, and than GitHub's OIDC tokens by far


@pytest.fixture
def clock(monkeypatch):
    simulated = SimulatedClock()
    monkeypatch.setattr(time, "time", simulated)  # azure-identity's expiry checks, the cache's and the fakes'
    return simulated


@pytest.fixture
def actions(tmp_path, clock, monkeypatch):
    """A GitHub Actions job with `id-token: write` and the deploy workflow's AZURE_* variables."""
    with token_services(tmp_path, clock) as services:
        for name, value in {
            "GITHUB_ACTIONS": "true", "AZURE_CLIENT_ID": services.client_id, "AZURE_TENANT_ID": services.tenant_id,
            "ACTIONS_ID_TOKEN_REQUEST_URL": services.oidc_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": services.request_token,
            "AZURE_AUTHORITY_HOST": services.authority,  # azure-identity's own setting for the Entra endpoint
            "REQUESTS_CA_BUNDLE": services.ca_file,      # trust the loopback Entra's certificate
        }.items():
            monkeypatch.setenv(name, value)
        for name in ("AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
            monkeypatch.delenv(name, raising=False)
        credentials.shared_tokens.cache_clear()
        yield services
        credentials.shared_tokens.cache_clear()


def keyless(services) -> ServiceConfig:
    # No role wait: a refusal here must fail the test at once, not be retried for minutes.
    return ServiceConfig(training_endpoint=services.resource_url, training_key=None, rbac_wait_minutes=0)


def test_a_two_hour_run_renews_its_tokens_and_asks_once_a_token_lifetime(actions, clock):
    client = training_client(keyless(actions))  # no credential given: chosen from the environment
    calls = 0
    while clock.elapsed < RUN_S:
        assert client.get_projects() == []
        calls += 1
        clock.advance(STEP_S)

    assert calls == RUN_S // STEP_S and actions.resource_answered == calls and actions.resource_refused == 0
    # Renewed 5 minutes before each 20-minute token expires: at 0, 15, 30, ... 105 minutes.
    renewals = RUN_S // (actions.access_lifetime_s - credentials.RENEW_BEFORE_S)
    assert len(actions.access_issued) == renewals == 8
    assert credentials.shared_tokens().requests == renewals, "the credential is asked once a token, not once a call"
    # Each token exchange brought its own fresh GitHub token; none was refused as expired.
    assert actions.assertions_used == actions.oidc_issued and len(set(actions.oidc_issued)) == renewals
    assert actions.refused == []


def test_one_oidc_token_for_the_whole_run_fails_as_azure_login_does(actions, clock):
    """The control: what the `az login` session of `azure/login` amounts to (one OIDC token, reused). The fakes
    refuse it once it has expired, so the test above passes only because each renewal fetched a new one."""
    from azure.identity import ClientAssertionCredential

    first = credentials.GitHubOidcToken(actions.oidc_url, actions.request_token)()
    once = ClientAssertionCredential(actions.tenant_id, actions.client_id, lambda: first)
    client = training_client(keyless(actions), token_credential=once)
    with pytest.raises(PipelineError, match="keyless sign-in failed.*AADSTS700024"):
        while clock.elapsed < RUN_S:
            client.get_projects()
            clock.advance(STEP_S)
    # The first access token carried the run for its 20 minutes; the renewals after it were refused.
    assert 15 * 60 <= clock.offset <= 20 * 60 and actions.resource_refused == 0
    assert actions.refused and all("AADSTS700024" in why for why in actions.refused)


def test_actions_with_ids_sign_in_with_the_jobs_oidc_token(actions):
    from azure.identity import ClientAssertionCredential, DefaultAzureCredential

    assert isinstance(credentials.azure_credential(), ClientAssertionCredential)
    for absent in ("GITHUB_ACTIONS", "AZURE_CLIENT_ID", "ACTIONS_ID_TOKEN_REQUEST_URL"):
        environ = {k: v for k, v in os.environ.items() if k != absent}
        assert isinstance(credentials.azure_credential(environ), DefaultAzureCredential), absent
    # A secret or a token file: DefaultAzureCredential's EnvironmentCredential / WorkloadIdentityCredential.
    assert isinstance(credentials.azure_credential({**os.environ, "AZURE_CLIENT_SECRET": "s"}), DefaultAzureCredential)


def test_a_job_without_id_token_permission_says_so(actions):
    fetch = credentials.GitHubOidcToken(actions.oidc_url, "not-the-jobs-request-token")
    with pytest.raises(PipelineError, match=r"HTTP 401: does the job have `permissions: id-token: write`\?") as info:
        fetch()
    assert "not-the-jobs-request-token" not in str(info.value)
    assert actions.oidc_issued == []


def test_a_failed_renewal_keeps_the_token_that_still_works():
    from azure.core.credentials import AccessToken

    now = [1_000_000.0]
    answers = ["token-1", RuntimeError("the CLI could not renew"), "token-2", RuntimeError("expired for good")]

    class Credential:
        def get_token(self, scope):
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return AccessToken(answer, int(now[0]) + 3600)

    tokens = credentials.CachedTokens(Credential(), clock=lambda: now[0])
    assert tokens.token("scope") == "token-1" and tokens.token("scope") == "token-1" and tokens.requests == 1
    now[0] += 3600 - 200                         # inside the renewal margin, not yet expired
    assert tokens.token("scope") == "token-1"    # the renewal failed: the old token still serves
    assert tokens.token("scope") == "token-2"    # and the next call renews
    now[0] += 3600 + 1                           # token-2 has expired and its renewal fails: that is an error
    with pytest.raises(RuntimeError, match="expired for good"):
        tokens.token("scope")
