"""PostgreSQL with Entra ID tokens for passwords (CVLOCAL_DATABASE_AUTH=entra), on a real PostgreSQL: the store
signs in as a role whose password is the newest token the managed identity endpoint issued (harness/identity.py,
the endpoint Azure Container Apps gives a container, called by azure-identity's real ManagedIdentityCredential).
Stricter than Entra (which takes any unexpired token): an old token is refused. Simulated time: `time.time`."""
from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from cvlocal.store import StoreUnavailable, open_store
from cvlocal.store.postgres.entra import _tokens
from harness.identity import SimulatedClock, managed_identity

ROLE = "cvlocal-identity"  # a managed identity's role is its name


@pytest.fixture
def entra_database(postgres):
    """A database owned by ROLE, which may sign in over TCP only with a password (scram), not as `trust`."""
    name = f"entra_{uuid.uuid4().hex[:10]}"
    url = postgres.create_database(name)
    with psycopg.connect(postgres.url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{ROLE}" LOGIN') if not admin.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone() else None
        admin.execute(f'ALTER DATABASE "{name}" OWNER TO "{ROLE}"')
    hba = postgres.data / "pg_hba.conf"
    rule = f'host all "{ROLE}" 127.0.0.1/32 scram-sha-256\n'
    if rule not in hba.read_text():  # first match wins: before the harness's `trust` lines
        hba.write_text(rule + hba.read_text())
        with psycopg.connect(postgres.url, autocommit=True) as admin:
            admin.execute("SELECT pg_reload_conf()")
    yield postgres, url.replace(f"//{'cvlocal'}@", f"//{ROLE}@")


@pytest.fixture
def clock(monkeypatch):
    simulated = SimulatedClock()
    monkeypatch.setattr(time, "time", simulated)
    return simulated


@pytest.fixture
def identity(entra_database, clock, monkeypatch):
    postgres, _ = entra_database

    def accept_only(token: str) -> None:  # the server takes this token, and no older one
        with psycopg.connect(postgres.url, autocommit=True) as admin:
            admin.execute(f"ALTER ROLE \"{ROLE}\" PASSWORD '{token}'")

    with managed_identity(clock, on_issue=accept_only) as endpoint:
        for name, value in {"CVLOCAL_DATABASE_AUTH": "entra", "IDENTITY_ENDPOINT": endpoint.endpoint,
                            "IDENTITY_HEADER": endpoint.header, "AZURE_CLIENT_ID": endpoint.client_id}.items():
            monkeypatch.setenv(name, value)
        _tokens.cache_clear()  # a credential of this test's identity, not one an earlier test made
        for name in ("PGPASSWORD", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE",
                     "MSI_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT"):
            monkeypatch.delenv(name, raising=False)
        yield endpoint
        _tokens.cache_clear()


def test_the_store_signs_in_with_tokens_and_renews_them_before_they_expire(entra_database, identity, clock,
                                                                           tmp_path):
    from cvlocal.store.postgres.db import PostgresDatabase

    _, url = entra_database
    store = open_store(tmp_path, url, str(tmp_path / "blobs"))  # no password anywhere: the URL has none
    opened = [store.db]
    try:
        assert identity.issued == ["mi-token-0"]
        assert identity.resources == ["https://ossrdbms-aad.database.windows.net"]
        assert store.db.query_one("SELECT current_user")[0] == ROLE
        # More connections within the token's life (another pool of this process) reuse the token.
        opened.append(PostgresDatabase(url))
        opened[-1].ping()
        assert identity.issued == ["mi-token-0"], "one token a lifetime, not one a connection"

        clock.advance(16 * 60)  # 4 minutes before the 20-minute token expires
        opened.append(PostgresDatabase(url))  # new connections: the server now takes only the new token
        opened[-1].ping()
        assert identity.issued == ["mi-token-0", "mi-token-1"], "renewed before it expired"
        store.db.ping()  # connections opened with the old token live on: the server checks it once, at sign-in
    finally:
        for db in opened:
            db.close()


def test_without_entra_the_role_cannot_sign_in(entra_database, identity, monkeypatch, tmp_path):
    """The control: the role really needs the token (the harness's `trust` does not apply to it)."""
    _, url = entra_database
    monkeypatch.setenv("CVLOCAL_DATABASE_AUTH", "password")
    with pytest.raises(StoreUnavailable, match="password authentication failed|no password supplied"):
        open_store(tmp_path, url, str(tmp_path / "blobs"))
    assert identity.issued == []


def test_an_unknown_auth_mode_is_refused_with_the_choices(monkeypatch, tmp_path):
    monkeypatch.setenv("CVLOCAL_DATABASE_AUTH", "kerberos")
    with pytest.raises(ValueError, match="CVLOCAL_DATABASE_AUTH='kerberos' is not valid; choose one of: password, entra"):
        open_store(tmp_path, "postgresql://someone@127.0.0.1:1/db", str(tmp_path / "blobs"))
