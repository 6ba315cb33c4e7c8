"""Building the serving app: from specs, YAML files, stored endpoint names and model
references (``create_app``), and in each worker of ``keel serve --workers N``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keel.serving._app import ServingApp
from keel.serving._models import ServedModel
from keel.serving._spec import EndpointSpec, endpoint_from_ref, load_endpoint_specs

if TYPE_CHECKING:
    from keel.context import Context

__all__ = [
    "SPECS_VARIABLE",
    "app_from_environment",
    "create_app",
    "endpoint_sources",
    "is_stored_name",
]

#: the variable ``keel serve --workers N`` passes the endpoint specs to each worker in
SPECS_VARIABLE = "KEEL_SERVE_SPECS"


def is_stored_name(item: object) -> bool:
    """Whether ``item`` names a stored endpoint: a bare name, not a model reference
    (``iris@champion``, ``iris/3``) nor a YAML file."""
    return (
        isinstance(item, str)
        and not item.endswith((".yaml", ".yml"))
        and "@" not in item
        and "/" not in item
    )


def endpoint_sources(source: Any) -> list[EndpointSpec | str]:
    """The specs (and stored endpoint names) ``create_app`` and ``keel serve`` were given,
    checked: a spec, a mapping or YAML file, a stored name, or a model reference."""
    from pathlib import Path

    from keel.store._endpoints import check_endpoint_name

    items = source if isinstance(source, list | tuple) else [source]
    specs: list[EndpointSpec | str] = []
    for item in items:
        if isinstance(item, EndpointSpec):
            specs.append(item)
        elif isinstance(item, dict | Path) or (
            isinstance(item, str) and item.endswith((".yaml", ".yml"))
        ):
            specs.extend(load_endpoint_specs(item))
        elif is_stored_name(item):
            specs.append(check_endpoint_name(item))
        elif isinstance(item, str):
            specs.append(endpoint_from_ref(item))
        else:
            from keel.errors import InvalidArgumentError

            raise InvalidArgumentError(
                f"cannot serve {type(item).__name__}; pass an EndpointSpec, a stored endpoint's "
                "name (iris), a model reference (iris@champion) or an endpoint YAML file"
            )
    names = [s if isinstance(s, str) else s.name for s in specs]
    if len(set(names)) != len(names):
        from keel.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"endpoint names repeat: {', '.join(names)}; name each endpoint once"
        )
    return specs


def create_app(
    endpoints: Any,
    *,
    context: Context | None = None,
    runtime: str = "auto",
    prediction_log: bool = True,
    log_folder: str | None = None,
    watch: bool = True,
    model_loader: Callable[..., ServedModel] | None = None,
) -> ServingApp:
    """The ASGI app serving one or more endpoints (run it with uvicorn, or embed it).

    Args:
        endpoints: an :class:`EndpointSpec`, the name of a stored endpoint (``iris``:
            its spec is read from the store at start-up and its later revisions are
            followed), a model reference (``iris@champion``: an implicit endpoint
            ``iris``), the path of an endpoint YAML file, a dict, or a list of these.
        context: the store, artifact root and project to serve from
            (:func:`keel.context.current_context` by default).
        runtime: ``auto`` (ONNX Runtime when the version has a parity-checked ONNX
            file), ``onnx`` or ``native``.
        prediction_log: write the prediction log (Parquet under the artifact root).
        log_folder: where the logs go instead of ``<artifact root>/serving``.
        watch: follow aliases when they move, and stored endpoints when they change
            (each endpoint's ``poll_interval_s``).
        model_loader: builds a :class:`ServedModel` from a reference (tests, embedding).

    Raises:
        InvalidArgumentError: a spec is invalid (names the key).

    Example::

        >>> app = keel.serving.create_app("iris@champion")
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    if runtime not in ("auto", "onnx", "native"):
        from keel.errors import InvalidArgumentError

        raise InvalidArgumentError(f"runtime {runtime!r} is unknown; use auto, onnx or native")
    return ServingApp(
        endpoint_sources(endpoints),
        context=context,
        runtime=runtime,
        prediction_log=prediction_log,
        log_folder=log_folder,
        watch=watch,
        model_loader=model_loader,
    )


def app_from_environment() -> ServingApp:
    """The app of one ``keel serve --workers N`` worker (the specs are in
    :data:`SPECS_VARIABLE`; each worker loads its own models and shares nothing)."""
    import json
    import os

    config = json.loads(os.environ[SPECS_VARIABLE])
    specs: list[EndpointSpec | str] = [EndpointSpec.model_validate(s) for s in config["specs"]]
    specs += config.get("stored", [])
    return create_app(
        specs,
        runtime=config.get("runtime", "auto"),
        prediction_log=config.get("prediction_log", True),
    )
