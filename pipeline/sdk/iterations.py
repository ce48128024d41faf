"""The SDK's Iteration objects in time order (the service lists them in no promised order)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

_EPOCH = datetime.min.replace(tzinfo=timezone.utc)


def created_at(iteration: Any) -> datetime:
    value = getattr(iteration, "created", None) or getattr(iteration, "trained_at", None)
    if value is None:
        return _EPOCH
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def by_age(iterations: list[Any]) -> list[Any]:
    """Oldest first."""
    return sorted(iterations, key=created_at)
