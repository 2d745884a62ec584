"""How long the state machine waits before it looks again: from a first interval, doubling
up to a cap. Both come from the workflow's props, through the functions' environment.

Back-off keeps a long wait cheap (each look costs state transitions, a Lambda invocation
and history events: a Standard execution holds at most 25,000 events) while a short
wait is still noticed quickly.
"""

from __future__ import annotations

import os
from typing import Literal

What = Literal["JOB", "SERVING"]
_DEFAULTS: dict[str, tuple[int, int]] = {"JOB": (300, 900), "SERVING": (60, 600)}


def _setting(what: What, suffix: str, default: int) -> int:
    return int(os.environ.get(f"{what}_POLL_{suffix}", str(default)))


def first_poll(what: What) -> int:
    """Seconds before the first look."""
    return _setting(what, "SECONDS", _DEFAULTS[what][0])


def next_poll(what: What, previous: object) -> int:
    """Seconds before the next look: twice the last wait, at most the cap."""
    cap = _setting(what, "MAX_SECONDS", _DEFAULTS[what][1])
    last = previous if isinstance(previous, int) and previous > 0 else first_poll(what)
    return min(last * 2, cap)
