"""The online store: the latest feature vector of every entity in every view, one record
each, and a watermark per view saying how far materialization has read the source.

Two backends, chosen by a URI (``KEEL_ONLINE_STORE``):

* ``sqlite:///PATH`` (the default, ``<KEEL_HOME>/online.db``): one table keyed by
  (project, view, entity key), read with one statement per lookup;
* ``redis://HOST:PORT/DB`` (``pip install 'keel[redis]'``): one key per
  (project, view, entity), read with one ``MGET`` for every view of a lookup.

A store holds bytes (the records of :mod:`keel.features._online_codec`); it never decodes
them. Both keep a record only if it is newer than the one stored, or was written for
another schema, so writing the same rows twice, or an older window after a newer one,
changes nothing: writes are idempotent and materializations may overlap. The watermark is
written only after every record of its run is stored, so a run killed half-way leaves
the old watermark and the next run reads the same rows again.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keel._redact import safe_uri
from keel.errors import ConflictError, InvalidArgumentError, StoreError

if TYPE_CHECKING:
    from keel.config import Settings

__all__ = [
    "OnlineSchemaMismatchError",
    "OnlineStore",
    "OnlineStoreUnavailableError",
    "Watermark",
    "default_online_uri",
    "open_online_store",
]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class OnlineStoreUnavailableError(StoreError):
    """The online store (a Redis server, an SQLite file) cannot be reached or written."""

    code = "ONLINE_STORE_UNAVAILABLE"
    http_status = 503


class OnlineSchemaMismatchError(ConflictError):
    """Online records were written for another version of a view's schema."""

    code = "ONLINE_SCHEMA_MISMATCH"
    http_status = 409


@dataclass(frozen=True, slots=True)
class Watermark:
    """How far one view's materialization has got.

    Attributes:
        fingerprint: the schema fingerprint the view's records were written with (hex).
        event_us: the newest source event time read so far (microseconds since the
            epoch); the next run reads only rows after it.
        source_event_us: the newest event time in the source when the run ended (the
            view is ``source_event_us - event_us`` behind it).
        materialized_us: when the run ended (microseconds since the epoch).
        rows: the records that run handed to the store (one per entity with new rows);
            the store sets it when it writes the watermark.
        view_version: the version of the view the run materialized.
    """

    fingerprint: str
    event_us: int
    source_event_us: int
    materialized_us: int
    rows: int
    view_version: int

    def to_fields(self) -> dict[str, str]:
        """The watermark as text fields (how both backends store it)."""
        return {
            "fingerprint": self.fingerprint,
            "event_us": str(self.event_us),
            "source_event_us": str(self.source_event_us),
            "materialized_us": str(self.materialized_us),
            "rows": str(self.rows),
            "view_version": str(self.view_version),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Watermark:
        """The watermark of :meth:`to_fields`."""
        return cls(
            fingerprint=fields["fingerprint"],
            event_us=int(fields["event_us"]),
            source_event_us=int(fields["source_event_us"]),
            materialized_us=int(fields["materialized_us"]),
            rows=int(fields["rows"]),
            view_version=int(fields["view_version"]),
        )


def check_name(kind: str, name: str) -> str:
    """A project or view name as a store key part (letters, digits, ``_.-``)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgumentError(
            f"{kind} name {name!r} cannot be an online store key; use letters, digits, "
            "'_', '.' or '-' (at most 128)"
        )
    return name


class OnlineStore(abc.ABC):
    """Where the latest feature vectors live, keyed by (project, view, entity key).

    Constructors do no I/O: a store connects (and creates its table) on first use.
    Errors reaching it are :class:`OnlineStoreUnavailableError`, naming the store.
    """

    @property
    @abc.abstractmethod
    def uri(self) -> str:
        """The store's URI, any password masked (for messages)."""

    @abc.abstractmethod
    def write(
        self,
        project: str,
        view: str,
        records: Iterable[Sequence[tuple[bytes, bytes]]],
        watermark: Watermark,
    ) -> int:
        """Store records, then the view's watermark.

        Args:
            project: the project.
            view: the view.
            records: batches of ``(entity key, record)``. A record replaces the stored
                one only if its event time is at least the stored one's, or its schema
                fingerprint differs.
            watermark: written once every batch is stored, never before, with its
                ``rows`` set to the number of records given.

        Returns:
            The number of records that replaced (or added) a stored one.

        Raises:
            OnlineStoreUnavailableError: the store cannot be written; the watermark is
                then unchanged.
        """

    @abc.abstractmethod
    def read(
        self, project: str, lookups: Sequence[tuple[str, Sequence[bytes]]]
    ) -> list[list[bytes | None]]:
        """The stored records of several views' entities, in one round trip where the
        backend allows.

        Args:
            project: the project.
            lookups: ``(view, entity keys)`` pairs.

        Returns:
            For each pair, the records of its keys in order (``None`` where absent).
        """

    @abc.abstractmethod
    def watermark(self, project: str, view: str) -> Watermark | None:
        """The view's watermark (``None`` before its first materialization)."""

    @abc.abstractmethod
    def delete_view(self, project: str, view: str) -> int:
        """Remove a view's records and watermark; returns how many records went."""

    @abc.abstractmethod
    def count(self, project: str, view: str) -> int:
        """How many entities the view holds (for reports and tests; not for hot paths)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections (idempotent; the store reconnects if used again)."""

    def __enter__(self) -> OnlineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_online_uri(settings: Settings) -> str:
    """The online store in force: ``settings.online_store``, else SQLite next to the
    metadata store (``<home>/online.db``)."""
    configured = getattr(settings, "online_store", None)
    if configured:
        return str(configured)
    return f"sqlite:///{Path(settings.home).absolute() / 'online.db'}"


def open_online_store(uri: str) -> OnlineStore:
    """The online store a URI names (no I/O until it is used).

    Args:
        uri: ``sqlite:///PATH`` or ``redis://[:PASSWORD@]HOST:PORT/DB`` (``rediss://``
            for TLS). A Redis URI may end in ``?key_prefix=P`` (default ``keel:``) to
            share a database with other programs.

    Raises:
        InvalidArgumentError: the scheme is neither.

    Example::

        >>> store = open_online_store("redis://127.0.0.1:6379/0")
    """
    if uri.startswith("sqlite:///"):
        from keel.features._online_sqlite import SQLiteOnlineStore

        return SQLiteOnlineStore(Path(uri.removeprefix("sqlite:///")))
    if uri.startswith(("redis://", "rediss://", "unix://")):
        from keel.features._online_redis import RedisOnlineStore

        return RedisOnlineStore(uri)
    raise InvalidArgumentError(
        f"online store {safe_uri(uri)!r} has an unknown scheme; use sqlite:///PATH or "
        "redis://HOST:PORT/DB (KEEL_ONLINE_STORE)"
    )
