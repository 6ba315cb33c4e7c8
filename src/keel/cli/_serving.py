"""``keel serve`` (an HTTP server for endpoints) and ``keel predict`` (batch scoring)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["predict_command", "serve_command"]


def serve_command(
    target: Annotated[
        str,
        typer.Argument(
            help="A stored endpoint (iris: follows its revisions), a model reference "
            "(iris@champion, iris/3: an implicit endpoint) or an endpoint YAML file."
        ),
    ],
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=256, help="Worker processes (one per core).")
    ] = 1,
    runtime: Annotated[
        str, typer.Option("--runtime", help="auto (ONNX Runtime when possible), onnx or native.")
    ] = "auto",
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Do not write the prediction log.")
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level.")] = "info",
) -> None:
    """Serve models over HTTP: plain JSON, MLflow /invocations and the Open Inference Protocol.

    Examples: keel serve iris (a stored endpoint, see keel endpoints); keel serve
    iris@champion; keel serve endpoint.yaml --port 8080 --workers 2. Routes and the
    endpoint YAML are described in docs/guides/serving.md.
    """
    import json
    import os
    import tempfile

    from keel.errors import InvalidArgumentError, MissingExtraError

    try:
        import uvicorn
    except ImportError as exc:
        raise MissingExtraError.for_extra("uvicorn", "serving") from exc
    from keel.serving import create_app
    from keel.serving._factory import SPECS_VARIABLE, endpoint_sources

    if runtime not in ("auto", "onnx", "native"):
        raise InvalidArgumentError(f"--runtime {runtime!r} is unknown; use auto, onnx or native")
    specs = endpoint_sources(target)  # checked before the server starts
    stored = [s for s in specs if isinstance(s, str)]
    if stored:
        from keel.serving._endpoints import endpoint_spec

        for name in stored:
            endpoint_spec(name)  # exists, and its spec is valid: fail here, not in a worker
    options = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,  # the prediction log and /metrics record requests
        "timeout_graceful_shutdown": 30,
    }
    if workers == 1:
        app = create_app(specs, runtime=runtime, prediction_log=not no_log)
        _monitor_gauges(app)
        uvicorn.run(app, **options)  # type: ignore[arg-type]
        return
    os.environ[SPECS_VARIABLE] = json.dumps(
        {
            "specs": [s.model_dump(mode="json") for s in specs if not isinstance(s, str)],
            "stored": stored,
            "runtime": runtime,
            "prediction_log": not no_log,
        }
    )
    with tempfile.TemporaryDirectory(prefix="keel-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run(
            "keel.serving._factory:app_from_environment",
            factory=True,
            workers=workers,
            **options,  # type: ignore[arg-type]
        )


def predict_command(
    model: Annotated[str, typer.Argument(help="The model: iris@champion or iris/3.")],
    input: Annotated[
        str, typer.Option("--input", "-i", help="A .csv or .parquet file, or a dataset (iris/2).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The Parquet file to write.")],
    key: Annotated[
        list[str] | None,
        typer.Option("--key", "-k", help="Input column to copy to the output (repeatable)."),
    ] = None,
    proba: Annotated[bool, typer.Option("--proba", help="Add class probabilities.")] = False,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows scored at a time.")
    ] = 65_536,
    register_as: Annotated[
        str | None,
        typer.Option("--register-as", help="Dataset name of the output (NAME-predictions)."),
    ] = None,
    no_register: Annotated[
        bool, typer.Option("--no-register", help="Do not register the output as a dataset.")
    ] = False,
    allow_missing: Annotated[
        bool, typer.Option("--allow-missing", help="Score rows with missing values.")
    ] = False,
) -> None:
    """Score a file or dataset with a registered model, in bounded memory.

    Example: keel predict iris@champion --input new.parquet --output scores.parquet
    """
    from keel.cli._render import console
    from keel.serving import predict_file

    result = predict_file(
        model,
        input,
        output,
        key_columns=key or None,
        proba=proba,
        chunk_rows=chunk_rows,
        register_as=register_as,
        register=not no_register,
        allow_missing=allow_missing,
    )
    out = console()
    line = (
        f"scored {result.rows:,} rows with {result.model_version} ({result.runtime}) in "
        f"{result.seconds:.1f} s -> {result.output}"
    )
    if result.dataset is not None:
        line += f" (dataset {result.dataset.reference})"
    out.print(line)


def _monitor_gauges(app: Any) -> None:
    """The stored monitors of the served endpoints, as keel_monitor_* on /metrics."""
    from keel.errors import MissingExtraError

    try:
        from keel.monitoring._gauges import StoredMonitorGauges

        gauges = StoredMonitorGauges(lambda: list(app.endpoints), context=app.context)
    except (ImportError, MissingExtraError):  # without prometheus-client: no gauges
        return
    app.metrics.registry.register(gauges)
