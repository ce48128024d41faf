"""What the SDK layer tells the person running a command while it works: a retry and why, the pace of calls.

The CLI points this at its progress display (stderr, skipped with --quiet); code that sets no listener (a
library caller, a test) gets the lines on the `cvops.sdk` logger instead."""
from __future__ import annotations

import logging
from typing import Callable

log = logging.getLogger("cvops.sdk")
_listener: Callable[[str], None] | None = None


def listen(listener: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Send notices to `listener` (None: to the log); returns the listener it replaces."""
    global _listener
    previous, _listener = _listener, listener
    return previous


def say(message: str) -> None:
    if _listener is not None:
        _listener(message)
    else:
        log.info("%s", message)
