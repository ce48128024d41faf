"""Loopback stand-ins for the two token services a keyless run in GitHub Actions meets, neither of which can be
reached from here: GitHub's OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL) and Microsoft Entra ID's token
endpoint (the client-credentials grant with a federated assertion). Both are strict where the real ones are:
GitHub wants its request token and an audience; Entra ID refuses an expired assertion with AADSTS700024 (the
error of Azure/login#180), and each access token it issues expires. Lifetimes are short and every clock is
the one passed in, so a test can run two hours of simulated time in seconds.

Also a `resource`: an HTTP server standing in for an Entra-protected API, answering 200 to a bearer token the
fake Entra issued and has not expired, 401 otherwise; and `managed_identity`: the identity endpoint Azure
Container Apps gives a container (IDENTITY_ENDPOINT, with IDENTITY_HEADER as its secret header), as
azure-identity's ManagedIdentityCredential calls it.
"""
from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import parse_qs, urlparse

EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class SimulatedClock:
    """Real time plus an offset that a test moves forward (`advance`)."""

    def __init__(self) -> None:
        self._real = time.time
        self.offset = 0.0
        self.start = self._real()

    def __call__(self) -> float:
        return self._real() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    @property
    def elapsed(self) -> float:
        return self() - self.start


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class TokenServices:
    """What the fakes issued and refused; `url`s once started."""

    clock: Callable[[], float]
    request_token: str = "github-request-token-for-the-job"
    tenant_id: str = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    client_id: str = "0d7e1b4a-6a0f-4a3e-9c55-5b8f8a0c1d2e"
    oidc_lifetime_s: float = 300.0      # GitHub's ID tokens live minutes
    access_lifetime_s: float = 1200.0   # shorter than Entra's 60-90 minutes, so a run renews several times
    oidc_url: str = ""
    authority: str = ""
    resource_url: str = ""
    ca_file: str = ""
    oidc_issued: list[str] = field(default_factory=list)
    assertions_used: list[str] = field(default_factory=list)
    access_issued: dict[str, float] = field(default_factory=dict)  # token -> expires at
    refused: list[str] = field(default_factory=list)               # why Entra refused, each time
    resource_answered: int = 0
    resource_refused: int = 0

    def issue_oidc_token(self) -> str:
        now = self.clock()
        token = ".".join((_b64({"alg": "RS256", "typ": "JWT"}), _b64({
            "iss": "https://token.actions.githubusercontent.com", "aud": EXCHANGE_AUDIENCE,
            "sub": "repo:contoso/cvops:environment:dev", "iat": int(now), "nbf": int(now),
            "exp": int(now + self.oidc_lifetime_s), "jti": str(len(self.oidc_issued))}), "signature"))
        self.oidc_issued.append(token)
        return token

    def exchange(self, form: dict[str, str]) -> tuple[int, dict]:
        """Entra ID's client-credentials grant with a client assertion, as it checks it."""
        def refuse(error: str, description: str) -> tuple[int, dict]:
            self.refused.append(description)
            return 400, {"error": error, "error_description": description}

        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != ASSERTION_TYPE:
            return refuse("invalid_request", "AADSTS900144: expected a client_credentials grant with an assertion")
        if form.get("client_id") != self.client_id:
            return refuse("unauthorized_client", "AADSTS700016: application not found in the directory")
        assertion = form.get("client_assertion", "")
        if assertion not in self.oidc_issued:
            return refuse("invalid_client", "AADSTS700211: no matching federated identity record for the assertion")
        claims, now = _claims(assertion), self.clock()
        if claims["aud"] != EXCHANGE_AUDIENCE:
            return refuse("invalid_client", "AADSTS700212: no matching federated identity record for audience")
        if not claims["nbf"] <= now < claims["exp"]:
            return refuse("invalid_client", "AADSTS700024: Client assertion is not within its valid time range.")
        self.assertions_used.append(assertion)
        token = f"access-token-{len(self.access_issued)}"
        self.access_issued[token] = now + self.access_lifetime_s
        return 200, {"token_type": "Bearer", "expires_in": int(self.access_lifetime_s), "access_token": token}

    def accepts(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        expires = self.access_issued.get(token)
        return scheme == "Bearer" and expires is not None and self.clock() < expires


def _self_signed(folder: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (azure-identity talks to an authority over https only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "entra.pem", folder / "entra.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def _json(handler: http.server.BaseHTTPRequestHandler, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class _Quiet(http.server.BaseHTTPRequestHandler):
    services: TokenServices

    def log_message(self, *args):
        pass


class _GitHubOidc(_Quiet):
    def do_GET(self):  # noqa: N802
        query = parse_qs(urlparse(self.path).query)
        if self.headers.get("Authorization", "").lower() != f"bearer {self.services.request_token}".lower():
            return _json(self, 401, {"message": "Bad credentials"})
        if query.get("audience") != [EXCHANGE_AUDIENCE] or query.get("api-version") != ["2.0"]:
            return _json(self, 400, {"message": "audience and api-version required"})
        _json(self, 200, {"count": 1, "value": self.services.issue_oidc_token()})


class _Entra(_Quiet):
    def do_POST(self):  # noqa: N802
        if urlparse(self.path).path != f"/{self.services.tenant_id}/oauth2/v2.0/token":
            return _json(self, 404, {"error": "not_found"})
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        _json(self, *self.services.exchange(form))


class _Resource(_Quiet):
    def do_GET(self):  # noqa: N802
        if not self.services.accepts(self.headers.get("Authorization")):
            self.services.resource_refused += 1
            return _json(self, 401, {"error": {"code": "401", "message": "Access denied due to invalid token."}})
        self.services.resource_answered += 1
        _json(self, 200, [])  # e.g. get_projects: none


@contextmanager
def token_services(folder: Path, clock: Callable[[], float], **settings) -> Iterator[TokenServices]:
    """GitHub's OIDC endpoint (http), Entra ID's token endpoint (https, self-signed: `ca_file`) and a protected
    resource, on loopback, for as long as the block runs."""
    services = TokenServices(clock=clock, **settings)
    servers = []
    for handler in (_GitHubOidc, _Entra, _Resource):
        servers.append(http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                       type(handler.__name__, (handler,), {"services": services})))
    cert_file, key_file = _self_signed(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    servers[1].socket = context.wrap_socket(servers[1].socket, server_side=True)
    port = [server.server_address[1] for server in servers]
    services.oidc_url = f"http://127.0.0.1:{port[0]}/_apis/distributedtask/token?api-version=2.0"
    services.authority = f"https://127.0.0.1:{port[1]}"
    services.resource_url = f"http://127.0.0.1:{port[2]}"
    services.ca_file = cert_file
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield services
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@dataclass
class ManagedIdentity:
    """What the identity endpoint issued: one token per request, `lifetime_s` long; `on_issue(token)` runs first
    (a test makes the token the database role's password there, as Entra-integrated PostgreSQL would accept it)."""

    clock: Callable[[], float]
    client_id: str = "5d9b6e8a-0c4f-4e0e-8f7e-2a1b3c4d5e6f"
    header: str = "identity-header-secret"
    lifetime_s: float = 1200.0
    on_issue: Callable[[str], None] = lambda token: None
    endpoint: str = ""
    issued: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    issuing: threading.Lock = field(default_factory=threading.Lock)


class _ManagedIdentityEndpoint(_Quiet):
    identity: ManagedIdentity

    def do_GET(self):  # noqa: N802
        identity, query = self.identity, parse_qs(urlparse(self.path).query)
        if self.headers.get("X-IDENTITY-HEADER") != identity.header:
            return _json(self, 401, {"error": "missing or wrong X-IDENTITY-HEADER"})
        if query.get("api-version") != ["2019-08-01"] or query.get("client_id") != [identity.client_id]:
            return _json(self, 400, {"error": "api-version 2019-08-01 and the user-assigned identity's client_id"})
        with identity.issuing:
            token = f"mi-token-{len(identity.issued)}"
            identity.on_issue(token)
            identity.issued.append(token)
            identity.resources.append(query["resource"][0])
        expires_on = int(identity.clock() + identity.lifetime_s)
        _json(self, 200, {"access_token": token, "expires_on": str(expires_on), "resource": query["resource"][0],
                          "token_type": "Bearer", "client_id": identity.client_id})


@contextmanager
def managed_identity(clock: Callable[[], float], **settings) -> Iterator[ManagedIdentity]:
    identity = ManagedIdentity(clock=clock, **settings)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Endpoint", (_ManagedIdentityEndpoint,), {"identity": identity}))
    identity.endpoint = f"http://127.0.0.1:{server.server_address[1]}/msi/token"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield identity
    finally:
        server.shutdown()
        server.server_close()
