"""Quoting for the DuckDB SQL that keel writes: the one implementation.

Values (paths, strings) should be passed as bound parameters (``?``) or through
DuckDB's relational API wherever DuckDB accepts them there; these helpers exist for
the places it does not (identifiers, and a few statements such as ``COPY ... TO``
whose targets cannot be parameters).
"""

from __future__ import annotations

from keel.errors import InvalidArgumentError

__all__ = ["quote_ident", "quote_literal"]


def _check(kind: str, text: str) -> str:
    if not isinstance(text, str):
        raise InvalidArgumentError(f"{kind} {text!r} is a {type(text).__name__}; expected text")
    if "\x00" in text:
        raise InvalidArgumentError(
            f"{kind} {text[:80]!r} contains a NUL character (\\x00), which SQL cannot carry; "
            "rename it without control characters"
        )
    return text


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (embedded quotes doubled).

    Raises:
        InvalidArgumentError: the name is not text or contains a NUL character.

    Example::

        >>> quote_ident("petal width")
        '"petal width"'
    """
    return '"' + _check("column name", name).replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """``value`` as a single-quoted SQL string literal (embedded quotes doubled).

    DuckDB's standard strings treat backslashes literally, so only quotes need escaping.

    Raises:
        InvalidArgumentError: the value is not text or contains a NUL character.

    Example::

        >>> quote_literal("it's")
        "'it''s'"
    """
    return "'" + _check("value", value).replace("'", "''") + "'"
