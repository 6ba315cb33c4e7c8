"""An optional capability of a Store: running governed services where the data lives.

A promotion through a policy must be judged by whoever guards the registry: in embedded
mode that is the caller's own process; against a keel server it is the server, which
cannot trust a verdict reached by the client. A store that fronts a server implements
:class:`ServiceGateway`, and the services (``keel.gates`` and others) hand the whole call
to it instead of evaluating locally.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

__all__ = ["SERVICES", "ServiceGateway"]

#: the services a gateway runs, with the JSON arguments each takes
SERVICES: dict[str, tuple[str, ...]] = {
    "promote": ("model", "version", "to", "policy", "force", "reason"),
    "rollback": ("reference", "reason"),
    "delete_alias": ("reference", "reason"),
    "whoami": (),
}


class ServiceGateway(abc.ABC):
    """A store whose services run on a server."""

    @abc.abstractmethod
    def call_service(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Run service ``name`` (one of :data:`SERVICES`) there; returns its JSON result.

        Raises:
            KeelError: the service refused (the same class it raised there).
        """
