"""Loading registered models: every sha256 verified before anything is deserialised."""

from __future__ import annotations

import json
from typing import Any

from keel.context import Context, current_context
from keel.errors import InvalidArgumentError
from keel.registry._formats import deserialize
from keel.registry._signature import example_to_frame
from keel.registry._uri import ModelRef, resolve_version
from keel.store import AuditEntry, ModelStateError, ModelVersion, ModelVersionStatus

__all__ = [
    "get_version",
    "load",
    "load_input_example",
    "load_version",
    "read_checked_files",
    "read_files",
]


def get_version(uri: str | ModelRef, *, context: Context | None = None) -> ModelVersion:
    """The :class:`ModelVersion` a reference names (``iris/3``, ``iris@champion``, ``iris@latest``).

    Args:
        uri: the reference.
        context: where to look (:func:`keel.context.current_context` by default).

    Example::

        >>> keel.models.get("iris@champion").metrics["f1_macro"]
        0.96
    """
    return resolve_version((context or current_context()).store, uri)


def read_files(version: ModelVersion, *, context: Context | None = None) -> dict[str, bytes]:
    """The bytes of every file of a version, each checked against its recorded sha256.

    Raises:
        ArtifactCorruptedError: a file was changed (the message names it).
        NotFoundError: a file's bytes are missing from the artifact store.
    """
    artifacts = (context or current_context()).artifacts
    return {
        f.path: artifacts.get_bytes(f.sha256, name=f"file {f.path!r} of model {version.uri}")
        for f in version.files
    }


def read_checked_files(
    version: ModelVersion, *, serve: bool = True, context: Context | None = None
) -> dict[str, bytes]:
    """The bytes of every file of a version that may be loaded: the version is not
    archived (when ``serve``), its row matches its audit events, and every file matches
    its sha256. What :func:`load_version` checks before deserialising; serving uses it to
    run the ONNX file without deserialising the native model.

    Raises:
        ModelStateError: the version is archived.
        AuditMismatchError: the version's row is not what its audit events say.
        ArtifactCorruptedError: a file was changed (the message names it).
    """
    ctx = context or current_context()
    if serve and version.status is not ModelVersionStatus.READY:
        raise ModelStateError(
            f"model {version.uri} is archived; archived versions cannot be promoted or served. "
            f"Use another version (keel models versions {version.name})"
        )
    from keel.governance import check_version

    check_version(ctx.store, version)  # the row is what its audit events registered
    return read_files(version, context=ctx)  # all verified before any deserialising


def load_version(
    version: ModelVersion,
    *,
    allow_pickle: bool = False,
    context: Context | None = None,
    serve: bool = True,
) -> Any:
    """Deserialise a version after verifying every file (see :func:`load`)."""
    ctx = context or current_context()
    files = read_checked_files(version, serve=serve, context=ctx)
    descriptor_file = version.file("descriptor")
    model_file = version.file("model")
    if descriptor_file is None or model_file is None:
        raise InvalidArgumentError(f"model {version.uri} has no descriptor or model file recorded")
    descriptor = json.loads(files[descriptor_file.path])
    if descriptor.get("format") != version.format:
        raise InvalidArgumentError(
            f"model {version.uri}: its descriptor says format {descriptor.get('format')!r} but "
            f"{version.format!r} was registered; register the model again"
        )
    if version.format == "pickle" and allow_pickle:
        ctx.store.governance.append(
            AuditEntry(
                actor=ctx.actor,
                action="model_version.load_pickle",
                object_type="model_version",
                object_id=version.uri,
                before=None,
                after={"sha256": model_file.sha256},
                reason="allow_pickle=True",
            )
        )
    return deserialize(
        descriptor, files[model_file.path], allow_pickle=allow_pickle, what=f"model {version.uri}"
    )


def load(uri: str, *, allow_pickle: bool = False, context: Context | None = None) -> Any:
    """Load a registered model by reference, verifying every file's sha256 first.

    skops files are loaded trusting exactly the types recorded when they were saved;
    pickles are refused unless ``allow_pickle=True`` (and then the load is audited).
    An alias, and the version's row, are checked against their audit events first: a
    row changed behind keel's back is refused.

    Args:
        uri: a reference: ``name@champion``, ``name/3`` or ``name@latest``.
        allow_pickle: allow a pickled model to be loaded (it can run arbitrary code).
        context: where to load from (:func:`keel.context.current_context` by default).

    Raises:
        NotFoundError: the model, version or alias does not exist (lists what does).
        ArtifactCorruptedError: a file was changed since registration (names it).
        ModelStateError: the version is archived.
        AuditMismatchError: the alias or version row is not what its audit events say.
        UnsafeFormatError: the model is a pickle and ``allow_pickle`` is false.

    Example::

        >>> model = keel.models.load("iris@champion")
        >>> model.predict(X.head(1))
    """
    ctx = context or current_context()
    return load_version(get_version(uri, context=ctx), allow_pickle=allow_pickle, context=ctx)


def load_input_example(version: ModelVersion, *, context: Context | None = None) -> Any:
    """The version's input example (DataFrame or array), or ``None`` when it has none."""
    record = version.file("input_example")
    if record is None:
        return None
    data = (context or current_context()).artifacts.get_bytes(
        record.sha256, name=f"file {record.path!r} of model {version.uri}"
    )
    return example_to_frame(json.loads(data))
