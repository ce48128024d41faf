"""The key check: a training key for training operations, either key for prediction."""
from __future__ import annotations

import hashlib
import hmac

from ..errors import CustomVisionError, unauthorized

KEY_HEADERS = {
    "training": (b"training-key", b"ocp-apim-subscription-key"),
    "prediction": (b"prediction-key", b"ocp-apim-subscription-key"),
}


def keys_match(given: str, expected: str) -> bool:
    """Constant time whatever the lengths: compare_digest on the raw keys would tell a wrong length apart."""
    return hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest(),
                               hashlib.sha256(expected.encode("utf-8", "surrogatepass")).digest())


class Keys:
    def __init__(self, training_key: str, prediction_key: str):
        self._training, self._prediction = training_key, prediction_key

    def check(self, kind: str, scope) -> CustomVisionError | None:
        """None when the request may call a `kind` ("training" or "prediction") operation, else the error."""
        headers = dict(scope["headers"])  # ASGI header names are lower-case bytes
        given = next((headers[h].decode("latin-1") for h in KEY_HEADERS[kind] if h in headers), None)
        if not given:
            return unauthorized(f"Access denied: send the {kind} key in the "
                                f"'{'Training-Key' if kind == 'training' else 'Prediction-Key'}' header.")
        if kind == "training":
            if keys_match(given, self._training):
                return None
            if keys_match(given, self._prediction):
                return unauthorized("Access denied: a prediction key cannot call training operations.")
        elif keys_match(given, self._prediction) or keys_match(given, self._training):
            return None
        return unauthorized("Access denied due to invalid key. Make sure to provide a valid key for an active "
                            "subscription.")
