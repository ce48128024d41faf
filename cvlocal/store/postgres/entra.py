"""PostgreSQL passwords that are Microsoft Entra ID access tokens (Azure Database for PostgreSQL with Entra
authentication), so that no database password exists anywhere.

CVLOCAL_DATABASE_AUTH=entra: every new connection's password is an access token for the Azure Database for
PostgreSQL resource, from azure-identity's DefaultAzureCredential (in Azure Container Apps: the user-assigned
managed identity whose client id is AZURE_CLIENT_ID). The server checks the token when a connection opens, so
a pooled connection outlives its token; each new one gets a token that is still valid: azure-identity keeps
the token and asks for a new one before the old one expires (MSAL's managed identity cache treats a token with
less than five minutes left as expired). The URL's user is the identity's role name, with no password.
"""
from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Callable

AUTH_VARIABLE = "CVLOCAL_DATABASE_AUTH"
MODES = ("password", "entra")
# The resource every Azure Database for PostgreSQL flexible server accepts Entra tokens for.
SCOPE = "https://ossrdbms-aad.database.windows.net/.default"


def auth_mode() -> str:
    """password (libpq's own: the URL, PGPASSWORD, .pgpass) or entra; ValueError naming the choices."""
    mode = (os.environ.get(AUTH_VARIABLE) or "password").strip().lower()
    if mode not in MODES:
        raise ValueError(f"{AUTH_VARIABLE}={mode!r} is not valid; choose one of: {', '.join(MODES)}")
    return mode


def token_password() -> Callable[[], str] | None:
    """With CVLOCAL_DATABASE_AUTH=entra, a function giving a fresh-enough token each time it is called."""
    return _tokens() if auth_mode() == "entra" else None


@lru_cache(maxsize=1)
def _tokens() -> Callable[[], str]:
    """One credential a process: every pool of this process shares its cached token."""
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    asking = threading.Lock()  # connections opening together ask once, then share the cached token

    def password() -> str:
        with asking:
            return credential.get_token(SCOPE).token
    return password
