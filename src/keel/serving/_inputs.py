"""From a parsed JSON (or CSV) payload to typed model input, checked against the signature.

The fast path builds one float64 matrix straight from the JSON lists (no pandas), with
one type check per value; only a model with string, category or datetime columns gets
its rows as columns for a DataFrame. Every refusal names the field (``inputs[3].x``)
and what was expected, and never echoes more than a short piece of the input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keel.serving._errors import RequestError, shown

__all__ = ["InputBatch", "InputSchema"]

_NUMERIC_TYPES = ("double", "float", "long", "integer", "boolean", "unknown")
_INTEGER_TYPES = ("long", "integer")
_OIP_NUMERIC = {
    "FP16",
    "FP32",
    "FP64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "BOOL",
}


def _expected(kind: str) -> str:
    return {
        "double": "a number",
        "float": "a number",
        "unknown": "a number",
        "long": "an integer",
        "integer": "an integer",
        "boolean": "true or false",
        "string": "a string",
        "category": "a string",
        "datetime": "an ISO date-time string",
    }.get(kind, "a value")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}.get(
        type(value), "object" if isinstance(value, dict) else type(value).__name__
    )


@dataclass(slots=True)
class InputBatch:
    """Rows for a model: a float64 ``matrix`` (every column numeric) or ``columns``.

    Attributes:
        rows: the number of rows.
        matrix: ``(rows, features)`` float64 in signature order, or ``None``.
        columns: column name -> list of values (models with non-numeric columns).
    """

    rows: int
    matrix: Any = None
    columns: dict[str, list[Any]] | None = None

    def to_records(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts (for the prediction log)."""
        if self.matrix is not None:
            return [dict(zip(names, row, strict=False)) for row in self.matrix.tolist()]
        assert self.columns is not None
        cols = [self.columns[n] for n in names]
        return [dict(zip(names, vals, strict=False)) for vals in zip(*cols, strict=False)]

    @staticmethod
    def concat(batches: Sequence[InputBatch]) -> InputBatch:
        """One batch of all rows, in order."""
        if len(batches) == 1:
            return batches[0]
        import numpy as np

        total = sum(b.rows for b in batches)
        if batches[0].matrix is not None:
            return InputBatch(total, matrix=np.concatenate([b.matrix for b in batches]))
        assert batches[0].columns is not None
        names = list(batches[0].columns)
        columns: dict[str, list[Any]] = {n: [] for n in names}
        for b in batches:
            assert b.columns is not None
            for n in names:
                columns[n].extend(b.columns[n])
        return InputBatch(total, columns=columns)


class InputSchema:
    """The input columns of a signature and the checks every request goes through.

    Args:
        signature: the model version's signature (``inputs``: ``[{name, type}]``).
        max_rows: the most rows one request may carry.
        missing_allowed: which columns may be null.
    """

    def __init__(
        self,
        signature: Mapping[str, Any],
        *,
        max_rows: int,
        missing_allowed: Callable[[str], bool],
    ) -> None:
        inputs = list(signature.get("inputs") or [])
        self.names: tuple[str, ...] = tuple(str(c["name"]) for c in inputs)
        self.types: tuple[str, ...] = tuple(str(c.get("type", "unknown")) for c in inputs)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.numeric = all(t in _NUMERIC_TYPES for t in self.types)
        self.max_rows = max_rows
        self.nullable = tuple(missing_allowed(n) for n in self.names)
        self._allowed: tuple[tuple[type, ...], ...] = tuple(
            self._allowed_types(t, null) for t, null in zip(self.types, self.nullable, strict=True)
        )
        self._integer_columns = [i for i, t in enumerate(self.types) if t in _INTEGER_TYPES]

    @staticmethod
    def _allowed_types(kind: str, nullable: bool) -> tuple[type, ...]:
        if kind == "boolean":
            allowed: tuple[type, ...] = (bool,)
        elif kind in _NUMERIC_TYPES:
            allowed = (int, float)
        else:
            allowed = (str,)
        return (*allowed, type(None)) if nullable else allowed

    # -- checks shared by every shape --------------------------------------------------

    def _count(self, n: int, field: str) -> None:
        if n == 0:
            raise RequestError(400, f"{field} is empty; send at least one row", field=field)
        if n > self.max_rows:
            raise RequestError(
                413,
                f"{field} has {n} rows; this endpoint takes at most {self.max_rows} per request "
                "(split the batch, or use keel predict for files)",
                field=field,
                code="TOO_MANY_ROWS",
            )

    def _bad_value(self, value: Any, column: int, field: str) -> RequestError:
        kind = self.types[column]
        if value is None:
            return RequestError(
                400,
                f"{field} is null; the signature does not allow missing values in column "
                f"{self.names[column]!r} (expected {_expected(kind)}, type {kind})",
                field=field,
            )
        return RequestError(
            400,
            f"{field} is {_json_type(value)} {shown(value)}; expected {_expected(kind)} "
            f"(column {self.names[column]!r} is {kind})",
            field=field,
        )

    def _key_problem(self, keys: Any, field: str) -> RequestError:
        given = [str(k) for k in keys]
        missing = [n for n in self.names if n not in set(given)]
        extra = [k for k in given if k not in self.index]
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(repr(m) for m in missing[:10])}")
        if extra:
            parts.append(f"unknown column(s) {', '.join(shown(e, 30) for e in extra[:5])}")
        return RequestError(
            400,
            f"{field}: {'; '.join(parts) or 'columns do not match'}; expected columns "
            f"{', '.join(self.names)}",
            field=field,
        )

    def _check_row(self, values: Sequence[Any], field: str, by_name: bool) -> None:
        for j, (value, ok) in enumerate(zip(values, self._allowed, strict=True)):
            if type(value) not in ok:
                where = f"{field}.{self.names[j]}" if by_name else f"{field}[{j}]"
                raise self._bad_value(value, j, where)

    def _matrix(self, rows: list[list[Any]], field: str) -> InputBatch:
        import numpy as np

        try:
            matrix = np.array(rows, dtype=np.float64)
        except OverflowError:
            raise RequestError(
                400, f"{field}: a number is too large for a 64-bit float", field=field
            ) from None
        for j in self._integer_columns:
            col = matrix[:, j]
            frac = np.nonzero(np.isfinite(col) & (col != np.floor(col)))[0]
            if frac.size:
                i = int(frac[0])
                raise self._bad_value(rows[i][j], j, f"{field}[{i}].{self.names[j]}")
        return InputBatch(len(rows), matrix=matrix)

    # -- shapes --------------------------------------------------------------------------

    def from_records(self, rows: Any, field: str) -> InputBatch:
        """Rows as objects: ``[{"col": value, ...}, ...]``."""
        if not isinstance(rows, list):
            raise RequestError(
                400,
                f"{field} must be a list of rows (objects) or an object of columns, not "
                f"{_json_type(rows)}",
                field=field,
            )
        self._count(len(rows), field)
        names, ncol = self.names, len(self.names)
        values: list[list[Any]] = []
        append = values.append
        allowed = self._allowed
        for i, row in enumerate(rows):
            if type(row) is not dict:
                if type(row) is list and i == 0:
                    return self.from_lists(rows, field)
                raise RequestError(
                    400,
                    f"{field}[{i}] is {_json_type(row)}; expected an object of column values",
                    field=f"{field}[{i}]",
                )
            try:
                vals = [row[c] for c in names]
            except KeyError:
                raise self._key_problem(row, f"{field}[{i}]") from None
            if len(row) != ncol:
                raise self._key_problem(row, f"{field}[{i}]")
            if not all(type(v) in ok for v, ok in zip(vals, allowed, strict=True)):
                self._check_row(vals, f"{field}[{i}]", by_name=True)
            append(vals)
        return self._finish(values, field)

    def from_lists(self, rows: Any, field: str) -> InputBatch:
        """Rows as lists in signature order: ``[[v1, v2, ...], ...]``."""
        if not isinstance(rows, list):
            raise RequestError(
                400, f"{field} must be a list of rows, not {_json_type(rows)}", field=field
            )
        self._count(len(rows), field)
        ncol, allowed = len(self.names), self._allowed
        for i, row in enumerate(rows):
            if type(row) is not list or len(row) != ncol:
                got = f"{len(row)} values" if type(row) is list else _json_type(row)
                raise RequestError(
                    400,
                    f"{field}[{i}] has {got}; expected a list of {ncol} values in the order "
                    f"{', '.join(self.names)}",
                    field=f"{field}[{i}]",
                )
            if not all(type(v) in ok for v, ok in zip(row, allowed, strict=True)):
                self._check_row(row, f"{field}[{i}]", by_name=False)
        return self._finish(rows, field)

    def from_columns(self, columns: Any, field: str) -> InputBatch:
        """Columns: ``{"col": [v, ...], ...}``."""
        if not isinstance(columns, dict):
            raise RequestError(400, f"{field} must be an object of columns", field=field)
        if set(columns) != set(self.names):
            raise self._key_problem(columns, field)
        lengths = set()
        for name in self.names:
            col = columns[name]
            if not isinstance(col, list):
                raise RequestError(
                    400,
                    f"{field}.{name} is {_json_type(col)}; expected a list of values",
                    field=f"{field}.{name}",
                )
            lengths.add(len(col))
        if len(lengths) != 1:
            raise RequestError(
                400,
                f"{field}: columns have different lengths ({', '.join(map(str, sorted(lengths)))})",
                field=field,
            )
        n = lengths.pop()
        self._count(n, field)
        for j, name in enumerate(self.names):
            ok = self._allowed[j]
            col = columns[name]
            if not all(type(v) in ok for v in col):
                i = next(i for i, v in enumerate(col) if type(v) not in ok)
                raise self._bad_value(col[i], j, f"{field}.{name}[{i}]")
        if self.numeric:
            import numpy as np

            try:
                matrix = np.array([columns[n] for n in self.names], dtype=np.float64).T
            except OverflowError:
                raise RequestError(
                    400, f"{field}: a number is too large for a 64-bit float", field=field
                ) from None
            matrix = np.ascontiguousarray(matrix)
            for j in self._integer_columns:
                col = matrix[:, j]
                frac = np.nonzero(np.isfinite(col) & (col != np.floor(col)))[0]
                if frac.size:
                    i = int(frac[0])
                    name = self.names[j]
                    raise self._bad_value(columns[name][i], j, f"{field}.{name}[{i}]")
            return InputBatch(n, matrix=matrix)
        return InputBatch(n, columns={n_: list(columns[n_]) for n_ in self.names})

    def from_split(self, split: Any, field: str) -> InputBatch:
        """MLflow's ``dataframe_split``: ``{"columns": [...], "data": [[...], ...]}``."""
        if not isinstance(split, dict) or "data" not in split:
            raise RequestError(400, f"{field} must be an object with columns and data", field=field)
        unknown = set(split) - {"columns", "data", "index"}
        if unknown:
            raise RequestError(
                400,
                f"{field} has unknown key(s) {', '.join(sorted(map(str, unknown)))[:80]}; "
                "expected columns, data and optionally index",
                field=field,
            )
        cols = split.get("columns")
        data = split["data"]
        if cols is None:
            return self.from_lists(data, f"{field}.data")
        if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
            raise RequestError(
                400, f"{field}.columns must be a list of column names", field=f"{field}.columns"
            )
        if sorted(cols) != sorted(self.names):
            raise self._key_problem(cols, f"{field}.columns")
        if list(cols) == list(self.names):
            return self.from_lists(data, f"{field}.data")
        if not isinstance(data, list):
            raise RequestError(400, f"{field}.data must be a list of rows", field=f"{field}.data")
        order = [cols.index(n) for n in self.names]
        ncol = len(cols)
        reordered = []
        for i, row in enumerate(data):
            if type(row) is not list or len(row) != ncol:
                raise RequestError(
                    400,
                    f"{field}.data[{i}] must be a list of {ncol} values (one per column)",
                    field=f"{field}.data[{i}]",
                )
            reordered.append([row[k] for k in order])
        return self.from_lists(reordered, f"{field}.data")

    def _finish(self, rows: list[list[Any]], field: str) -> InputBatch:
        if self.numeric:
            return self._matrix(rows, field)
        columns = {n: [r[j] for r in rows] for j, n in enumerate(self.names)}
        return InputBatch(len(rows), columns=columns)

    # -- Open Inference Protocol ------------------------------------------------------

    def from_oip(self, payload: Mapping[str, Any]) -> InputBatch:
        """An OIP infer request: one 2-D tensor ``[rows, features]``, or one 1-D tensor per
        column (``parameters.content_type: "pd"``, strings as BYTES)."""
        inputs = payload.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise RequestError(400, "inputs must be a non-empty list of tensors", field="inputs")
        for i, tensor in enumerate(inputs):
            if not isinstance(tensor, dict):
                raise RequestError(
                    400,
                    f"inputs[{i}] is {_json_type(tensor)}; expected a tensor object "
                    "with name, shape, datatype and data",
                    field=f"inputs[{i}]",
                )
            for key in ("name", "shape", "datatype", "data"):
                if key not in tensor:
                    raise RequestError(
                        400, f"inputs[{i}] has no {key!r}", field=f"inputs[{i}].{key}"
                    )
        if (
            len(inputs) == 1
            and isinstance(inputs[0]["shape"], list)
            and len(inputs[0]["shape"]) == 2
        ):
            name = inputs[0]["name"]
            if name not in self.index or len(self.names) == 1:
                return self._oip_matrix(inputs[0])
        return self._oip_columns(inputs)

    def _oip_flat(self, tensor: Mapping[str, Any], i: int) -> tuple[list[int], list[Any]]:
        shape, data = tensor["shape"], tensor["data"]
        where = f"inputs[{i}]"
        if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
            raise RequestError(
                400,
                f"{where}.shape must be a list of non-negative integers",
                field=f"{where}.shape",
            )
        if not isinstance(data, list):
            raise RequestError(400, f"{where}.data must be a list", field=f"{where}.data")
        if data and type(data[0]) is list:  # nested (row-major) data: flatten one level
            flat: list[Any] = []
            for row in data:
                if type(row) is not list:
                    raise RequestError(
                        400, f"{where}.data mixes lists and values", field=f"{where}.data"
                    )
                flat.extend(row)
            data = flat
        size = 1
        for s in shape:
            size *= s
        if size != len(data):
            raise RequestError(
                400,
                f"{where} ({shown(tensor['name'], 30)}): shape {shape} needs {size} values but "
                f"data has {len(data)}",
                field=f"{where}.data",
            )
        return shape, data

    def _oip_matrix(self, tensor: Mapping[str, Any]) -> InputBatch:
        import numpy as np

        shape, data = self._oip_flat(tensor, 0)
        datatype = tensor["datatype"]
        if not self.numeric:
            raise RequestError(
                400,
                "this model has non-numeric columns "
                f"({', '.join(n for n, t in zip(self.names, self.types, strict=True) if t not in _NUMERIC_TYPES)}); "
                'send one 1-D tensor per column with parameters {"content_type": "pd"}',
                field="inputs[0]",
            )
        if datatype not in _OIP_NUMERIC:
            raise RequestError(
                400,
                f"inputs[0].datatype is {shown(datatype, 20)}; expected FP32, FP64 or INT64 "
                "for this numeric model",
                field="inputs[0].datatype",
            )
        n, f = shape
        if f != len(self.names):
            raise RequestError(
                400,
                f"inputs[0].shape is {shape}; expected [rows, {len(self.names)}] with columns "
                f"{', '.join(self.names)}",
                field="inputs[0].shape",
            )
        self._count(n, "inputs[0]")
        ok = (
            (bool,) if datatype == "BOOL" else (int, float) if datatype.startswith("FP") else (int,)
        )
        if not all(type(v) in ok for v in data):
            k = next(k for k, v in enumerate(data) if type(v) not in ok)
            raise RequestError(
                400,
                f"inputs[0].data[{k}] is {_json_type(data[k])} {shown(data[k])}; expected "
                f"values of datatype {datatype}",
                field=f"inputs[0].data[{k}]",
            )
        try:
            matrix = np.array(data, dtype=np.float64).reshape(n, f)
        except OverflowError:
            raise RequestError(
                400, "inputs[0]: a number is too large for a 64-bit float", field="inputs[0]"
            ) from None
        return InputBatch(n, matrix=matrix)

    def _oip_columns(self, inputs: list[Any]) -> InputBatch:
        by_name: dict[str, tuple[int, Any]] = {}
        for i, tensor in enumerate(inputs):
            by_name[str(tensor["name"])] = (i, tensor)
        if set(by_name) != set(self.names):
            raise self._key_problem(by_name, "inputs")
        columns: dict[str, list[Any]] = {}
        n: int | None = None
        for name in self.names:
            i, tensor = by_name[name]
            shape, data = self._oip_flat(tensor, i)
            if len(shape) == 2 and shape[1] == 1:
                shape = [shape[0]]
            if len(shape) != 1:
                raise RequestError(
                    400,
                    f"inputs[{i}] ({name!r}) has shape {shape}; a column tensor is [rows] or "
                    "[rows, 1]",
                    field=f"inputs[{i}].shape",
                )
            if n is None:
                n = shape[0]
            elif shape[0] != n:
                raise RequestError(
                    400,
                    f"inputs[{i}] ({name!r}) has {shape[0]} rows but the other columns have {n}",
                    field=f"inputs[{i}].shape",
                )
            datatype = tensor["datatype"]
            j = self.index[name]
            kind = self.types[j]
            wants_bytes = kind not in _NUMERIC_TYPES
            if wants_bytes and datatype != "BYTES":
                raise RequestError(
                    400,
                    f"inputs[{i}] ({name!r}) has datatype {shown(datatype, 20)}; column {name!r} "
                    f"is {kind}: send it as BYTES (strings)",
                    field=f"inputs[{i}].datatype",
                )
            if not wants_bytes and datatype not in _OIP_NUMERIC:
                raise RequestError(
                    400,
                    f"inputs[{i}] ({name!r}) has datatype {shown(datatype, 20)}; column {name!r} "
                    f"is {kind}: send FP64, FP32 or INT64",
                    field=f"inputs[{i}].datatype",
                )
            ok = self._allowed[j]
            if not all(type(v) in ok for v in data):
                k = next(k for k, v in enumerate(data) if type(v) not in ok)
                raise self._bad_value(data[k], j, f"inputs[{i}].data[{k}]")
            columns[name] = data
        assert n is not None
        self._count(n, "inputs")
        if self.numeric:
            return self.from_columns(columns, "inputs")
        return InputBatch(n, columns=columns)

    # -- CSV ------------------------------------------------------------------------

    def from_csv(self, text: str) -> InputBatch:
        """``text/csv`` with a header row (MLflow's CSV payload)."""
        import csv
        import math

        reader = csv.reader(text.splitlines())
        header = next(reader, None)
        if not header:
            raise RequestError(
                400, "the CSV body is empty; send a header row and rows", field="csv"
            )
        header = [h.strip() for h in header]
        if sorted(header) != sorted(self.names):
            raise self._key_problem(header, "csv header")
        positions = [header.index(n) for n in self.names]
        rows: list[list[Any]] = []
        for line_no, raw in enumerate(reader, start=2):
            if not raw:
                continue
            if len(raw) != len(header):
                raise RequestError(
                    400,
                    f"csv line {line_no} has {len(raw)} fields; the header has {len(header)}",
                    field=f"csv line {line_no}",
                )
            row: list[Any] = []
            for j, k in enumerate(positions):
                cell = raw[k].strip()
                kind = self.types[j]
                where = f"csv line {line_no}, column {self.names[j]!r}"
                if cell == "":
                    if not self.nullable[j]:
                        raise self._bad_value(None, j, where)
                    row.append(None)
                elif kind in _NUMERIC_TYPES:
                    try:
                        value: Any = cell.lower() == "true" if kind == "boolean" else float(cell)
                    except ValueError:
                        raise self._bad_value(cell, j, where) from None
                    if kind != "boolean" and not math.isfinite(value):
                        if not self.nullable[j] or not math.isnan(value):
                            raise self._bad_value(cell, j, where)
                        value = None
                    row.append(value)
                else:
                    row.append(cell)
            rows.append(row)
            if len(rows) > self.max_rows:
                break
        self._count(len(rows), "csv")
        return self._finish(rows, "csv")
