"""Refusing to use an alias or a model version whose row disagrees with its audit events.

``keel audit verify`` finds every such row; these checks make the two uses that matter
(resolving ``iris@champion`` and loading a version's files) refuse at once, with the
table's value and the chain's side by side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.errors import ConflictError
from keel.governance._state import changed_paths, cite

if TYPE_CHECKING:
    from keel.store import Alias, ModelVersion, Store

__all__ = ["AuditMismatchError", "check_alias", "check_version"]

_VERIFY = "Run `keel audit verify` to list every row changed behind keel's back"


class AuditMismatchError(ConflictError):
    """A governed row (an alias, a model version) is not what its audit events say."""

    code = "AUDIT_MISMATCH"
    http_status = 409


def check_alias(store: Store, alias: Alias) -> None:
    """Raise unless ``alias`` points where its latest ``alias.*`` audit event moved it.

    Raises:
        AuditMismatchError: the alias's version differs from the audited one (or no
            event explains the alias); the message names both and what to do.
    """
    ref = f"{alias.name}@{alias.alias}"
    event = store.governance.latest_event("alias", ref, "alias.")
    audited = None if event is None or event.after is None else event.after.get("version")
    if event is not None and audited == alias.version:
        return
    if event is None:
        said = "no audit event ever moved it"
    elif audited is None:
        said = f"its latest audit event ({cite(event)}) deleted it"
    else:
        said = f"its latest audit event ({cite(event)}) says version {audited}"
    fix = (
        f"; an admin restores it with: keel models promote {alias.name}/{audited} "
        f'--to {alias.alias} --force --reason "restore after tampering"'
        if audited is not None
        else ""
    )
    raise AuditMismatchError(
        f"alias {ref} points to version {alias.version} in the model_aliases table, but {said}: "
        f"it was changed behind keel's back, so keel refuses to use it. {_VERIFY}{fix}"
    )


def check_version(store: Store, version: ModelVersion) -> None:
    """Raise unless ``version``'s files, content and status are what its audit events say.

    Raises:
        AuditMismatchError: the row differs from its ``model_version.register`` event
            (files, digest) or its archive events (status).
    """
    ref = version.uri
    registered = store.governance.latest_event("model_version", ref, "model_version.register")
    problem = None
    if registered is None:
        problem = "no audit event registered it"
    else:
        after = registered.after or {}
        files = {f.path: f.sha256 for f in version.files}
        if "files" in after and after["files"] != files:
            paths = changed_paths(after["files"], files)
            problem = f"the sha256 of {paths} differs from what {cite(registered)} registered"
        elif "digest" in after and after["digest"] != version.digest():
            problem = (
                "its metrics, signature, description, details or files differ from what "
                f"{cite(registered)} registered"
            )
    if problem is None:
        archived = store.governance.latest_event("model_version", ref, "model_version.archive")
        audited = "READY" if archived is None else "ARCHIVED"
        if version.status.value != audited:
            by = f" ({cite(archived)})" if archived is not None else ""
            problem = (
                f"its status is {version.status.value} in the model_versions table, but the "
                f"audit chain says {audited}{by}"
            )
    if problem is not None:
        raise AuditMismatchError(
            f"model {ref}: {problem}: the row was changed behind keel's back, so keel refuses "
            f"to load it. {_VERIFY}; register the model again from its run to use it"
        )
