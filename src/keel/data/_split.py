"""Train/validation/test splits as derived dataset versions, with lineage to the parent.

Rows are assigned with DuckDB SQL over the parent's Parquet file, so splitting a large
dataset needs no more memory than ingesting it:

* random (default): rows ordered by a seeded hash of their row number, then cut at
  the cumulative fractions;
* ``stratify=col``: the same within each value of ``col``, so every split keeps the
  class proportions;
* ``group=col``: whole groups (e.g. all rows of one customer) go to one split; groups
  are ordered by a seeded hash of their value and cut at the cumulative row fractions;
* ``time=col``: rows ordered by ``col`` (ties by row number; nulls last); the first
  split gets the earliest rows, the last split the latest.

The same seed on the same data gives the same splits (with the same DuckDB version).
"""

# DuckDB SQL is built from quoted identifiers (quote_ident) and bound parameters; the
# parent's path reaches DuckDB through its relational API, never as SQL text.
# ruff: noqa: S608

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from keel.data._names import check_name
from keel.data._sql import quote_ident
from keel.errors import InvalidArgumentError, show_input

if TYPE_CHECKING:
    from keel.context import Context
    from keel.data._version import DatasetVersion

__all__ = ["DEFAULT_FRACTIONS", "split"]

DEFAULT_FRACTIONS: Mapping[str, float] = {"train": 0.7, "validation": 0.15, "test": 0.15}


def _check_fractions(fractions: Mapping[str, float]) -> list[tuple[str, float]]:
    if not isinstance(fractions, Mapping) or not fractions:
        raise InvalidArgumentError(
            f"fractions must be a non-empty mapping such as {dict(DEFAULT_FRACTIONS)}; got {show_input(fractions)}"
        )
    items = []
    for key, value in fractions.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1:
            raise InvalidArgumentError(
                f"fraction of split {show_input(key)} is {show_input(value)}; use a number in (0, 1]"
            )
        items.append((str(key), float(value)))
    total = sum(v for _, v in items)
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise InvalidArgumentError(
            f"split fractions {dict(items)} add up to {total:g}; they must add up to 1"
        )
    return items


def split(
    reference: str | DatasetVersion,
    fractions: Mapping[str, float] | None = None,
    *,
    seed: int = 0,
    stratify: str | None = None,
    group: str | None = None,
    time: str | None = None,
    progress: bool = False,
    context: Context | None = None,
) -> dict[str, DatasetVersion]:
    """Split a dataset version into derived versions named ``<name>-<split>``.

    Args:
        reference: the parent (``"iris/2"`` or a ``DatasetVersion``).
        fractions: split name -> fraction of rows, adding up to 1 (default
            train 0.7, validation 0.15, test 0.15). Split names become name suffixes.
        seed: seed of the row (or group) shuffle.
        stratify: keep the proportions of this column's values in every split.
        group: keep all rows with the same value of this column in one split.
        time: split by this column's order (earliest rows in the first split).
        progress: show progress on stderr.
        context: where the parent is read and the splits registered (the current
            context by default).

    Returns:
        Split name -> the registered child version (``parent_ids`` = the parent's id,
        lineage edge ``parent -[split_into]-> child``).

    Raises:
        InvalidArgumentError: bad fractions, an unknown column, more than one of
            stratify/group/time, or a split that would be empty.

    Example::

        >>> parts = keel.datasets.split("iris", {"train": 0.8, "test": 0.2}, seed=7,
        ...                             stratify="species")
        >>> parts["train"].name, parts["train"].num_rows
        ('iris-train', 120)
    """
    from keel.context import current_context
    from keel.data._datasets import _Derivation, _register, get

    items = _check_fractions(fractions if fractions is not None else DEFAULT_FRACTIONS)
    chosen = [(k, v) for k, v in (("stratify", stratify), ("group", group), ("time", time)) if v]
    if len(chosen) > 1:
        raise InvalidArgumentError(
            f"pass at most one of stratify, group and time; got {', '.join(k for k, _ in chosen)}"
        )
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InvalidArgumentError(f"seed must be an integer, not {show_input(seed)}")
    ctx = context or current_context()
    parent = get(reference, context=ctx)
    for key, value in chosen:
        if value not in parent.schema:
            raise InvalidArgumentError(
                f"{key}={show_input(value)} is not a column of {parent.reference}; columns are "
                f"{show_input(parent.columns, 300)}"
            )
    names = {key: check_name(f"{parent.name}-{key}") for key, _ in items}
    mode, column = chosen[0] if chosen else ("random", None)

    cum = [sum(v for _, v in items[: i + 1]) for i in range(len(items))]
    cum[-1] = 1.0
    tmp_root = ctx.settings.home.absolute() / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    results: dict[str, DatasetVersion] = {}
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="split-") as tmp:
        how = f", {mode}={column}" if column else ""
        paths = _write_splits(parent, items, _assignment(mode, column, cum), seed, Path(tmp), how)
        for key, fraction in items:
            derivation = {
                "kind": "split",
                "split": key,
                "fractions": dict(items),
                "fraction": fraction,
                "seed": seed,
                "mode": mode,
                "column": column,
                "parent": parent.reference,
            }
            results[key] = _register(
                paths[key],
                names[key],
                description=f"{key} split of {parent.reference}",
                format="parquet",
                progress=progress,
                context=ctx,
                derived=_Derivation(
                    parent_ids=(parent.id,),
                    derivation=derivation,
                    upstream=((parent.lineage_node(), "split_into"),),
                    source_uri=f"dataset:{parent.reference}#{key}",
                ),
            )
    return results


#: The parent's rows, with their row numbers: a view over its Parquet file, created
#: through DuckDB's relational API so the file's path never enters SQL text.
_PARENT = "keel_parent"


def _assignment(mode: str, column: str | None, cum: list[float]) -> str:
    """SQL giving each parent row number ``r`` its split index ``s`` (seed bound as ``$seed``)."""
    shuffle = "hash(file_row_number, $seed)"
    if mode == "group":
        g = quote_ident(str(column))
        return f"""
            WITH groups AS (
                SELECT {g} AS g, count(*) AS size, hash({g}, $seed) AS h FROM {_PARENT} GROUP BY {g}
            ), placed AS (
                SELECT g, (sum(size) OVER (ORDER BY h, g ROWS UNBOUNDED PRECEDING) - size / 2.0)
                       / sum(size) OVER () AS pos FROM groups
            )
            SELECT t.file_row_number AS r, {_bucket("p.pos", cum, strict=True)} AS s
            FROM {_PARENT} t JOIN placed p ON t.{g} IS NOT DISTINCT FROM p.g
        """
    if mode == "stratify":
        order = f"PARTITION BY {quote_ident(str(column))} ORDER BY {shuffle}"
        size = f"count(*) OVER (PARTITION BY {quote_ident(str(column))})"
    elif mode == "time":
        order = f"ORDER BY {quote_ident(str(column))} NULLS LAST, file_row_number"
        size = "count(*) OVER ()"
    else:
        order = f"ORDER BY {shuffle}"
        size = "count(*) OVER ()"
    return f"""
        SELECT r, {_bucket("k", cum, size_col="n")} AS s FROM (
            SELECT file_row_number AS r, row_number() OVER ({order}) - 1 AS k, {size} AS n
            FROM {_PARENT}
        )
    """


def _write_splits(
    parent: DatasetVersion,
    items: list[tuple[str, float]],
    assign: str,
    seed: int,
    folder: Path,
    how: str,
) -> dict[str, Path]:
    """Assign rows with ``assign`` and write each split's rows, in order, to a Parquet file."""
    from keel.data._ingest import connect_duckdb, write_parquet

    con = connect_duckdb(folder)
    try:
        con.read_parquet(str(parent.local_path()), file_row_number=True).create_view(_PARENT)
        uses_seed = "$seed" in assign
        con.execute(
            f"CREATE TEMP TABLE keel_assign AS {assign}", {"seed": seed} if uses_seed else None
        )
        counts = dict(con.execute("SELECT s, count(*) FROM keel_assign GROUP BY s").fetchall())
        paths = {}
        for i, (key, fraction) in enumerate(items):
            if not counts.get(i):
                raise InvalidArgumentError(
                    f"split {key!r} of {parent.reference} would be empty ({parent.num_rows} rows, "
                    f"fraction {fraction:g}{how}); use more data or larger fractions"
                )
        for i, (key, _) in enumerate(items):
            paths[key] = folder / f"{key}.parquet"
            rel = con.sql(
                f"SELECT t.* EXCLUDE (file_row_number) FROM {_PARENT} t "
                "SEMI JOIN (SELECT r FROM keel_assign WHERE s = $split) a "
                "ON t.file_row_number = a.r ORDER BY t.file_row_number",
                params={"split": i},
            )
            write_parquet(rel.to_arrow_reader(), paths[key])
        return paths
    finally:
        con.close()


def _bucket(
    value: str, cum: list[float], *, size_col: str | None = None, strict: bool = False
) -> str:
    """A CASE expression giving the split index of a row from its rank or position."""
    whens = []
    for i, c in enumerate(cum[:-1]):
        if size_col is not None:
            whens.append(f"WHEN {value} < round({c!r} * {size_col}) THEN {i}")
        else:
            whens.append(f"WHEN {value} {'<' if strict else '<='} {c!r} THEN {i}")
    return f"CASE {' '.join(whens)} ELSE {len(cum) - 1} END" if whens else "0"
