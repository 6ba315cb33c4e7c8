"""Translate a parsed search filter and ordering into bound SQLAlchemy expressions."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from keel.errors import InvalidArgumentError
from keel.store._filter import And, Comparison, Expr, Or, OrderKey, referenced_keys
from keel.store._sql._tracking_rows import (
    experiments as _experiments,
    latest_metrics as _latest,
    run_params as _params,
    run_tags as _tags,
    runs as _runs,
)
from keel.store._tracking import natural_key

__all__ = ["explain_no_match", "filter_clause", "order_clauses"]

_KEY_TABLES = {"metrics": _latest, "params": _params, "tags": _tags}
_SINGULAR = {"metrics": "metric", "params": "param", "tags": "tag"}

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


def _shown(key: str) -> str:
    return repr(key if len(key) <= 60 else key[:57] + "...")


def _where_searched(conn: Connection, experiment_ids: Sequence[str], project: str) -> str:
    mine = _experiments.c.project == project
    names = sorted(
        conn.execute(
            sa.select(_experiments.c.name).where(mine, _experiments.c.id.in_(list(experiment_ids)))
        ).scalars()
    )
    total = conn.execute(
        sa.select(sa.func.count()).select_from(_experiments).where(mine)
    ).scalar_one()
    if len(names) == 1:
        return f"in experiment {_shown(names[0])}"
    if len(names) == total:
        return "in any experiment"
    listed = ", ".join(_shown(n) for n in names[:5])
    return f"in experiments {listed}{', ...' if len(names) > 5 else ''}"


def _missing_key_hint(names: list[str], kind: str, key: str) -> str:
    """Nearest names to a key no searched run has, or the names there are."""
    if kind == "tags" and not key.startswith("keel."):
        names = [n for n in names if not n.startswith("keel.")]  # system tags are noise
    near = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
    if near:
        return f"nearest: {', '.join(near)}"
    if not names:
        if kind == "tags":
            return "runs there have only keel.* system tags"
        return f"no run there has any {_SINGULAR[kind]}"
    names.sort(key=natural_key)
    more = ", ..." if len(names) > 10 else ""
    return f"{kind} there are: {', '.join(names[:10])}{more}"


def explain_no_match(
    conn: Connection, experiment_ids: Sequence[str], expr: Expr, project: str
) -> str | None:
    """Why a search found nothing, when the filter names a key no searched run of ``project`` has.

    Returns a message such as ``no run in experiment 'iris' has a metric 'acc';
    nearest: accuracy``, or ``None`` when every named key exists (the values just did
    not match) or the experiments have no runs at all.
    """
    wanted = referenced_keys(expr)
    if not wanted:
        return None
    runs_in = sa.and_(_runs.c.project == project, _runs.c.experiment_id.in_(list(experiment_ids)))
    if conn.execute(sa.select(_runs.c.id).where(runs_in).limit(1)).first() is None:
        return None
    problems: list[tuple[str, str]] = []
    for kind, key in wanted:
        table = _KEY_TABLES[kind]
        joined = table.join(_runs, table.c.run_id == _runs.c.id)
        found = conn.execute(
            sa.select(table.c.key).select_from(joined).where(runs_in, table.c.key == key).limit(1)
        ).first()
        if found is not None:
            continue
        names = list(
            conn.execute(
                sa.select(table.c.key).distinct().select_from(joined).where(runs_in).limit(5000)
            ).scalars()
        )
        problems.append((f"a {_SINGULAR[kind]} {_shown(key)}", _missing_key_hint(names, kind, key)))
    if not problems:
        return None
    where = _where_searched(conn, experiment_ids, project)
    if len(problems) == 1:
        ((what, hint),) = problems
        return f"no run {where} has {what}; {hint}"
    return f"no run {where} has " + " or ".join(f"{what} ({hint})" for what, hint in problems)
