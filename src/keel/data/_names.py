"""Dataset names and references: ``iris``, ``iris/3``, ``iris/sha256:3fa9c1``, ``iris@latest``.

The grammar is the registry's (see ``docs/concepts/references.md``): ``/`` selects one
immutable version (by number or by content hash), ``@`` follows a pointer (for a
dataset only ``@latest``). The first forms keel had, ``iris@3`` and
``iris@sha256:3fa9c1``, still work and warn with :class:`~keel.errors.KeelDeprecationWarning`.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass

from keel.errors import InvalidArgumentError, KeelDeprecationWarning, show_input

__all__ = [
    "NAME_PATTERN",
    "DatasetReference",
    "check_name",
    "parse_ref",
    "parse_reference",
    "suggest_name",
]

#: A dataset name: lowercase letters, digits, ``.``, ``_`` and ``-``; starts with a
#: letter or digit; at most 128 characters. Names appear in file names, URLs and
#: shell commands, so nothing that needs quoting is allowed.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")

_FORMS = "NAME (the latest), NAME/VERSION (iris/3) or NAME/sha256:PREFIX (iris/sha256:3fa9c1)"


def suggest_name(text: str) -> str | None:
    """A valid dataset name close to ``text``, keeping its letters; ``None`` if there is none.

    Accented letters are transliterated (``ïris-ü`` -> ``iris-u``); anything else that
    is not allowed becomes ``-``.

    Example::

        >>> suggest_name("Ïris Data (v2)")
        'iris-data-v2'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    fixed = re.sub(r"[^a-z0-9._-]+", "-", ascii_text.strip().lower()).strip("-._")[:128]
    fixed = fixed.rstrip("-._")
    return fixed if fixed and NAME_PATTERN.match(fixed) else None


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
    if isinstance(name, str) and len(name) > 128:
        raise InvalidArgumentError(
            f"dataset name {show_input(name)} is invalid: too long; use at most 128 characters"
        )
    suggestion = ""
    if isinstance(name, str) and name.strip():
        fixed = suggest_name(name)
        if fixed is not None:
            suggestion = f", e.g. {show_input(fixed, 140)}"
    raise InvalidArgumentError(
        f"dataset name {show_input(name)} is invalid: use 1-128 characters of lowercase letters, "
        f"digits, '.', '_' and '-', starting with a letter or digit{suggestion}"
    )


@dataclass(frozen=True, slots=True)
class DatasetReference:
    """A parsed reference: a name plus at most one of a version number or a hash prefix.

    ``str()`` gives the canonical form: ``iris``, ``iris/3`` or ``iris/sha256:3fa9c1``.
    """

    name: str
    version: int | None = None
    hash_prefix: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.hash_prefix is not None:
            return f"{self.name}/sha256:{self.hash_prefix}"
        return self.name


_HEX = re.compile(r"^[0-9a-f]{1,64}$")


def _selector(name: str, selector: str) -> DatasetReference | None:
    """The reference that ``name/selector`` names, or ``None`` if the selector is malformed."""
    if selector.isascii() and selector.isdigit() and int(selector) >= 1:
        return DatasetReference(name, version=int(selector))
    if selector.startswith("sha256:") and _HEX.match(selector[7:].lower()):
        return DatasetReference(name, hash_prefix=selector[7:].lower())
    return None


def parse_reference(reference: str, *, stacklevel: int = 2) -> DatasetReference:
    """Parse ``name``, ``name@latest``, ``name/3`` or ``name/sha256:<hash or prefix>``.

    The deprecated ``name@3`` and ``name@sha256:...`` parse too, with a
    :class:`~keel.errors.KeelDeprecationWarning` naming the form to write instead.

    Args:
        reference: the text to parse.
        stacklevel: passed to :func:`warnings.warn` for the deprecation warning, counted
            from the caller of this function.

    Raises:
        InvalidArgumentError: the reference is malformed.

    Example::

        >>> parse_reference("iris/2")
        DatasetReference(name='iris', version=2, hash_prefix=None)
    """
    if not isinstance(reference, str):
        raise InvalidArgumentError(
            f"dataset reference {show_input(reference)} is a {type(reference).__name__}; "
            f"use a string: {_FORMS}"
        )
    if "/" in reference:
        name, _, selector = reference.partition("/")
        check_name(name)
        parsed = _selector(name, selector)
        if parsed is not None:
            return parsed
        hint = f"; write {name}@latest for the latest" if selector == "latest" else ""
        raise InvalidArgumentError(
            f"dataset reference {show_input(reference)} is malformed: after '/' use a version "
            f"number (iris/3) or a content hash (iris/sha256:3fa9c1){hint}"
        )
    name, sep, selector = reference.partition("@")
    check_name(name)
    if not sep or selector == "latest":
        return DatasetReference(name)
    parsed = _selector(name, selector)
    if parsed is None:
        raise InvalidArgumentError(
            f"dataset reference {show_input(reference)} is malformed: datasets have one pointer, "
            f"@latest; use {_FORMS}"
        )
    warnings.warn(
        f"dataset reference {show_input(reference)} uses the old form: '@' now names a pointer "
        f"({name}@latest) and '/' a version; write {str(parsed)!r}",
        KeelDeprecationWarning,
        stacklevel=stacklevel + 1,
    )
    return parsed


def parse_ref(ref: str) -> DatasetReference:
    """Deprecated name of :func:`parse_reference`.

    Example::

        >>> parse_reference("iris/2")  # instead of parse_ref("iris/2")
    """
    warnings.warn(
        "keel.data.parse_ref is deprecated; use keel.data.parse_reference",
        KeelDeprecationWarning,
        stacklevel=2,
    )
    return parse_reference(ref, stacklevel=2)
