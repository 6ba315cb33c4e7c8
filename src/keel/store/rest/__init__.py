"""The REST Store: keel's metadata kept by ``keel server``, reached over HTTP(S).

It implements the same interfaces as the SQL store, so ``KEEL_STORE_URI=http://...``
is the only change a user makes to work against a team server. Every method is one
:class:`Operation` of :data:`OPERATIONS`, the table the server also builds its routes
from: this package is the protocol's one definition, public for that reason.
"""

from __future__ import annotations

from keel._transport import RetryPolicy, Transport
from keel.store.rest._operations import OPERATIONS, ROLE_ORDER, Operation, operation
from keel.store.rest._signatures import (
    DOMAIN_INTERFACES,
    OperationSignature,
    Parameter,
    interface_of,
    signature_of,
)
from keel.store.rest._store import RestStore

__all__ = [
    "DOMAIN_INTERFACES",
    "OPERATIONS",
    "ROLE_ORDER",
    "Operation",
    "OperationSignature",
    "Parameter",
    "RestStore",
    "RetryPolicy",
    "Transport",
    "interface_of",
    "operation",
    "signature_of",
]
