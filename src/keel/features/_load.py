"""Reading declarations from YAML and Python files, with errors that name the line.

A YAML file holds up to three lists::

    entities:
      - name: customer
        join_keys: {customer_id: int64}
    feature_views:
      - name: spend
        entities: [customer]
        ...
    feature_services:
      - name: churn
        features: [spend:spend_7d]

A Python file declares them as module-level objects (``Entity(...)``, ``FeatureView``,
``FeatureService``, or lists of them); it is run as a script, so it may compute them. A
folder is every ``*.yaml``, ``*.yml`` and ``*.py`` file under it (hidden folders and
files starting with ``_`` or ``.`` are skipped), in name order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from keel.features._declarations import (
    DECLARATIONS,
    Declaration,
    Entity,
    FeatureService,
    FeatureView,
)
from keel.features._errors import FeatureDefinitionError

__all__ = ["Declarations", "load_declarations"]

#: YAML section -> the kind of what it lists
SECTIONS: dict[str, str] = {
    "entities": "entity",
    "feature_views": "feature_view",
    "feature_services": "feature_service",
}


@dataclass
class Declarations:
    """A set of declarations and where each came from (``file line N``)."""

    entities: list[Entity] = field(default_factory=list)
    views: list[FeatureView] = field(default_factory=list)
    services: list[FeatureService] = field(default_factory=list)
    origin: dict[tuple[str, str], str] = field(default_factory=dict)

    def all(self) -> list[Declaration]:
        """Every declaration, entities first, then views, then services."""
        return [*self.entities, *self.views, *self.services]

    def add(self, item: Declaration, where: str) -> None:
        """Add one declaration; the same kind and name twice is an error naming both places."""
        key = (item.kind, item.name)
        if key in self.origin:
            raise FeatureDefinitionError(
                f"{where}: {item.kind.replace('_', ' ')} {item.name!r} is declared twice (first "
                f"at {self.origin[key]}); give each a name of its own"
            )
        self.origin[key] = where
        if isinstance(item, Entity):
            self.entities.append(item)
        elif isinstance(item, FeatureView):
            self.views.append(item)
        elif isinstance(item, FeatureService):
            self.services.append(item)

    @classmethod
    def of(cls, items: Iterable[Declaration], where: str = "<python>") -> Declarations:
        """Declarations made in Python."""
        out = cls()
        for item in items:
            if not isinstance(item, Declaration):
                raise FeatureDefinitionError(
                    f"{where}: {type(item).__name__} is not a declaration; give Entity, "
                    "FeatureView or FeatureService objects"
                )
            out.add(item, where)
        return out


def load_declarations(path: str | os.PathLike[str] | Sequence[Declaration]) -> Declarations:
    """The declarations in a YAML or Python file, or every such file under a folder.

    Args:
        path: a ``.yaml``/``.yml``/``.py`` file or a folder; or a list of declaration
            objects (returned as they are, checked for repeated names).

    Raises:
        FeatureDefinitionError: a file does not parse, a declaration is malformed (the
            message names the file, the line and the key), or a name repeats.

    Example::

        >>> found = load_declarations("features/")
        >>> [v.name for v in found.views]
        ['spend', 'profile']
    """
    if not isinstance(path, (str, os.PathLike)):
        return Declarations.of(path)
    root = Path(path)
    if not root.exists():
        raise FeatureDefinitionError(
            f"{root} does not exist; give a .yaml or .py file of declarations, or a folder of them"
        )
    files = sorted(_files(root)) if root.is_dir() else [root]
    if root.is_dir() and not files:
        raise FeatureDefinitionError(f"{root} holds no .yaml, .yml or .py files of declarations")
    out = Declarations()
    for file in files:
        if file.suffix in (".yaml", ".yml"):
            _load_yaml(file, out)
        elif file.suffix == ".py":
            _load_python(file, out)
        else:
            raise FeatureDefinitionError(
                f"{file}: declarations are read from .yaml, .yml or .py files, not {file.suffix!r}"
            )
    return out


def _files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in filenames:
            if name.startswith((".", "_")):
                continue
            if name.endswith((".yaml", ".yml", ".py")):
                yield Path(dirpath) / name


# -- YAML ------------------------------------------------------------------------------


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1


def _value(node: Any) -> Any:
    import yaml

    return yaml.SafeLoader("").construct_object(node, deep=True)


def _node_at(node: Any, loc: Sequence[Any]) -> Any:
    """The YAML node at a pydantic error location (as deep as the location matches)."""
    import yaml

    found = node
    for part in loc:
        if isinstance(found, yaml.MappingNode):
            nxt = None
            for key_node, value_node in found.value:
                if str(key_node.value) == str(part):
                    nxt = value_node
                    break
            if nxt is None:
                # an unknown key: point at the key itself
                return found
            found = nxt
        elif isinstance(found, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(found.value):
                return found
            found = found.value[part]
        else:
            return found
    return found


def _key_line(node: Any, key: str) -> int | None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if str(key_node.value) == key:
                return _line(key_node)
    return None


def describe_validation(exc: ValidationError) -> tuple[tuple[Any, ...], str]:
    """The first error's location and a one-line message for it."""
    first = exc.errors()[0]
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    message = str(first["msg"]).removeprefix("Value error, ")
    kind = first["type"]
    if kind == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    elif kind == "missing":
        message = f"{loc[-1]!r} is required"
    elif kind == "literal_error":
        message = f"{first.get('input')!r} is not allowed; {message.lower()}"
    return loc, message


def _declaration(file: Path, kind: str, node: Any, out: Declarations) -> None:
    import yaml

    cls = DECLARATIONS[kind]
    label = kind.replace("_", " ")
    if not isinstance(node, yaml.MappingNode):
        raise FeatureDefinitionError(
            f"{file} line {_line(node)}: each {label} is a mapping with a name and its keys"
        )
    data = _value(node)
    try:
        item = cls.model_validate(data)
    except ValidationError as exc:
        loc, message = describe_validation(exc)
        target = _node_at(node, loc)
        line = _key_line(target, str(loc[-1])) if loc else None
        name = data.get("name") if isinstance(data, dict) else None
        what = f"{label} {name!r}" if isinstance(name, str) else label
        where = ".".join(str(p) for p in loc)
        raise FeatureDefinitionError(
            f"{file} line {line or _line(target)}: {what}"
            + (f", {where}" if where else "")
            + f": {message}"
        ) from None
    out.add(item, f"{file} line {_line(node)}")


def _load_yaml(file: Path, out: Declarations) -> None:
    import yaml

    from keel._yaml import describe_yaml_error

    try:
        root = yaml.compose(file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise FeatureDefinitionError(
            f"{file}: not valid YAML ({describe_yaml_error(exc)})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FeatureDefinitionError(f"{file} cannot be read: {exc}") from None
    if root is None:
        return
    if not isinstance(root, yaml.MappingNode):
        raise FeatureDefinitionError(
            f"{file} line {_line(root)}: a declarations file is a mapping with "
            f"{', '.join(SECTIONS)}"
        )
    for key_node, value_node in root.value:
        section = str(key_node.value)
        if section not in SECTIONS:
            import difflib

            near = difflib.get_close_matches(section, list(SECTIONS), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise FeatureDefinitionError(
                f"{file} line {_line(key_node)}: unknown section {section!r}; {hint}sections "
                f"are: {', '.join(SECTIONS)}"
            )
        if not isinstance(value_node, yaml.SequenceNode):
            raise FeatureDefinitionError(
                f"{file} line {_line(value_node)}: {section} must be a list (- name: ...)"
            )
        for item in value_node.value:
            _declaration(file, SECTIONS[section], item, out)


# -- Python ----------------------------------------------------------------------------


def _load_python(file: Path, out: Declarations) -> None:
    import runpy
    import traceback

    try:
        namespace = runpy.run_path(str(file), run_name=f"keel_features_{file.stem}")
    except ValidationError as exc:
        line = _python_line(exc, file)
        loc, message = describe_validation(exc)
        where = ".".join(str(p) for p in loc)
        raise FeatureDefinitionError(
            f"{file} line {line}: {exc.title}" + (f", {where}" if where else "") + f": {message}"
        ) from None
    except FeatureDefinitionError:
        raise
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(file)]
        at = f" line {frames[-1].lineno}" if frames else ""
        raise FeatureDefinitionError(
            f"{file}{at}: running it failed: {type(exc).__name__}: {exc}"
        ) from None
    for value in namespace.values():
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, Declaration):
                out.add(item, f"{file} ({item.kind.replace('_', ' ')} {item.name!r})")


def _python_line(exc: BaseException, file: Path) -> int:
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(file)]
    return frames[-1].lineno or 0 if frames else 0
