"""``keel.serving.endpoints``: the stored Endpoint noun of a project.

A thin module over :mod:`keel.serving._endpoints`, so the SDK reads naturally::

    >>> from keel.serving import endpoints
    >>> endpoints.create("endpoint.yaml", reason="launch")       # revision 1
    >>> endpoints.update("iris", {"log_sample_rate": 0.1})       # revision 2
    >>> [e.name for e in endpoints.list()]
    ['iris']
    >>> endpoints.log("iris", since="1h")                        # the prediction log
    >>> endpoints.delete("iris", reason="retired")

``keel serve iris`` serves a stored endpoint and follows its revisions; the command
line is ``keel endpoints create|update|show|list|delete|log``
(docs/guides/serving.md).
"""

from __future__ import annotations

from keel.serving._endpoints import (
    create_endpoint as create,
    delete_endpoint as delete,
    endpoint_history as history,
    endpoint_log as log,
    endpoint_spec as spec,
    get_endpoint as get,
    list_endpoints as list,
    update_endpoint as update,
)

__all__ = ["create", "delete", "get", "history", "list", "log", "spec", "update"]
