"""Keyless sign-in (Entra ID) that lasts as long as the run: which azure-identity credential, and a token cache.

In GitHub Actions, `azure/login` signs the Azure CLI in with one GitHub OIDC token, which lives about five
minutes; the CLI cannot mint a token for a new resource (or renew one) after that (Azure/azure-cli#28708,
Azure/login#180). `cvops` asks for its first Custom Vision token after `pulumi up` and trains for longer than
an access token lives, so in Actions it signs in itself: azure-identity's `ClientAssertionCredential`, whose
assertion callback asks GitHub for a fresh OIDC token each time Entra ID needs one. (`WorkloadIdentityCredential`
reads the assertion from a file, which nothing renews in Actions.) Elsewhere: `DefaultAzureCredential`.

msrest asks its credentials on every request and `AzureCliCredential` caches nothing (each call would spawn
`az`), so `CachedTokens` keeps each access token until a few minutes before it expires: one token request per
token lifetime, renewed mid-run.
"""
from __future__ import annotations

import os
import threading
import time
from functools import lru_cache
from typing import Any, Callable, Mapping

from pipeline.errors import PipelineError
from pipeline.redact import register_secret
from pipeline.sdk import notices

# The audience Entra ID expects on a federated credential's assertion (the app's federated credential says so).
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
RENEW_BEFORE_S = 300.0  # renew an access token this long before it expires (azure-identity's own margin)
GITHUB_TOKEN_TIMEOUT_S = 30.0


class GitHubOidcToken:
    """The assertion callback: a fresh GitHub Actions OIDC token for Entra ID's token exchange, each call.

    The runner sets ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN for jobs with
    `permissions: id-token: write`; the request token is good for the whole job, the ID token it buys for minutes.
    """

    def __init__(self, request_url: str, request_token: str, audience: str = TOKEN_EXCHANGE_AUDIENCE):
        register_secret(request_token)
        self.request_url = request_url
        self._request_token = request_token
        self.audience = audience

    def __call__(self) -> str:
        import requests

        try:
            response = requests.get(self.request_url, params={"audience": self.audience},
                                    headers={"Authorization": f"Bearer {self._request_token}",
                                             "Accept": "application/json"},
                                    timeout=GITHUB_TOKEN_TIMEOUT_S)
        except requests.RequestException as exc:
            raise PipelineError(f"GitHub's OIDC token endpoint did not answer: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise PipelineError(f"GitHub's OIDC token endpoint answered HTTP {response.status_code}: does the job "
                                "have `permissions: id-token: write`?")
        try:
            token = response.json()["value"]
        except (ValueError, KeyError, TypeError):
            raise PipelineError("GitHub's OIDC token endpoint answered without a token (no `value`)") from None
        register_secret(token)
        return token


def github_actions_sign_in(environ: Mapping[str, str]) -> tuple[str, str, GitHubOidcToken] | None:
    """(tenant, client id, assertion callback) when this is a GitHub Actions job that can sign in with OIDC.

    Needs the runner's two ACTIONS_ID_TOKEN_REQUEST_* variables and AZURE_CLIENT_ID / AZURE_TENANT_ID (the
    deploy workflow sets them). A client secret or a token file (AZURE_CLIENT_SECRET, AZURE_FEDERATED_TOKEN_FILE)
    is left to DefaultAzureCredential, which reads those itself.
    """
    if environ.get("GITHUB_ACTIONS") != "true":
        return None
    if environ.get("AZURE_CLIENT_SECRET") or environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        return None
    needed = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not all(environ.get(name) for name in needed):
        return None
    return (environ["AZURE_TENANT_ID"], environ["AZURE_CLIENT_ID"],
            GitHubOidcToken(environ["ACTIONS_ID_TOKEN_REQUEST_URL"], environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]))


def azure_credential(environ: Mapping[str, str] | None = None) -> Any:
    """The azure-identity credential for this environment (see the module docstring)."""
    environ = os.environ if environ is None else environ
    actions = github_actions_sign_in(environ)
    if actions is not None:
        from azure.identity import ClientAssertionCredential

        tenant_id, client_id, assertion = actions
        notices.say(f"keyless: signing in to Entra ID as {client_id} with GitHub's OIDC token, "
                    "asked again whenever a token is renewed")
        return ClientAssertionCredential(tenant_id, client_id, assertion)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


class CachedTokens:
    """An azure-identity credential behind a cache: each scope's token is kept until RENEW_BEFORE_S before it
    expires, then asked for again. Thread-safe (uploads run in threads)."""

    def __init__(self, credential: Any, renew_before_s: float = RENEW_BEFORE_S,
                 clock: Callable[[], float] | None = None):
        self.credential = credential
        self.renew_before_s = renew_before_s
        self.clock = clock or (lambda: time.time())  # looked up at each call: expiries are wall-clock seconds
        self.requests = 0  # tokens asked of the credential (one a lifetime, not one a call)
        self._tokens: dict[str, Any] = {}
        self._lock = threading.Lock()

    def token(self, scope: str) -> str:
        with self._lock:
            cached = self._tokens.get(scope)
            now = self.clock()
            if cached is None or now >= cached.expires_on - self.renew_before_s:
                try:
                    self.requests += 1
                    fresh = self.credential.get_token(scope)
                except Exception:
                    if cached is not None and now < cached.expires_on:
                        return cached.token  # renewal failed early: the old token still works; try again later
                    raise
                register_secret(fresh.token)
                self._tokens[scope] = cached = fresh
            return cached.token


@lru_cache(maxsize=1)
def shared_tokens() -> CachedTokens:
    """One cache a process: the training and prediction clients share the Cognitive Services token."""
    return CachedTokens(azure_credential())
