"""``@keel.step``: a plain function made into a pipeline step.

A step is still callable as the function it wraps, so it stays testable on its own.
What makes it a step is what keel reads from it: its name, which parameters are the
outputs of other steps (data dependencies), which are typed params, how many times to
retry it, and a hash of its normalised source code for the cache.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
import textwrap
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, overload

from keel.errors import InvalidArgumentError

__all__ = ["ParamSpec", "SourceFile", "Step", "step"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,127}$")


class _SourceFileMarker:
    """Marks a param as an input file: its content is hashed and recorded as lineage."""

    def __repr__(self) -> str:
        return "SourceFile"


_SOURCE_FILE = _SourceFileMarker()

#: A param that names an input file. Its *content* (sha256) goes into the step's cache
#: key, so editing the file re-runs the step, and a ``source -> step_run`` lineage edge
#: is written. The function receives a :class:`pathlib.Path`.
SourceFile = Annotated[Path, _SOURCE_FILE]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A typed param of a step (a parameter that is not another step's output).

    Attributes:
        step: the step's name.
        name: the parameter's name.
        annotation: the type values are validated against.
        default: the default value (``inspect.Parameter.empty`` when required).
        is_source_file: whether it is a :data:`SourceFile`.
    """

    step: str
    name: str
    annotation: Any
    default: Any
    is_source_file: bool = False

    @property
    def required(self) -> bool:
        """Whether a value must be given at run time."""
        return self.default is inspect.Parameter.empty

    @property
    def type_name(self) -> str:
        """The annotation as short text (for messages and ``--help``)."""
        if self.is_source_file:
            return "SourceFile"
        ann = self.annotation
        if ann is Any:
            return "any"
        return ann.__name__ if isinstance(ann, type) else str(ann).replace("typing.", "")


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:] or [ast.Pass()]
    return body


def _code_fingerprint(code: Any) -> str:
    parts = [code.co_code.hex()]
    for const in code.co_consts:
        parts.append(_code_fingerprint(const) if inspect.iscode(const) else repr(const))
    parts.append(repr(code.co_names))
    return "|".join(parts)


def code_hash(fn: Callable[..., Any]) -> str:
    """sha256 of a function's normalised source.

    The source is parsed and dumped as an AST without decorators and docstring, so
    comments, blank lines, formatting and docstrings do not change the hash; any change
    to what the code does does. Where the source is not available (e.g. code typed
    into a REPL) the compiled bytecode is hashed instead.

    Example::

        >>> def f(x):
        ...     return x + 1  # a comment does not change the hash
        >>> len(code_hash(f))
        64
    """
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        text = "bytecode:" + _code_fingerprint(fn.__code__)
    else:
        # getsource returns the block starting at the function's own "def" (decorators
        # included), so the first statement is the function.
        first = tree.body[0] if tree.body else None
        node = first if isinstance(first, ast.FunctionDef | ast.AsyncFunctionDef) else None
        if node is None:  # a lambda or an alias: hash the whole snippet
            text = "source:" + ast.dump(tree)
        else:
            node.decorator_list = []
            node.name = ""  # renaming is not a change of code (the step name is keyed apart)
            node.body = _strip_docstring(node.body)
            text = "source:" + ast.dump(node, include_attributes=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _is_source_file(annotation: Any) -> bool:
    if typing.get_origin(annotation) is Annotated:
        return any(m is _SOURCE_FILE for m in typing.get_args(annotation)[1:])
    return False


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:
        # Annotations that cannot be resolved here (TYPE_CHECKING imports) are left raw.
        return dict(getattr(fn, "__annotations__", {}))


class Step:
    """A function that is a step of a :class:`~keel.Pipeline`; make one with :func:`step`.

    Calling a step calls its function, unchanged.

    Attributes:
        fn: the wrapped function.
        name: the step's name (the function's name unless given).
        inputs: explicit wiring, parameter name -> ``"step"`` or ``"step.output"``.
        outputs: names of its outputs when it returns several (a tuple or dict).
        retries: how many times a failing call is retried.
        retry_delay: seconds between attempts.
        cache: whether its outputs may be reused from an earlier identical step run.
        version: a free-form string in the cache key (bump it to force a re-run when
            code the step calls, but that is not in its own body, changed).
        allow_pickle: whether outputs that keel cannot store safely may be pickled.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        inputs: Mapping[str, str] | None = None,
        outputs: Sequence[str] | None = None,
        retries: int = 0,
        retry_delay: float = 0.0,
        cache: bool = True,
        version: str = "",
        allow_pickle: bool = False,
    ) -> None:
        if isinstance(fn, Step):
            fn = fn.function
        if not callable(fn) or not inspect.isfunction(fn):
            raise InvalidArgumentError(
                f"@keel.step decorates plain functions; got {fn!r} ({type(fn).__name__})"
            )
        step_name = name if name is not None else fn.__name__
        if not isinstance(step_name, str) or not _NAME.match(step_name):
            raise InvalidArgumentError(
                f"step name {step_name!r} is invalid: use letters, digits, '_' and '-', "
                "starting with a letter or '_' (at most 128 characters)"
            )
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
            raise InvalidArgumentError(
                f"step {step_name!r}: retries must be an integer in 0-100; got {retries!r}"
            )
        if not isinstance(retry_delay, int | float) or not 0 <= retry_delay <= 3600:
            raise InvalidArgumentError(
                f"step {step_name!r}: retry_delay must be 0-3600 seconds; got {retry_delay!r}"
            )
        out_names: tuple[str, ...] = ()
        if outputs is not None:
            if isinstance(outputs, str):
                outputs = (outputs,)
            out_names = tuple(outputs)
            bad = [o for o in out_names if not isinstance(o, str) or not _NAME.match(o)]
            if not out_names or bad or len(set(out_names)) != len(out_names):
                raise InvalidArgumentError(
                    f"step {step_name!r}: outputs must be distinct names (letters, digits, "
                    f"'_', '-'); got {outputs!r}"
                )
        signature = inspect.signature(fn)
        for p in signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
                raise InvalidArgumentError(
                    f"step {step_name!r}: parameter {p.name!r} is {p.kind.description}; steps "
                    "take named parameters only (each is another step's output or a param)"
                )
        wiring = dict(inputs or {})
        for param, target in wiring.items():
            if param not in signature.parameters:
                raise InvalidArgumentError(
                    f"step {step_name!r}: inputs names parameter {param!r}, which the function "
                    f"does not have; its parameters are: {', '.join(signature.parameters)}"
                )
            if not isinstance(target, str) or not target:
                raise InvalidArgumentError(
                    f"step {step_name!r}: inputs[{param!r}] must be 'step' or 'step.output'; "
                    f"got {target!r}"
                )
        self.fn: Callable[..., Any] = fn
        self.name = step_name
        self.inputs: dict[str, str] = wiring
        self.outputs = out_names
        self.retries = retries
        self.retry_delay = float(retry_delay)
        self.cache = bool(cache)
        self.version = str(version)
        self.allow_pickle = bool(allow_pickle)
        self.signature = signature
        self._code_hash: str | None = None
        functools.update_wrapper(self, fn)

    @property
    def function(self) -> Callable[..., Any]:
        """The wrapped function (the same as :attr:`fn`)."""
        return self.fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<keel step {self.name!r} ({self.fn.__module__}.{self.fn.__qualname__})>"

    # Steps travel to worker processes by reference (module + name), never by value.
    def __reduce__(self) -> tuple[Any, ...]:
        module = sys.modules.get(self.fn.__module__)
        file = getattr(module, "__file__", None)
        return (_import_step, (self.fn.__module__, self.fn.__qualname__, file, self.name))

    @property
    def code_hash(self) -> str:
        """sha256 of the function's normalised source (see :func:`code_hash`)."""
        if self._code_hash is None:
            self._code_hash = code_hash(self.fn)
        return self._code_hash

    @property
    def importable(self) -> bool:
        """Whether a worker process can import the step (defined at module level)."""
        return "<locals>" not in self.fn.__qualname__ and "<lambda>" not in self.fn.__qualname__

    def type_hints(self) -> dict[str, Any]:
        """The function's resolved annotations (raw where they cannot be resolved)."""
        return _hints(self.fn)

    def param_specs(self, dependencies: Sequence[str]) -> list[ParamSpec]:
        """Specs of the parameters that are not data dependencies."""
        hints = self.type_hints()
        specs = []
        for p in self.signature.parameters.values():
            if p.name in dependencies:
                continue
            annotation = hints.get(p.name, p.annotation)
            if annotation is inspect.Parameter.empty or isinstance(annotation, str):
                if p.default is inspect.Parameter.empty or p.default is None:
                    annotation = Any
                else:
                    annotation = type(p.default)
            specs.append(
                ParamSpec(self.name, p.name, annotation, p.default, _is_source_file(annotation))
            )
        return specs


def _import_step(module: str, qualname: str, file: str | None, name: str) -> Step:
    """Find a step again in a worker process, by module and qualified name."""
    try:
        mod = sys.modules.get(module) or importlib.import_module(module)
    except ImportError:
        if file is None:
            raise
        spec = importlib.util.spec_from_file_location(module, file)
        if spec is None or spec.loader is None:
            raise
        mod = importlib.util.module_from_spec(spec)
        sys.modules[module] = mod
        spec.loader.exec_module(mod)
    obj: Any = mod
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, Step):
        return obj
    for value in vars(mod).values():  # a step renamed with name=...
        if isinstance(value, Step) and value.fn is obj:
            return value
    return Step(obj, name=name)


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(
    *,
    name: str | None = None,
    inputs: Mapping[str, str] | None = None,
    outputs: Sequence[str] | None = None,
    retries: int = 0,
    retry_delay: float = 0.0,
    cache: bool = True,
    version: str = "",
    allow_pickle: bool = False,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    inputs: Mapping[str, str] | None = None,
    outputs: Sequence[str] | None = None,
    retries: int = 0,
    retry_delay: float = 0.0,
    cache: bool = True,
    version: str = "",
    allow_pickle: bool = False,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Make a function a pipeline step.

    A parameter named after another step of the pipeline receives that step's output
    (a data dependency); ``inputs`` wires parameters explicitly instead. Every other
    parameter is a typed param, validated against its annotation when the pipeline runs.

    Args:
        fn: the function (when used as ``@keel.step`` without parentheses).
        name: the step's name; defaults to the function's name.
        inputs: parameter name -> ``"step"`` or ``"step.output"``.
        outputs: names of several outputs; the function then returns a tuple of that
            length or a dict with those keys.
        retries: times to retry a failing call (``retries=2``: up to 3 attempts).
        retry_delay: seconds to wait between attempts.
        cache: set ``False`` for steps that read something keel cannot hash (a web API,
            a database), so they always run.
        version: a string in the cache key; bump it to force a re-run.
        allow_pickle: allow outputs that are not tables, arrays or JSON to be pickled.

    Returns:
        A :class:`Step` (or a decorator making one).

    Example::

        >>> @keel.step
        ... def raw(path: keel.pipelines.SourceFile = "data.csv") -> pd.DataFrame:
        ...     return pd.read_csv(path)
        >>> @keel.step(retries=2)
        ... def clean(raw: pd.DataFrame, min_alcohol: float = 0.0) -> pd.DataFrame:
        ...     return raw[raw.alcohol >= min_alcohol].dropna()
    """
    options: dict[str, Any] = {
        "name": name,
        "inputs": inputs,
        "outputs": outputs,
        "retries": retries,
        "retry_delay": retry_delay,
        "cache": cache,
        "version": version,
        "allow_pickle": allow_pickle,
    }
    if fn is not None:
        return Step(fn, **options)

    def decorate(f: Callable[..., Any]) -> Step:
        return Step(f, **options)

    return decorate
