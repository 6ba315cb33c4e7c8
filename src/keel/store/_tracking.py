"""Rules of the tracking domain that every backend and the client share."""

from __future__ import annotations

import re

from keel.errors import InvalidArgumentError

__all__ = ["MAX_KEY_LENGTH", "check_key", "natural_key"]

#: the longest metric, param or tag name a store accepts.
MAX_KEY_LENGTH = 250


def check_key(kind: str, key: str) -> None:
    """Refuse a metric, param or tag name that no store can hold.

    Args:
        kind: ``"metric"``, ``"param"`` or ``"tag"`` (for the message).
        key: the name.

    Raises:
        InvalidArgumentError: the name is empty, too long, or contains a NUL byte.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        shown = key if not isinstance(key, str) or len(key) <= 60 else key[:57] + "..."
        raise InvalidArgumentError(
            f"{kind} name {shown!r} is invalid: use a non-empty string of at most "
            f"{MAX_KEY_LENGTH} characters"
        )
    if "\x00" in key:
        raise InvalidArgumentError(f"{kind} name {key!r} contains a NUL byte; remove it")


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """Sort key that compares the numbers inside names as numbers.

    Example::

        >>> sorted(["k1200", "k400", "k0"], key=natural_key)
        ['k0', 'k400', 'k1200']
    """
    # re.split with a group alternates text and digit runs: text at even positions.
    # (0, number) sorts before (1, text); the name itself breaks ties ("acc2", "Acc2").
    parts = _DIGITS.split(name)
    key = tuple(
        (1, part.casefold()) if i % 2 == 0 else (0, int(part))
        for i, part in enumerate(parts)
        if part
    )
    return key, name
