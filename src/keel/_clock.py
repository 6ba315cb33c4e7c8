"""The one clock keel stamps its records with."""

from __future__ import annotations

import time

__all__ = ["now_ms"]


def now_ms() -> int:
    """Wall-clock time in whole milliseconds since the Unix epoch (UTC)."""
    return time.time_ns() // 1_000_000
