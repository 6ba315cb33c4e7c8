"""Finding a pipeline by ``MODULE:NAME``, and reading a run's outputs back."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.errors import InvalidArgumentError, KeelError, NotFoundError
from keel.pipelines._pipeline import Pipeline

if TYPE_CHECKING:
    from keel.context import Context
    from keel.store import PipelineRun

__all__ = ["load_output", "load_pipeline"]


def _import_file(path: Path) -> Any:
    path = path.resolve()
    # The module is imported under its file's stem with its folder on sys.path, so that
    # worker processes (which inherit sys.path) import it, and its steps, the same way.
    folder, stem = str(path.parent), path.stem
    if not stem.isidentifier():
        raise InvalidArgumentError(
            f"pipeline file {str(path)!r}: {stem!r} is not a valid module name; rename the file "
            "(letters, digits and '_')"
        )
    existing = sys.modules.get(stem)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path:
        return existing
    if existing is not None:
        raise InvalidArgumentError(
            f"pipeline file {str(path)!r} has the module name {stem!r}, which is already taken by "
            f"{getattr(existing, '__file__', existing)!r}; rename the file"
        )
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(stem)


def _import_failed(module_part: str, exc: BaseException) -> InvalidArgumentError:
    detail = str(exc)
    if len(detail) > 300:
        detail = detail[:300] + "..."
    return InvalidArgumentError(
        f"importing pipeline module {module_part!r} failed: {type(exc).__name__}: {detail}; "
        "fix the module (keel --debug ... shows the traceback)"
    )


def load_pipeline(target: str) -> Pipeline:
    """The pipeline named by ``MODULE:NAME``.

    ``MODULE`` is a dotted module name (``myproject.etl``) or a path to a ``.py`` file
    (``examples/02-etl-pipeline/pipeline.py``); ``NAME`` is a :class:`Pipeline` object
    in it (``:pipeline`` may be left out when the module holds exactly one).

    Raises:
        InvalidArgumentError: the target is malformed or the module cannot be imported.
        NotFoundError: the module has no such pipeline.

    Example::

        >>> load_pipeline("examples/02-etl-pipeline/pipeline.py:pipeline").name
        'wine-etl'
    """
    module_part, _, attr = target.partition(":")
    if not module_part:
        raise InvalidArgumentError(
            f"pipeline {target!r} is not MODULE:PIPELINE; write e.g. my_pipelines:etl or "
            "path/to/pipeline.py:pipeline"
        )
    is_file = module_part.endswith(".py") or "/" in module_part or "\\" in module_part
    try:
        if is_file:
            path = Path(module_part)
            if path.is_dir():
                raise InvalidArgumentError(
                    f"pipeline file {module_part!r} is a folder; give the .py file that defines "
                    "the pipeline, e.g. path/to/pipeline.py:pipeline"
                )
            if not path.is_file():
                raise InvalidArgumentError(
                    f"pipeline file {module_part!r} does not exist (looked in {Path.cwd()})"
                )
            module = _import_file(path)
        else:
            if str(Path.cwd()) not in sys.path and "" not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(module_part)
    except ModuleNotFoundError as exc:
        if not is_file and exc.name is not None and module_part.startswith(exc.name):
            raise InvalidArgumentError(
                f"cannot import {module_part!r}: {exc}; give a module importable from "
                f"{Path.cwd()} or a path to a .py file"
            ) from None
        raise _import_failed(module_part, exc) from exc
    except KeelError:
        raise
    except SyntaxError as exc:
        where = f"{exc.filename}, line {exc.lineno}" if exc.filename else module_part
        raise InvalidArgumentError(
            f"pipeline module {module_part!r} has a syntax error ({where}): {exc.msg}; fix it "
            "and run again"
        ) from None
    except Exception as exc:
        raise _import_failed(module_part, exc) from exc
    pipelines = {k: v for k, v in vars(module).items() if isinstance(v, Pipeline)}
    if not attr:
        if len(pipelines) == 1:
            return next(iter(pipelines.values()))
        names = ", ".join(sorted(pipelines)) or "none"
        raise NotFoundError(
            f"{module_part!r} holds {len(pipelines)} pipelines ({names}); name one as "
            f"{module_part}:NAME"
        )
    value = getattr(module, attr, None)
    if not isinstance(value, Pipeline):
        names = ", ".join(sorted(pipelines)) or "none"
        what = "no attribute" if value is None else f"{type(value).__name__} (not a Pipeline) as"
        raise NotFoundError(f"{module_part!r} has {what} {attr!r}; its pipelines are: {names}")
    return value


def load_output(
    run: PipelineRun, output: str, *, as_: Any = None, context: Context | None = None
) -> Any:
    """Read one output of a pipeline run back.

    Args:
        run: a finished pipeline run (``pipeline.run(...)`` or
            ``store.pipelines.get_pipeline_run(id)``).
        output: ``"step"`` or ``"step.output"`` for a step with named outputs.
        as_: for tables, the type wanted (``pd.DataFrame``, ``pl.DataFrame``,
            ``pa.Table`` or ``DatasetVersion``); by default what the step returned.
        context: where to read (:func:`keel.context.current_context` by default).

    Raises:
        NotFoundError: the run has no such step or output, or the step did not succeed.

    Example::

        >>> train = keel.pipelines.load_output(run, "split.train")
    """
    from keel.context import current_context
    from keel.pipelines._values import load_value

    step_name, _, out_name = output.partition(".")
    step_run = run.step(step_name)
    if not step_run.status.succeeded:
        raise NotFoundError(
            f"step {step_name!r} of run {run.id} has status {step_run.status} and no outputs"
        )
    if not out_name and len(step_run.outputs) > 1:
        names = ", ".join(f"{step_name}.{o.name}" for o in step_run.outputs)
        raise NotFoundError(f"step {step_name!r} has several outputs; name one of: {names}")
    if not out_name and not step_run.outputs:
        raise NotFoundError(f"step {step_name!r} of run {run.id} produced no outputs")
    out = step_run.output(out_name or step_run.outputs[0].name)
    return load_value(out, context or current_context(), as_)
