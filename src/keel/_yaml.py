"""One-line descriptions of YAML syntax errors, for every YAML file keel reads."""

from __future__ import annotations

__all__ = ["describe_yaml_error"]


def describe_yaml_error(exc: Exception) -> str:
    """``line L, column C: problem`` for a PyYAML error (or its first line otherwise).

    PyYAML's own message spans several lines (the context, a caret, the problem); keel's
    errors are one line, so this keeps the position and the problem.

    Example::

        >>> import yaml
        >>> try:
        ...     yaml.safe_load("a: [1, 2")
        ... except yaml.YAMLError as exc:
        ...     describe_yaml_error(exc)
        "line 1, column 9: expected ',' or ']', but got '<stream end>'"
    """
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if problem is None:
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"
