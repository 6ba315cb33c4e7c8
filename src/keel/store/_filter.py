"""The run-search filter language, parsed by a Lark grammar into a small AST.

Grammar, informally::

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := term ("and" term)*
    term       := comparison | "(" or_expr ")"
    comparison := field OP literal | field ["not"] "in" "(" literal, ... ")"
    field      := ("metrics" | "params" | "tags" | "attributes") "." name | attribute
    name       := identifier | `back-quoted name` | "double-quoted name"
    OP         := = | != | < | <= | > | >= | like | ilike

Example::

    >>> parse_filter("metrics.accuracy > 0.9 and params.model = 'rf'")
    And(items=(Comparison(...), Comparison(...)))

The AST never holds SQL: backends bind literals as parameters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from keel.errors import InvalidArgumentError

__all__ = [
    "ATTRIBUTES",
    "And",
    "Comparison",
    "Expr",
    "Or",
    "OrderKey",
    "parse_filter",
    "parse_order_by",
    "referenced_keys",
]

Kind = Literal["metrics", "params", "tags", "attributes"]
Value = str | float | int | None

#: run attributes a filter or ordering may name (with or without ``attributes.``).
ATTRIBUTES = (
    "run_id",
    "run_name",
    "status",
    "start_time",
    "end_time",
    "user",
    "parent_run_id",
    "experiment_id",
)


@dataclass(frozen=True, slots=True)
class Comparison:
    """``kind.key op value``; for ``in``/``not in`` the value is a tuple."""

    kind: Kind
    key: str
    op: str
    value: Value | tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


Expr = Comparison | And | Or


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One ``order_by`` entry: ``metrics.acc DESC``."""

    kind: Kind
    key: str
    descending: bool


_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: term (_AND term)*
?term: comparison | "(" or_expr ")"
comparison: field OP literal          -> compare
          | field NOT? _IN "(" literal ("," literal)* ")" -> member
field: KIND "." name                  -> qualified
     | NAME                           -> bare
name: NAME | BACKQUOTED | DQUOTED
literal: SIGNED_NUMBER                -> number
       | SQUOTED                      -> string
       | DQUOTED                      -> string
       | _NULL                        -> null
KIND.2: /(metrics|params|tags|attributes)(?=\.)/i
OP: "!=" | "<=" | ">=" | "=" | "<" | ">" | /i?like\b/i
_AND.2: /and\b/i
_OR.2: /or\b/i
_IN.2: /in\b/i
NOT.2: /not\b/i
_NULL.2: /null\b/i
NAME: /[A-Za-z_][A-Za-z0-9_\-]*/
BACKQUOTED: /`[^`]+`/
DQUOTED: /"(?:[^"\\]|\\.)*"/
SQUOTED: /'(?:[^'\\]|\\.)*'/
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"""

_ORDER_GRAMMAR = r"""
start: field DIRECTION?
field: KIND "." name  -> qualified
     | NAME           -> bare
name: NAME | BACKQUOTED | DQUOTED
KIND.2: /(metrics|params|tags|attributes)(?=\.)/i
DIRECTION.2: /(asc|desc)\b/i
NAME: /[A-Za-z_][A-Za-z0-9_\-]*/
BACKQUOTED: /`[^`]+`/
DQUOTED: /"(?:[^"\\]|\\.)*"/
%import common.WS
%ignore WS
"""


@functools.cache
def _parser(grammar: str) -> object:
    # Built on first use (a memo, not state): importing keel must stay fast, and a
    # search with no filter or no order_by never builds that grammar (~0.1 s each).
    from lark import Lark

    return Lark(grammar, parser="lalr", maybe_placeholders=False)


def _unquote(token: str) -> str:
    if token[:1] in "`\"'" and token[-1:] == token[:1]:
        inner = token[1:-1]
        return inner.replace("\\" + token[0], token[0]).replace("\\\\", "\\")
    return token


def _field(tree: object, text: str) -> tuple[Kind, str]:
    from lark import Token, Tree

    assert isinstance(tree, Tree)
    if tree.data == "qualified":
        kind_tok, name_tree = tree.children
        assert isinstance(kind_tok, Token) and isinstance(name_tree, Tree)
        kind = str(kind_tok).lower()
        key = _unquote(str(name_tree.children[0]))
    else:
        tok = tree.children[0]
        assert isinstance(tok, Token)
        kind, key = "attributes", str(tok)
    if kind == "attributes":
        key = key.lower()
        if key == "id":
            key = "run_id"
        if key not in ATTRIBUTES:
            raise InvalidArgumentError(
                f"unknown run attribute {key!r} in {text!r}; use one of "
                f"{', '.join(ATTRIBUTES)}, or metrics.NAME, params.NAME, tags.NAME"
            )
    return kind, key  # type: ignore[return-value]


def _literal(tree: object) -> Value:
    from lark import Tree

    assert isinstance(tree, Tree)
    if tree.data == "null":
        return None
    raw = str(tree.children[0])
    if tree.data == "number":
        number = float(raw)
        return (
            int(number)
            if number.is_integer() and "." not in raw and "e" not in raw.lower()
            else number
        )
    return _unquote(raw)


def _build(tree: object, text: str) -> Expr:
    from lark import Token, Tree

    assert isinstance(tree, Tree)
    if tree.data == "or_expr":
        return Or(tuple(_build(c, text) for c in tree.children))
    if tree.data == "and_expr":
        return And(tuple(_build(c, text) for c in tree.children))
    if tree.data == "compare":
        field, op_tok, lit = tree.children
        kind, key = _field(field, text)
        op = str(op_tok).lower()
        value = _literal(lit)
        if value is None and op not in ("=", "!="):
            raise InvalidArgumentError(f"null can only be compared with = or != in {text!r}")
        return Comparison(kind, key, op, value)
    if tree.data == "member":
        field, *rest = tree.children
        negate = bool(rest) and isinstance(rest[0], Token) and rest[0].type == "NOT"
        literals = [c for c in rest if isinstance(c, Tree)]
        kind, key = _field(field, text)
        return Comparison(
            kind, key, "not in" if negate else "in", tuple(_literal(lit) for lit in literals)
        )
    raise InvalidArgumentError(f"cannot understand {text!r}")  # pragma: no cover


_SYNTAX_HINTS = {
    "filter": "write comparisons like metrics.accuracy > 0.9 and params.model = 'rf'",
    "order_by entry": "write an ordering like metrics.accuracy DESC or start_time ASC",
}


def _syntax_error(text: str, what: str, exc: Exception) -> InvalidArgumentError:
    column = getattr(exc, "column", None)
    if isinstance(column, int) and column > 0:
        caret = " " * (column - 1) + "^"
        found = getattr(exc, "token", None) or getattr(exc, "char", None)
        near = f" near {str(found)!r}" if found not in (None, "") else " at the end"
        return InvalidArgumentError(
            f"invalid {what} at position {column}{near}:\n  {text}\n  {caret}\n"
            + _SYNTAX_HINTS.get(what, "")
        )
    return InvalidArgumentError(f"invalid {what} {text!r}: {exc}")


def parse_filter(text: str) -> Expr | None:
    """Parse a search filter; ``None`` for an empty filter.

    Raises:
        InvalidArgumentError: the filter is malformed; the message points at the position.
    """
    if not text or not text.strip():
        return None
    from lark.exceptions import LarkError, UnexpectedInput

    parser = _parser(_GRAMMAR)
    try:
        tree = parser.parse(text)  # type: ignore[attr-defined]
    except UnexpectedInput as exc:
        raise _syntax_error(text, "filter", exc) from None
    except LarkError as exc:  # pragma: no cover - lark's other errors are grammar bugs
        raise InvalidArgumentError(f"invalid filter {text!r}: {exc}") from None
    return _build(tree, text)


def parse_order_by(entries: tuple[str, ...] | list[str]) -> list[OrderKey]:
    """Parse ``order_by`` entries such as ``"metrics.accuracy DESC"``."""
    if not entries:
        return []
    from lark import Token
    from lark.exceptions import UnexpectedInput

    parser = _parser(_ORDER_GRAMMAR)
    keys: list[OrderKey] = []
    for entry in entries:
        try:
            tree = parser.parse(entry)  # type: ignore[attr-defined]
        except UnexpectedInput as exc:
            raise _syntax_error(entry, "order_by entry", exc) from None
        field, *direction = tree.children
        kind, key = _field(field, entry)
        desc = (
            bool(direction)
            and isinstance(direction[0], Token)
            and str(direction[0]).lower() == "desc"
        )
        keys.append(OrderKey(kind, key, desc))
    return keys


def referenced_keys(expr: Expr) -> list[tuple[Kind, str]]:
    """The metric, param and tag names a filter can only match runs that have.

    ``metrics.x = null`` (never logged) is left out: a run without ``x`` matches it.

    Example::

        >>> referenced_keys(parse_filter("metrics.acc > 0.9 or params.model = 'rf'"))
        [('metrics', 'acc'), ('params', 'model')]
    """
    if isinstance(expr, Comparison):
        if expr.kind == "attributes" or (expr.op == "=" and expr.value is None):
            return []
        return [(expr.kind, expr.key)]
    found: list[tuple[Kind, str]] = []
    for item in expr.items:
        found.extend(k for k in referenced_keys(item) if k not in found)
    return found
