"""What the real shared engines (PostgreSQL, Azurite) have in common for tests: a missing engine is a skip with
the reason on a developer's machine, and a failure under CI (`CI=true`), where `.ci/run` installs them."""
from __future__ import annotations

import os


class EngineMissing(RuntimeError):
    """The engine cannot run here; the message says what to install."""


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(exc: EngineMissing):
    """In a pytest fixture: skip with the reason, or fail under CI."""
    import pytest

    if under_ci():
        pytest.fail(f"CI=true and {exc}", pytrace=False)
    pytest.skip(str(exc))
