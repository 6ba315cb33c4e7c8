"""Translate a parsed search filter and ordering into bound SQLAlchemy expressions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from keel.errors import InvalidArgumentError
from keel.store._filter import And, Comparison, Expr, Or, OrderKey
from keel.store._sql._tracking_rows import (
    latest_metrics as _latest,
    run_params as _params,
    run_tags as _tags,
    runs as _runs,
)

__all__ = ["filter_clause", "order_clauses"]


_ATTRIBUTE_COLUMNS = {
    "run_id": _runs.c.id,
    "run_name": _runs.c.name,
    "status": _runs.c.status,
    "start_time": _runs.c.start_time,
    "end_time": _runs.c.end_time,
    "user": _runs.c.user,
    "parent_run_id": _runs.c.parent_run_id,
    "experiment_id": _runs.c.experiment_id,
}
_NUMERIC_ATTRIBUTES = {"start_time", "end_time"}


def _apply(column: ColumnElement[object], op: str, value: object) -> ColumnElement[bool]:
    if op == "=":
        return column.is_(None) if value is None else column == value
    if op == "!=":
        return column.is_not(None) if value is None else column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "like":
        return column.like(value)
    if op == "ilike":
        return column.ilike(value)
    if op == "in":
        return column.in_(value)  # type: ignore[arg-type]
    if op == "not in":
        return column.not_in(value)  # type: ignore[arg-type]
    raise InvalidArgumentError(f"unknown comparison operator {op!r}")  # pragma: no cover


def _check_types(cmp: Comparison) -> None:
    values = cmp.value if isinstance(cmp.value, tuple) else (cmp.value,)
    numeric = cmp.kind == "metrics" or (cmp.kind == "attributes" and cmp.key in _NUMERIC_ATTRIBUTES)
    where = f"{cmp.kind}.{cmp.key}" if cmp.kind != "attributes" else cmp.key
    if numeric:
        if cmp.op in ("like", "ilike"):
            raise InvalidArgumentError(f"{where} is numeric; {cmp.op} needs a text field")
        if any(isinstance(v, str) for v in values):
            raise InvalidArgumentError(
                f"{where} is numeric but is compared with a string; write a number, "
                f"e.g. {where} > 0.5"
            )
    elif cmp.op in ("<", "<=", ">", ">="):
        raise InvalidArgumentError(
            f"{where} holds text; compare it with =, !=, like, ilike or in "
            "(params and tags are strings)"
        )


def _text(value: object) -> object:
    # Params and tags are stored as text: 100 matches the param '100'.
    if isinstance(value, tuple):
        return tuple(_text(v) for v in value)
    if isinstance(value, float | int) and not isinstance(value, bool):
        return str(value)
    return value


def _comparison(cmp: Comparison) -> ColumnElement[bool]:
    _check_types(cmp)
    if cmp.kind == "attributes":
        value = cmp.value
        if cmp.key == "status" and isinstance(value, str):
            value = value.upper()
        elif cmp.key == "status" and isinstance(value, tuple):
            value = tuple(v.upper() if isinstance(v, str) else v for v in value)
        return _apply(_ATTRIBUTE_COLUMNS[cmp.key], cmp.op, value)
    table = {"metrics": _latest, "params": _params, "tags": _tags}[cmp.kind]
    if cmp.value is None:
        # "metrics.x = null" means "x was never logged"; "!= null" that it was.
        exists = sa.exists().where(table.c.run_id == _runs.c.id, table.c.key == cmp.key)
        return ~exists if cmp.op == "=" else exists
    value_cond: ColumnElement[bool]
    if cmp.kind == "metrics":
        value_cond = _apply(table.c.value, cmp.op, cmp.value) & table.c.is_nan.is_(False)
    else:
        value_cond = _apply(table.c.value, cmp.op, _text(cmp.value))
    return sa.exists().where(table.c.run_id == _runs.c.id, table.c.key == cmp.key, value_cond)


def filter_clause(expr: Expr) -> ColumnElement[bool]:
    """The WHERE clause for a parsed filter; every literal is a bound parameter."""
    if isinstance(expr, Comparison):
        return _comparison(expr)
    parts = [filter_clause(item) for item in expr.items]
    if isinstance(expr, And):
        return sa.and_(*parts)
    assert isinstance(expr, Or)
    return sa.or_(*parts)


def order_clauses(
    query: sa.Select[tuple[object, ...]], keys: list[OrderKey]
) -> sa.Select[tuple[object, ...]]:
    """Add ORDER BY terms (missing values last) to a query over ``runs``."""
    terms: list[ColumnElement[Any]] = []
    for i, key in enumerate(keys):
        column: ColumnElement[Any]
        if key.kind == "attributes":
            column = _ATTRIBUTE_COLUMNS[key.key]
        else:
            table = {"metrics": _latest, "params": _params, "tags": _tags}[key.kind]
            alias = table.alias(f"order_{i}")
            query = query.outerjoin(
                alias, sa.and_(alias.c.run_id == _runs.c.id, alias.c.key == key.key)
            )
            column = alias.c.value
        terms.append(column.is_(None))  # NULLs (missing keys) last on every backend
        terms.append(column.desc() if key.descending else column.asc())
    terms.append(_runs.c.start_time.desc())
    terms.append(_runs.c.id)
    return query.order_by(*terms)
