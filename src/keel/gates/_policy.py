"""Promotion policies: a YAML list of checks, parsed strictly with line numbers.

Example policy::

    checks:
      - metric: f1_macro >= 0.90
      - no_regression: {metric: f1_macro, tolerance: 0.02}
      - fairness: demographic_parity_difference <= 0.10
      - latency: p99_ms <= 50
      - required_artifacts: [model_card, shap]
      - training_data_valid: true
      - onnx_parity: max_abs_diff <= 1e-4
      - monitor_healthy: {monitor: iris-watch}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keel.errors import InvalidArgumentError

__all__ = ["CHECK_KINDS", "Bound", "Check", "Policy", "PolicyError", "load_policy", "parse_policy"]

_EXPR = re.compile(
    r"^\s*(?P<name>[A-Za-z_][\w.\-]*)\s*(?P<op>>=|<=|==|>|<)\s*"
    r"(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)
_LATENCY_STATS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")

#: check kind -> what its value looks like (shown in errors)
CHECK_KINDS: dict[str, str] = {
    "metric": "'METRIC OP NUMBER', e.g. 'f1_macro >= 0.90'",
    "no_regression": "{metric: NAME, tolerance: NUMBER[, dataset: PATH_OR_REF, target: COLUMN, "
    "direction: higher|lower]}",
    "fairness": "'METRIC OP NUMBER', e.g. 'demographic_parity_difference <= 0.10'",
    "latency": "'STAT OP MILLISECONDS' with STAT one of p50_ms, p90_ms, p95_ms, p99_ms, mean_ms, "
    "max_ms, e.g. 'p99_ms <= 50'",
    "required_artifacts": "a list such as [model_card, shap, onnx, plots/roc.png]",
    "training_data_valid": "true",
    "onnx_parity": "'max_abs_diff <= NUMBER', e.g. 'max_abs_diff <= 1e-4'",
    "monitor_healthy": "{monitor: NAME}: no alert of that monitor is firing",
}


class PolicyError(InvalidArgumentError):
    """A promotion policy file is malformed (the message names the file and line)."""

    code = "INVALID_POLICY"
    http_status = 400


@dataclass(frozen=True, slots=True)
class Bound:
    """``name op value``, e.g. ``f1_macro >= 0.9``."""

    name: str
    op: str
    value: float

    def holds(self, measured: float) -> bool:
        """Whether ``measured`` satisfies the bound."""
        return {
            ">=": measured >= self.value,
            "<=": measured <= self.value,
            ">": measured > self.value,
            "<": measured < self.value,
            "==": measured == self.value,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.value:g}"


@dataclass(frozen=True, slots=True)
class Check:
    """One check of a policy: its kind, its parsed arguments and the line it came from."""

    kind: str
    bound: Bound | None = None
    options: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    def describe(self) -> str:
        """A short label, e.g. ``metric f1_macro >= 0.9``."""
        if self.bound is not None:
            return f"{self.kind}: {self.bound}"
        if self.kind == "required_artifacts":
            return f"required_artifacts: {', '.join(self.options['artifacts'])}"
        if self.kind == "monitor_healthy":
            return f"monitor_healthy: {self.options['monitor']}"
        if self.kind == "no_regression":
            return (
                f"no_regression: {self.options['metric']} (tolerance {self.options['tolerance']:g})"
            )
        return self.kind


@dataclass(frozen=True, slots=True)
class Policy:
    """A named list of checks; ``source`` is the file it came from."""

    checks: tuple[Check, ...]
    name: str = "policy"
    source: str = "<policy>"

    def to_dict(self) -> dict[str, Any]:
        """Plain data, stored with every gate result."""
        return {
            "name": self.name,
            "source": self.source,
            "checks": [c.describe() for c in self.checks],
        }


def _fail(source: str, node: Any, message: str) -> PolicyError:
    line = node.start_mark.line + 1 if node is not None else 1
    return PolicyError(f"{source} line {line}: {message}")


def _value(node: Any) -> Any:
    import yaml

    return yaml.SafeLoader("").construct_object(node, deep=True)


def _bound(source: str, kind: str, node: Any, names: tuple[str, ...] | None = None) -> Bound:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        raise _fail(source, node, f"{kind} needs {CHECK_KINDS[kind]}")
    text = str(node.value)
    match = _EXPR.match(text)
    if not match:
        raise _fail(
            source, node, f"bound {text!r} of {kind} is malformed; expected {CHECK_KINDS[kind]}"
        )
    if names is not None and match["name"] not in names:
        raise _fail(
            source,
            node,
            f"{kind} measures {', '.join(names)}, not {match['name']!r}; "
            f"expected {CHECK_KINDS[kind]}",
        )
    return Bound(match["name"], match["op"], float(match["num"]))


def _number(source: str, node: Any, what: str) -> float:
    value = _value(node)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, node, f"{what} must be a number, got {value!r}")
    return float(value)


def _check(source: str, kind_node: Any, node: Any) -> Check:
    import yaml

    kind = str(kind_node.value)
    line = kind_node.start_mark.line + 1
    if kind not in CHECK_KINDS:
        import difflib

        near = difflib.get_close_matches(kind, list(CHECK_KINDS), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise _fail(
            source, kind_node, f"unknown check {kind!r}; {hint}checks are: {', '.join(CHECK_KINDS)}"
        )
    if kind in ("metric", "fairness"):
        return Check(kind, _bound(source, kind, node), line=line)
    if kind == "latency":
        return Check(kind, _bound(source, kind, node, _LATENCY_STATS), line=line)
    if kind == "onnx_parity":
        return Check(kind, _bound(source, kind, node, ("max_abs_diff",)), line=line)
    if kind == "training_data_valid":
        if _value(node) is not True:
            raise _fail(
                source, node, "training_data_valid takes true (remove the check to skip it)"
            )
        return Check(kind, line=line)
    if kind == "required_artifacts":
        items = _value(node)
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            raise _fail(source, node, f"required_artifacts needs {CHECK_KINDS[kind]}")
        return Check(kind, options={"artifacts": items}, line=line)
    if kind == "monitor_healthy":
        return _monitor_check(source, node, line)
    # no_regression
    if not isinstance(node, yaml.MappingNode):
        raise _fail(source, node, f"no_regression needs {CHECK_KINDS[kind]}")
    options: dict[str, Any] = {"tolerance": 0.0}
    allowed = ("metric", "tolerance", "dataset", "target", "direction")
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key not in allowed:
            raise _fail(
                source,
                key_node,
                f"no_regression has no option {key!r}; options are: {', '.join(allowed)}",
            )
        if key == "tolerance":
            options[key] = _number(source, value_node, "tolerance")
            if options[key] < 0:
                raise _fail(source, value_node, "tolerance must be >= 0")
        elif key == "direction":
            options[key] = str(_value(value_node))
            if options[key] not in ("higher", "lower"):
                raise _fail(source, value_node, "direction must be 'higher' or 'lower'")
        else:
            options[key] = str(_value(value_node))
    if "metric" not in options:
        raise _fail(
            source, node, "no_regression needs a metric, e.g. {metric: f1_macro, tolerance: 0.01}"
        )
    if ("dataset" in options) != ("target" in options):
        raise _fail(source, node, "no_regression needs both dataset and target, or neither")
    return Check(kind, options=options, line=line)


def _monitor_check(source: str, node: Any, line: int) -> Check:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise _fail(source, node, f"monitor_healthy needs {CHECK_KINDS['monitor_healthy']}")
    options: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key != "monitor":
            raise _fail(
                source, key_node, f"monitor_healthy has no option {key!r}; its option is: monitor"
            )
        value = _value(value_node)
        if not isinstance(value, str) or not value:
            raise _fail(source, value_node, "monitor_healthy: monitor must be a monitor's name")
        options["monitor"] = value
    if "monitor" not in options:
        raise _fail(source, node, "monitor_healthy needs a monitor, e.g. {monitor: iris-watch}")
    return Check("monitor_healthy", options=options, line=line)


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse a policy from YAML text.

    Raises:
        PolicyError: unknown checks or keys, malformed bounds (with the line number).

    Example::

        >>> parse_policy("checks:\\n  - metric: f1_macro >= 0.9\\n").checks[0].bound
        Bound(name='f1_macro', op='>=', value=0.9)
    """
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise PolicyError(
            f"{source}{line}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if root is None:
        raise PolicyError(f"{source}: the policy is empty; it needs a 'checks:' list")
    if not isinstance(root, yaml.MappingNode):
        raise _fail(source, root, "a policy is a mapping with a 'checks:' list")
    name = Path(source).stem if source != "<policy>" else "policy"
    checks: list[Check] = []
    seen_checks = False
    for key_node, value_node in root.value:
        key = str(key_node.value)
        if key == "name":
            name = str(_value(value_node))
        elif key == "description":
            continue
        elif key == "checks":
            seen_checks = True
            if not isinstance(value_node, yaml.SequenceNode):
                raise _fail(source, value_node, "'checks' must be a list of checks")
            for item in value_node.value:
                if not isinstance(item, yaml.MappingNode) or len(item.value) != 1:
                    raise _fail(
                        source,
                        item,
                        "each check is one 'KIND: VALUE' entry, e.g. '- metric: f1_macro >= 0.90'",
                    )
                checks.append(_check(source, *item.value[0]))
        else:
            raise _fail(
                source, key_node, f"unknown policy key {key!r}; keys are: name, description, checks"
            )
    if not seen_checks:
        raise _fail(source, root, "the policy has no 'checks:' list")
    return Policy(tuple(checks), name=name, source=source)


def load_policy(path: str | Path) -> Policy:
    """Read and parse a policy file.

    Raises:
        NotFoundError: the file does not exist.
        PolicyError: the file is malformed (with the line number).
    """
    from keel.errors import NotFoundError

    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"policy file {str(file)!r} does not exist")
    return parse_policy(file.read_text(encoding="utf-8"), source=str(path))
