"""Dataset names and references (``name``, ``name@3``, ``name@sha256:3fa9``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from keel.errors import InvalidArgumentError

__all__ = ["NAME_PATTERN", "DatasetRef", "check_name", "parse_ref"]

#: A dataset name: lowercase letters, digits, ``.``, ``_`` and ``-``; starts with a
#: letter or digit; at most 128 characters. Names appear in file names, URLs and
#: shell commands, so nothing that needs quoting is allowed.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")


def check_name(name: object) -> str:
    """Return ``name`` if it is a valid dataset name.

    Raises:
        InvalidArgumentError: naming the rule and a suggested valid name.

    Example::

        >>> check_name("iris-raw")
        'iris-raw'
    """
    if isinstance(name, str) and NAME_PATTERN.match(name):
        return name
    suggestion = ""
    if isinstance(name, str) and name.strip():
        fixed = re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower()).strip("-._")[:128]
        if fixed and NAME_PATTERN.match(fixed):
            suggestion = f", e.g. {fixed!r}"
    raise InvalidArgumentError(
        f"dataset name {name!r} is invalid: use 1-128 characters of lowercase letters, digits, "
        f"'.', '_' and '-', starting with a letter or digit{suggestion}"
    )


@dataclass(frozen=True, slots=True)
class DatasetRef:
    """A parsed reference: a name plus at most one of a version number or a hash prefix."""

    name: str
    version: int | None = None
    hash_prefix: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        if self.hash_prefix is not None:
            return f"{self.name}@sha256:{self.hash_prefix}"
        return self.name


_HEX = re.compile(r"^[0-9a-f]{1,64}$")


def parse_ref(ref: str) -> DatasetRef:
    """Parse ``name``, ``name@latest``, ``name@3`` or ``name@sha256:<hash or prefix>``.

    Raises:
        InvalidArgumentError: the reference is malformed.

    Example::

        >>> parse_ref("iris@2")
        DatasetRef(name='iris', version=2, hash_prefix=None)
    """
    if not isinstance(ref, str):
        raise InvalidArgumentError(
            f"dataset reference {ref!r} is a {type(ref).__name__}; use a string such as "
            "'iris', 'iris@3' or 'iris@sha256:3fa9c1'"
        )
    name, sep, selector = ref.partition("@")
    check_name(name)
    if not sep or selector == "latest":
        return DatasetRef(name)
    if selector.isdigit() and int(selector) >= 1:
        return DatasetRef(name, version=int(selector))
    if selector.startswith("sha256:") and _HEX.match(selector[7:].lower()):
        return DatasetRef(name, hash_prefix=selector[7:].lower())
    raise InvalidArgumentError(
        f"dataset reference {ref!r} is malformed: after '@' use a version number (iris@3), "
        "'latest', or a content hash (iris@sha256:3fa9c1)"
    )
