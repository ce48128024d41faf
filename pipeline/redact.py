"""Keys and tokens never leave the process: every secret is registered here and masked wherever text is
printed, logged or written to a report (redaction at the logger and the console, not at call sites)."""
from __future__ import annotations

import logging
import os
import re

_SECRETS: set[str] = set()
# Environment variables that hold credentials by their names (CUSTOM_VISION_TRAINING_KEY, AZURE_CLIENT_SECRET,
# ARM_ACCESS_TOKEN, ...): their values are masked too, so a key that ends up where it should not (say, a config
# field that expects a number, whose error message quotes the value) is still never printed.
_SECRET_VARIABLE = re.compile(r"(?i)(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSPHRASE|CREDENTIALS?)$")
_MIN_VARIABLE_SECRET = 8
_environment_read = False
_MASK = "***"
# Headers and query parameters that carry credentials, in case a library logs a whole request.
_CREDENTIAL_FIELDS = re.compile(
    r"(?i)((?:training|prediction)-key|ocp-apim-subscription-key|authorization|api-key)(['\"]?\s*[:=]\s*['\"]?)"
    r"(bearer\s+)?[^\s'\",}]+")


def register_secret(value: str | None) -> None:
    """Remember a key or token so that `redact` masks it (short values would mask too much: ignored)."""
    if value and len(value) >= 6:
        _SECRETS.add(value)


def register_environment_secrets(environ: dict[str, str] | None = None) -> None:
    """Register the values of credential-named environment variables (those of 8 characters or more)."""
    for name, value in (os.environ if environ is None else environ).items():
        if _SECRET_VARIABLE.search(name) and len(value) >= _MIN_VARIABLE_SECRET:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """`text` with every registered secret and every credential header value replaced by ***."""
    global _environment_read
    if not _environment_read:
        _environment_read = True
        register_environment_secrets()
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, _MASK)
    return _CREDENTIAL_FIELDS.sub(lambda m: m.group(1) + m.group(2) + (m.group(3) or "") + _MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

