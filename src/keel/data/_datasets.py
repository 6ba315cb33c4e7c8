"""Registering and reading dataset versions: ``keel.datasets.register / get / list / versions``."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel._clock import now_ms
from keel.context import Context, current_context
from keel.data._errors import DatasetValidationError
from keel.data._names import check_name, parse_reference
from keel.data._progress import InterruptLedger, StageProgress, interrupts_held
from keel.data._version import DatasetVersion
from keel.errors import ConflictError, InvalidArgumentError, NotFoundError, show_input
from keel.store import DatasetSummary, LineageNode, NewDatasetVersion

if TYPE_CHECKING:
    from keel.data._expectations import Expectations
    from keel.data._report import ValidationReport
    from keel.store import DatasetVersionRecord, Store

__all__ = ["get", "get_by_id", "list_datasets", "register", "versions"]


def _check_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidArgumentError(
            f"tags must be a mapping of strings to strings, not {type(tags).__name__}"
        )
    out: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key or len(key) > 250:
            raise InvalidArgumentError(
                f"tag name {show_input(key)} is invalid: use a non-empty string of at most 250 "
                "characters"
            )
        out[key] = str(value)
    return out


@dataclass(frozen=True, slots=True)
class _Derivation:
    """What a derived version records: parents, how it was made, and lineage edges."""

    parent_ids: tuple[str, ...]
    derivation: Mapping[str, Any]
    upstream: tuple[tuple[LineageNode, str], ...]
    source_uri: str


def register(
    source: object,
    name: str,
    *,
    description: str | None = None,
    expectations: Expectations | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    allow_invalid: bool = False,
    tags: Mapping[str, str] | None = None,
    format: str | None = None,
    column_types: Mapping[str, str] | None = None,
    progress: bool = False,
    context: Context | None = None,
) -> DatasetVersion:
    """Register data as a new immutable version of the dataset ``name``.

    The source is checked first (before any progress is shown), then streamed into
    Parquet (CSV through pyarrow's reader or DuckDB's, everything else through DuckDB,
    so files larger than memory work), profiled, checked against ``expectations`` and
    stored in the artifact store under its sha256. Registering content that ``name``
    already has returns that existing version, with ``created=False``; expectations
    given then are checked and their report is recorded on that version if it has none
    (a version validated against other expectations keeps its report:
    ``ConflictError``). A Ctrl-C leaves nothing behind.

    Args:
        source: a path or fsspec URL to a CSV, TSV, JSON Lines, JSON array or Parquet
            file (optionally ``.gz``/``.zst``), or a pandas/polars DataFrame, an Arrow
            table or a DuckDB relation.
        name: the dataset name (``^[a-z0-9][a-z0-9._-]{0,127}$``).
        description: free text stored with the version.
        expectations: an :class:`~keel.data.Expectations`, its dict form, or the path of
            a YAML file with it.
        allow_invalid: register data that fails its expectations anyway, marked
            ``valid=False``, instead of raising.
        tags: string key/values stored with the version.
        format: ``csv``, ``tsv``, ``jsonl``, ``json`` or ``parquet`` when the file's
            suffix does not tell.
        column_types: read these CSV columns as the given logical type
            (``string``, ``integer``, ``float``, ``boolean``, ``timestamp``, ``date``).
        progress: show a progress bar on stderr.
        context: where to register it (:func:`keel.context.current_context` by default).

    Returns:
        The new (or identical existing) :class:`~keel.data.DatasetVersion`;
        its ``created`` attribute says which.

    Raises:
        InvalidArgumentError: the name or an argument is invalid.
        DatasetSourceError: the source cannot be read (missing, empty, ragged, ...).
        DatasetValidationError: the data fails its expectations (``.report`` says how).
        ConflictError: the content is already registered under ``name`` with a
            validation report from other expectations (nothing is changed).

    Example::

        >>> v = keel.datasets.register("data/iris.csv", "iris")
        >>> v.version, v.num_rows
        (1, 150)
    """
    check_name(name)
    tag_map = _check_tags(tags)
    expect = _load_expectations(expectations)
    return _register(
        source,
        name,
        description=description,
        expectations=expect,
        allow_invalid=allow_invalid,
        tags=tag_map,
        format=format,
        column_types=column_types,
        progress=progress,
        context=context,
    )


def register_derived(
    path: str | os.PathLike[str],
    name: str,
    *,
    parents: tuple[str, ...],
    derivation: Mapping[str, Any],
    upstream: tuple[tuple[LineageNode, str], ...],
    source_uri: str,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    context: Context | None = None,
) -> DatasetVersion:
    """Register a Parquet file that keel derived from other objects, with its lineage.

    For other keel services (the feature store's training data): ``parents`` are the
    dataset version ids it was made from, ``derivation`` says how, and each
    ``(node, relation)`` of ``upstream`` becomes an edge ``node -[relation]-> version``.
    """
    check_name(name)
    return _register(
        os.fspath(path),
        name,
        description=description,
        tags=_check_tags(tags),
        format="parquet",
        derived=_Derivation(parents, dict(derivation), upstream, source_uri),
        context=context,
    )


def _load_expectations(
    expectations: Expectations | Mapping[str, Any] | str | os.PathLike[str] | None,
) -> Expectations | None:
    if expectations is None:
        return None
    from keel.data._expectations import load_expectations

    return load_expectations(expectations)


def _register(
    source: object,
    name: str,
    *,
    description: str | None = None,
    expectations: Expectations | None = None,
    allow_invalid: bool = False,
    tags: Mapping[str, str] | None = None,
    format: str | None = None,
    column_types: Mapping[str, str] | None = None,
    progress: bool = False,
    derived: _Derivation | None = None,
    context: Context | None = None,
) -> DatasetVersion:
    from concurrent.futures import ThreadPoolExecutor

    from keel.data._ingest import connect_duckdb, open_source
    from keel.data._profile import profile_parquet, schema_of
    from keel.data._profile_stream import StreamProfile

    ctx = context or current_context()
    tmp_root = ctx.settings.home.absolute() / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    label = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "data"
    with (
        tempfile.TemporaryDirectory(dir=tmp_root, prefix="dataset-") as tmp,
        # everything that can be checked without reading the data, before any progress
        open_source(source, Path(tmp), format=format, column_types=column_types) as opened,
        StageProgress(progress) as bar,
        ThreadPoolExecutor(1, thread_name_prefix="keel-register") as helper,
        InterruptLedger() as interrupts,
    ):
        # open the metadata store (imports, migration check) while the data is read
        store_ready = helper.submit(lambda: ctx.store)
        dest = Path(tmp) / "data.parquet"
        bar.stage(f"reading {Path(label).name if derived is None else name}")
        con = connect_duckdb(Path(tmp))
        try:
            # the profile's first pass runs over the batches while they are written
            with StreamProfile(con) as first_pass:
                result = opened.write(dest, progress=bar.update, observer=first_pass)
                first = first_pass.finish()
            # the store fsyncs the file before taking it; flushing it now overlaps that
            # disk write (~0.4 s for 150 MB here) with the profile
            flushed = helper.submit(_flush_to_disk, dest)
            bar.stage("profiling")
            columns = schema_of(dest)
            profile = profile_parquet(con, dest, columns, first)
            for col in columns:
                col["nullable"] = profile["columns"][col["name"]]["nulls"] > 0
            report: ValidationReport | None = None
            if expectations is not None:
                from keel.data._validate import validate_parquet

                bar.stage("validating")
                report = validate_parquet(con, dest, expectations, columns, profile)
        finally:
            con.close()
        if report is not None and not report.passed and not allow_invalid:
            raise DatasetValidationError(
                f"dataset {name!r} fails its expectations, so nothing was registered: "
                f"{report.summary()}; fix the data, or pass allow_invalid=True "
                "(CLI: --allow-invalid) to register it marked invalid",
                report,
            )
        if report is not None:  # before anything is written
            _check_recordable(name, result.sha256, report, store_ready.result())
        bar.stage("storing")
        interrupts.check()  # a Ctrl-C a library caught and dropped still stops here
        # a Ctrl-C now waits until the version is recorded: never a file without its row
        with interrupts_held(f"{name} was registered"):
            # moved (not copied) into the content-addressed store; hashed while written
            flushed.result()
            stored = ctx.artifacts.put_local_file(dest, result.sha256, move=True)
            store_ready.result()
            if derived is None:
                derived = _Derivation((), {}, (), result.source_uri)
                if isinstance(source, (str, os.PathLike)):
                    node = LineageNode("source", result.source_uri, result.source_label)
                    derived = _Derivation((), {}, ((node, "ingested_into"),), result.source_uri)
            new = NewDatasetVersion(
                name=name,
                content_hash=stored.sha256,
                size_bytes=stored.size,
                num_rows=result.num_rows,
                schema={"columns": columns},
                profile=profile,
                source_uri=derived.source_uri,
                created_by=ctx.actor,
                created_at=now_ms(),
                valid=report.passed if report is not None else True,
                validation=report.to_dict() if report is not None else None,
                description=description,
                tags=dict(tags or {}),
                parent_ids=derived.parent_ids,
                derivation=dict(derived.derivation) or None,
            )
            record, created = ctx.store.datasets.create_version(new, derived.upstream)
            if not created and report is not None:
                record = _record_validation(ctx, record, report)
    return DatasetVersion.from_record(record, ctx.artifacts, created=created)


def _flush_to_disk(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _same_report(stored: Mapping[str, Any], report: ValidationReport) -> bool:
    wanted: dict[str, Any] = json.loads(json.dumps(report.to_dict(), default=str))
    return dict(stored) == wanted


def _validated_otherwise(record: DatasetVersionRecord) -> ConflictError:
    from keel.data._report import ValidationReport

    ref = f"{record.name}/{record.version}"
    before = ValidationReport.from_dict(record.validation or {}).summary()
    return ConflictError(
        f"dataset {ref} already holds this content and was validated against other "
        f"expectations ({before}); a version's validation is recorded once, so nothing was "
        f"changed; check it against these with keel.datasets.validate({ref!r}, ...) "
        f"(CLI: keel datasets validate {ref} -e FILE)"
    )


def _check_recordable(name: str, sha256: str, report: ValidationReport, store: Store) -> None:
    """Refuse, before anything is written, expectations an existing version cannot take."""
    try:
        existing = store.datasets.find_version_by_hash(name, sha256)
    except NotFoundError:
        return
    if existing.validation is not None and not _same_report(existing.validation, report):
        raise _validated_otherwise(existing)


def _record_validation(
    ctx: Context, record: DatasetVersionRecord, report: ValidationReport
) -> DatasetVersionRecord:
    """Expectations given for content already registered: record their report on it."""
    store = ctx.store.datasets
    if record.validation is None:
        try:
            return store.record_validation(record.id, report.to_dict(), report.passed)
        except ConflictError:  # recorded by another registration meanwhile
            record = store.get_version_by_id(record.id)
    if record.validation is not None and _same_report(record.validation, report):
        return record
    raise _validated_otherwise(record)


def get(reference: str | DatasetVersion, *, context: Context | None = None) -> DatasetVersion:
    """A dataset version by reference (see ``docs/concepts/references.md``).

    Args:
        reference: ``"name"`` or ``"name@latest"`` (the latest), ``"name/3"``, or
            ``"name/sha256:<hash or unique prefix>"``; a ``DatasetVersion`` is returned as
            is. The old ``"name@3"`` and ``"name@sha256:..."`` still work, with a
            :class:`~keel.errors.KeelDeprecationWarning`.
        context: where to look (:func:`keel.context.current_context` by default).

    Raises:
        NotFoundError: no such dataset or version (the message lists what exists).

    Example::

        >>> keel.datasets.get("iris/2").to_pandas()
    """
    if isinstance(reference, DatasetVersion):
        return reference
    parsed = parse_reference(reference, stacklevel=2)
    ctx = context or current_context()
    store = ctx.store.datasets
    if parsed.hash_prefix is not None:
        record = store.find_version_by_hash(parsed.name, parsed.hash_prefix)
    else:
        record = store.get_version(parsed.name, parsed.version)
    return DatasetVersion.from_record(record, ctx.artifacts)


def get_by_id(version_id: str, *, context: Context | None = None) -> DatasetVersion:
    """A dataset version by its id (``DatasetVersion.id``).

    Args:
        version_id: the id.
        context: where to look (:func:`keel.context.current_context` by default).

    Example::

        >>> keel.datasets.get_by_id(v.id) == v
        True
    """
    ctx = context or current_context()
    return DatasetVersion.from_record(
        ctx.store.datasets.get_version_by_id(version_id), ctx.artifacts
    )


def list_datasets(*, context: Context | None = None) -> list[DatasetSummary]:
    """Every dataset with its latest version, sorted by name (``keel.datasets.list()``).

    Args:
        context: where to look (:func:`keel.context.current_context` by default).

    Example::

        >>> [d.name for d in keel.datasets.list()]
        ['iris', 'iris-test', 'iris-train']
    """
    return (context or current_context()).store.datasets.list_datasets()


def versions(name: str, *, context: Context | None = None) -> list[DatasetVersion]:
    """Every version of ``name``, oldest first.

    Args:
        name: the dataset.
        context: where to look (:func:`keel.context.current_context` by default).

    Example::

        >>> [v.version for v in keel.datasets.versions("iris")]
        [1, 2]
    """
    check_name(name)
    ctx = context or current_context()
    return [
        DatasetVersion.from_record(r, ctx.artifacts) for r in ctx.store.datasets.list_versions(name)
    ]
