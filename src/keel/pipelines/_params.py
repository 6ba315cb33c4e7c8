"""Params given at run time, validated and coerced to each step's annotated types.

Values typed on the command line arrive as text (``--param test_size=0.25``); they are
coerced with pydantic in lax mode (``"0.25"`` -> ``0.25``, ``"yes"`` -> ``True``), and
text that is JSON is tried for lists and dicts (``--param cols='["a","b"]'``).

A plain name (``seed``) sets that param on every step that has it; a qualified name
(``split.seed``) sets it on one step and wins over the plain one.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from keel.errors import InvalidArgumentError
from keel.pipelines._step import ParamSpec

__all__ = ["ResolvedParams", "parse_param_args", "resolve_params"]


class ResolvedParams:
    """Validated params per step: Python values for the call, JSON values for the record."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}
        self.json: dict[str, dict[str, Any]] = {}
        self.source_files: dict[str, dict[str, Path]] = {}


def parse_param_args(pairs: Sequence[str]) -> dict[str, str]:
    """Parse ``k=v`` strings from the command line.

    Raises:
        InvalidArgumentError: a pair has no ``=`` or an empty key.

    Example::

        >>> parse_param_args(["test_size=0.3", "split.seed=7"])
        {'test_size': '0.3', 'split.seed': '7'}
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidArgumentError(
                f"--param {pair!r} is not KEY=VALUE; write e.g. --param test_size=0.3 "
                "(or STEP.KEY=VALUE for one step)"
            )
        if key in out:
            raise InvalidArgumentError(f"--param {key} is given twice; give it once")
        out[key] = value
    return out


def _type_hint(spec: ParamSpec) -> str:
    name = spec.type_name
    if name == "bool":
        return "true or false"
    if name in ("int", "float"):
        return f"a number ({name})"
    if name.startswith(("list", "dict", "tuple", "set")):
        return f"{name}, written as JSON"
    return name


def _validate(spec: ParamSpec, value: Any, given_as: str) -> tuple[Any, Any]:
    """The Python value and its JSON form, or an error naming the param and the type."""
    from pydantic import TypeAdapter, ValidationError

    try:
        adapter: TypeAdapter[Any] = TypeAdapter(spec.annotation)
    except Exception:  # an annotation pydantic cannot build a validator for: take as is
        return value, _json_form(spec, value)
    try:
        result = adapter.validate_python(value)
    except ValidationError as first:
        if isinstance(value, str):
            try:
                result = adapter.validate_json(value)
            except ValidationError:
                result = first
        else:
            result = first
        if isinstance(result, ValidationError):
            reason = result.errors()[0].get("msg", str(result))
            raise InvalidArgumentError(
                f"param {given_as!r} of step {spec.step!r} got {value!r}: {reason}; "
                f"expected {_type_hint(spec)} — pass e.g. --param {given_as}=VALUE"
            ) from None
    try:
        dumped = adapter.dump_python(result, mode="json")
    except Exception:
        dumped = _json_form(spec, result)
    return result, dumped


def _json_form(spec: ParamSpec, value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"param {spec.name!r} of step {spec.step!r} got {value!r} "
            f"({type(value).__name__}), which is not a JSON value; params must be numbers, "
            "text, booleans, lists or dicts so they can be recorded and hashed"
        ) from None
    return value


def resolve_params(
    specs: Sequence[ParamSpec],
    given: Mapping[str, Any],
    step_names: Sequence[str],
) -> ResolvedParams:
    """Validate run-time params against the steps' specs.

    Args:
        specs: every step's param specs.
        given: params by plain (``seed``) or qualified (``split.seed``) name.
        step_names: the pipeline's step names (for hints).

    Raises:
        InvalidArgumentError: an unknown param, a missing required one, a value of the
            wrong type, or a source file that does not exist.
    """
    by_plain: dict[str, list[ParamSpec]] = {}
    by_qualified: dict[str, ParamSpec] = {}
    for spec in specs:
        by_plain.setdefault(spec.name, []).append(spec)
        by_qualified[f"{spec.step}.{spec.name}"] = spec
    known = sorted(set(by_plain) | set(by_qualified))
    for key in given:
        if not isinstance(key, str) or (key not in by_plain and key not in by_qualified):
            near = difflib.get_close_matches(str(key), known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            listing = ", ".join(known) if known else "none"
            raise InvalidArgumentError(
                f"param {key!r} is not a param of any step{hint}; the pipeline's params are: "
                f"{listing}"
            )
    resolved = ResolvedParams()
    for spec in specs:
        qualified = f"{spec.step}.{spec.name}"
        if qualified in given:
            raw, given_as = given[qualified], qualified
        elif spec.name in given:
            raw, given_as = given[spec.name], spec.name
        elif spec.required:
            hint = ""
            near = difflib.get_close_matches(spec.name, list(step_names), n=1, cutoff=0.6)
            if near:
                hint = (
                    f" (if it is meant to be the output of step {near[0]!r}, name the "
                    f"parameter {near[0]!r} or wire it with inputs={{'{spec.name}': "
                    f"'{near[0]}'}})"
                )
            raise InvalidArgumentError(
                f"step {spec.step!r} needs param {spec.name!r} ({spec.type_name}), which has "
                f"no default; pass --param {spec.name}=VALUE or params={{'{spec.name}': ...}}"
                f"{hint}"
            )
        else:
            raw, given_as = spec.default, qualified
        value, dumped = _validate(spec, raw, given_as)
        if spec.is_source_file:
            path = Path(value).expanduser().absolute()
            if not path.is_file():
                raise InvalidArgumentError(
                    f"param {given_as!r} of step {spec.step!r} names the file {str(path)!r}, "
                    "which does not exist; pass an existing file with "
                    f"--param {given_as}=PATH"
                )
            value, dumped = path, str(path)
            resolved.source_files.setdefault(spec.step, {})[spec.name] = path
        resolved.values.setdefault(spec.step, {})[spec.name] = value
        resolved.json.setdefault(spec.step, {})[spec.name] = dumped
    for name in step_names:
        resolved.values.setdefault(name, {})
        resolved.json.setdefault(name, {})
    return resolved
