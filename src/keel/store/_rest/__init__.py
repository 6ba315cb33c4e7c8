"""The REST Store: keel's metadata kept by ``keel server``, reached over HTTP(S).

It implements the same interfaces as the SQL store, so ``KEEL_STORE_URI=http://...``
is the only change a user makes to work against a team server. Every method is one
operation of :data:`keel.store._rest._operations.OPERATIONS`, the table the server
builds its routes from.
"""

from __future__ import annotations

from keel._transport import RetryPolicy, Transport
from keel.store._rest._store import RestStore

__all__ = ["RestStore", "RetryPolicy", "Transport"]
