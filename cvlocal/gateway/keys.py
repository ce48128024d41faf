"""The key check: a training key for training operations, any key for prediction; key 1 or key 2 of a kind.

The keys come from a source read on every check (store/keyfile.py: LiveKeys re-reads keys.json when it
changes), so a regenerated key takes over without a restart.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

from ..errors import CustomVisionError, unauthorized
from ..store.keyfile import ServiceKeys

KEY_HEADERS = {
    "training": (b"training-key", b"ocp-apim-subscription-key"),
    "prediction": (b"prediction-key", b"ocp-apim-subscription-key"),
}


class KeySource(Protocol):
    def current(self) -> ServiceKeys: ...


def keys_match(given: str, expected: str) -> bool:
    """Constant time whatever the lengths: compare_digest on the raw keys would tell a wrong length apart."""
    return hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest(),
                               hashlib.sha256(expected.encode("utf-8", "surrogatepass")).digest())


def any_match(given: str, keys: tuple[str, ...]) -> bool:
    return any([keys_match(given, key) for key in keys])  # a list: every key compared, whichever matches


class Keys:
    def __init__(self, source: KeySource):
        self._source = source

    def check(self, kind: str, scope) -> CustomVisionError | None:
        """None when the request may call a `kind` ("training" or "prediction") operation, else the error."""
        return self.identify(kind, scope)[1]

    def identify(self, kind: str, scope) -> tuple[str | None, CustomVisionError | None]:
        """(the resource whose key it is: "training" or "prediction", None) or (None, the error). Key 1 and key 2
        of a kind belong to one resource: Azure counts a resource's request rates over both."""
        headers = dict(scope["headers"])  # ASGI header names are lower-case bytes
        given = next((headers[h].decode("latin-1") for h in KEY_HEADERS[kind] if h in headers), None)
        if not given:
            return None, unauthorized(f"Access denied: send the {kind} key in the "
                                      f"'{'Training-Key' if kind == 'training' else 'Prediction-Key'}' header.")
        keys = self._source.current()
        if kind == "training":
            if any_match(given, keys.training):
                return "training", None
            if any_match(given, keys.prediction):
                return None, unauthorized("Access denied: a prediction key cannot call training operations.")
        elif any_match(given, keys.prediction):
            return "prediction", None
        elif any_match(given, keys.training):
            return "training", None
        return None, unauthorized("Access denied due to invalid key. Make sure to provide a valid key for an "
                                  "active subscription.")
