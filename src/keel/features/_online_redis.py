"""The Redis online store: one string key per (project, view, entity), holding its record.

Keys are ``<prefix><project>:<view>:<entity key>`` (prefix ``keel:`` unless the URI says
``?key_prefix=``) and a view's watermark is the hash ``<prefix><project>:<view>``. A lookup
of any number of entities in any number of views is one ``MGET``: one round trip.

Records are written by a small Lua script, a batch of keys per call, which keeps a
stored record unless the new one is at least as new or was written for another schema
(the same rule as SQLite's, comparing the records' header bytes, so nothing is
decoded). Each call is atomic; the watermark is set only after every call of the run has
succeeded, so a run cut off half-way leaves the old watermark and the next run writes
the same records again (a no-op for those already there).
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from keel._redact import redact, safe_uri
from keel.errors import MissingExtraError
from keel.features._online import (
    OnlineStore,
    OnlineStoreUnavailableError,
    Watermark,
    check_name,
)

__all__ = ["RedisOnlineStore"]

# KEYS: record keys; ARGV: their records. Bytes 2-9 of a record are its schema
# fingerprint, bytes 10-17 its event time (big-endian: compared byte by byte, never
# with Lua's locale-dependent string ordering).
_CONDITIONAL_SET = """
local written = 0
for i, key in ipairs(KEYS) do
  local new = ARGV[i]
  local old = redis.call('GET', key)
  local replace = (not old) or string.sub(old, 2, 9) ~= string.sub(new, 2, 9)
  if not replace then
    replace = true
    for j = 10, 17 do
      local a, b = string.byte(old, j), string.byte(new, j)
      if a ~= b then
        replace = a < b
        break
      end
    end
  end
  if replace then
    redis.call('SET', key, new)
    written = written + 1
  end
end
return written
"""
_KEYS_PER_CALL = 1000
_DEFAULT_PREFIX = "keel:"


class RedisOnlineStore(OnlineStore):
    """The online store in a Redis database.

    Args:
        uri: ``redis://[[USER]:PASSWORD@]HOST:PORT/DB[?key_prefix=P]``, ``rediss://`` for
            TLS, or ``unix://PATH?db=N``.
    """

    def __init__(self, uri: str) -> None:
        parts = urllib.parse.urlsplit(uri)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        prefix = [v for k, v in query if k == "key_prefix"]
        self._prefix = (prefix[-1] if prefix else _DEFAULT_PREFIX).encode()
        rest = urllib.parse.urlencode([(k, v) for k, v in query if k != "key_prefix"])
        self._connect_uri = urllib.parse.urlunsplit(parts._replace(query=rest))
        self._uri = uri
        self._client: Any = None
        self._script: Any = None

    @property
    def uri(self) -> str:
        return safe_uri(self._uri)

    @property
    def key_prefix(self) -> bytes:
        """What every key of this store starts with."""
        return self._prefix

    def __repr__(self) -> str:
        return f"RedisOnlineStore({self.uri!r})"

    def _unavailable(self, exc: Exception) -> OnlineStoreUnavailableError:
        reason = redact(str(exc), self._uri) or type(exc).__name__
        return OnlineStoreUnavailableError(
            f"cannot reach the online store {self.uri} ({reason}); start Redis there, or "
            "point KEEL_ONLINE_STORE at a running one"
        )

    def _redis(self) -> Any:
        if self._client is None:
            try:
                import redis
            except ImportError:
                raise MissingExtraError.for_extra("redis", "redis") from None
            try:
                client = redis.Redis.from_url(
                    self._connect_uri,
                    socket_connect_timeout=2.0,
                    socket_timeout=10.0,
                    decode_responses=False,
                )
            except ValueError as exc:
                raise self._unavailable(exc) from None
            self._script = client.register_script(_CONDITIONAL_SET)
            self._client = client
        return self._client

    def _errors(self) -> tuple[type[Exception], ...]:
        import redis

        return (redis.exceptions.RedisError, OSError)

    def _record_key(self, project: str, view: str) -> bytes:
        return self._prefix + f"{project}:{view}:".encode()

    def _watermark_key(self, project: str, view: str) -> bytes:
        return self._prefix + f"{project}:{view}".encode()

    def write(
        self,
        project: str,
        view: str,
        records: Iterable[Sequence[tuple[bytes, bytes]]],
        watermark: Watermark,
    ) -> int:
        check_name("project", project)
        check_name("view", view)
        client = self._redis()
        base = self._record_key(project, view)
        written = given = 0
        try:
            for batch in records:
                given += len(batch)
                pipe = client.pipeline(transaction=False)
                for start in range(0, len(batch), _KEYS_PER_CALL):
                    part = batch[start : start + _KEYS_PER_CALL]
                    self._script(
                        keys=[base + k for k, _ in part], args=[r for _, r in part], client=pipe
                    )
                written += sum(int(n) for n in pipe.execute())
            # only now, with every record stored, does the watermark move
            done = dataclasses.replace(watermark, rows=given)
            client.hset(self._watermark_key(project, view), mapping=done.to_fields())
        except self._errors() as exc:
            raise self._unavailable(exc) from None
        return written

    def read(
        self, project: str, lookups: Sequence[tuple[str, Sequence[bytes]]]
    ) -> list[list[bytes | None]]:
        client = self._redis()
        keys: list[bytes] = []
        for view, entity_keys in lookups:
            base = self._record_key(project, view)
            keys.extend(base + k for k in entity_keys)
        if not keys:
            return [[] for _ in lookups]
        try:
            values: list[bytes | None] = client.mget(keys)
        except self._errors() as exc:
            raise self._unavailable(exc) from None
        out: list[list[bytes | None]] = []
        start = 0
        for _, entity_keys in lookups:
            out.append(values[start : start + len(entity_keys)])
            start += len(entity_keys)
        return out

    def watermark(self, project: str, view: str) -> Watermark | None:
        client = self._redis()
        try:
            fields = client.hgetall(self._watermark_key(project, view))
        except self._errors() as exc:
            raise self._unavailable(exc) from None
        if not fields:
            return None
        return Watermark.from_fields({k.decode(): v.decode() for k, v in fields.items()})

    def _scan(self, project: str, view: str) -> Iterable[bytes]:
        pattern = re.sub(rb"([*?\[\]\\])", rb"\\\1", self._record_key(project, view)) + b"*"
        yield from self._redis().scan_iter(match=pattern, count=1000)

    def delete_view(self, project: str, view: str) -> int:
        client = self._redis()
        deleted = 0
        try:
            # the watermark first: a deletion cut off half-way makes the next run start over
            client.delete(self._watermark_key(project, view))
            batch: list[bytes] = []
            for key in self._scan(project, view):
                batch.append(key)
                if len(batch) >= _KEYS_PER_CALL:
                    deleted += int(client.delete(*batch))
                    batch = []
            if batch:
                deleted += int(client.delete(*batch))
        except self._errors() as exc:
            raise self._unavailable(exc) from None
        return deleted

    def count(self, project: str, view: str) -> int:
        try:
            return sum(1 for _ in self._scan(project, view))
        except self._errors() as exc:
            raise self._unavailable(exc) from None

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
