"""Import tokens: what export_project hands out and import_project takes.

    cvp1.<payload>.<signature>       payload: base64url of {"iss": exporter URL, "id": export id, "exp": epoch s}
                                     signature: base64url of HMAC-SHA256(signing secret, context + payload)

The token names the export (its row holds the project as exported, and names the images' blobs) and where it
was made; it carries no data. It is signed with the service's signing secret, the one that signs download
links (replicas of a cluster share it), under a context of its own, so no link signature is ever a token's.
A token is a bearer capability, as Azure's is ("grants access to import this project to all that have the
token"), until `exp`. Only the service that signed it (or a replica of its cluster) can tell a real one from a
forgery: another service reads `iss` and asks that service, if its operator allows it (peers.py).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

PREFIX = "cvp1"
CONTEXT = b"cvlocal import token\n"
MAX_TOKEN = 2048


class TokenInvalid(ValueError):
    """Not a token this service can use; the message says why (never the secret, never a signature)."""


@dataclass(frozen=True)
class ImportToken:
    issuer: str          # the exporting service's base URL, as its client reached it
    export_id: str
    expires: int         # seconds since the epoch
    signed_here: bool    # signed with this service's secret: this service (or its cluster) made it

    def expired(self, now: float | None = None) -> bool:
        return self.expires <= (time.time() if now is None else now)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: bytes):
        self._secret = secret

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, CONTEXT + payload.encode(), hashlib.sha256).digest())

    def issue(self, issuer: str, export_id: str, expires: float) -> str:
        payload = _b64(json.dumps({"iss": issuer, "id": export_id, "exp": int(expires)},
                                  separators=(",", ":")).encode())
        return f"{PREFIX}.{payload}.{self._signature(payload)}"

    def read(self, token: str) -> ImportToken:
        """What the token says, and whether this service signed it (TokenInvalid: not a cvlocal token at all,
        e.g. truncated, or Azure's)."""
        parts = (token or "").strip().split(".")
        if len(token or "") > MAX_TOKEN or len(parts) != 3 or parts[0] != PREFIX:
            raise TokenInvalid("it is not a token export_project of a cvlocal service made (truncated, or from "
                               "another kind of service)")
        _, payload, signature = parts
        try:
            claims = json.loads(_unb64(payload))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise TokenInvalid("it is damaged (truncated or altered)") from None
        if not (isinstance(claims, dict) and isinstance(claims.get("iss"), str) and isinstance(claims.get("id"), str)
                and isinstance(claims.get("exp"), int)):
            raise TokenInvalid("it is damaged (truncated or altered)")
        signed_here = hmac.compare_digest(self._signature(payload), signature)
        return ImportToken(claims["iss"].rstrip("/"), claims["id"], claims["exp"], signed_here)

    def verify(self, token: str) -> ImportToken:
        """A token this service signed and that has not expired (TokenInvalid otherwise)."""
        read = self.read(token)
        if not read.signed_here:
            raise TokenInvalid("this service did not sign it (altered, or made by another service)")
        if read.expired():
            raise TokenInvalid("it has expired; export the project again")
        return read
