"""Model references: ``name/3`` (a version), ``name@champion`` (an alias), ``name@latest``.

The grammar every noun shares (see docs/concepts/references.md): ``NAME/VERSION`` names
one immutable version, ``NAME@ALIAS`` the version an alias points to now. A
``models:/`` prefix (MLflow's spelling) is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.errors import InvalidArgumentError, NotFoundError
from keel.store import ModelVersion, ModelVersionStatus, Store
from keel.store._registry import MAX_VERSION, check_model_name

__all__ = ["ModelRef", "parse_model_ref", "parse_model_uri", "resolve_version"]


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed model reference: a model name and either a version number or an alias."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return (
            f"{self.name}/{self.version}"
            if self.version is not None
            else f"{self.name}@{self.alias}"
        )


def _shown(text: object) -> str:
    raw = text if isinstance(text, str) else repr(text)
    return repr(raw if len(raw) <= 80 else raw[:77] + "...")


def parse_model_ref(ref: str) -> ModelRef:
    """Parse ``name/N``, ``name@alias`` or ``name@latest`` (a ``models:/`` prefix is allowed).

    Raises:
        InvalidArgumentError: the text is not one of those forms.

    Example::

        >>> parse_model_ref("iris@champion")
        ModelRef(name='iris', version=None, alias='champion')
    """
    text = ref.strip() if isinstance(ref, str) else ""
    text = text.removeprefix("models:/")
    usage = (
        f"model reference {_shown(ref)} is malformed; use NAME/VERSION (iris/3), NAME@ALIAS "
        "(iris@champion) or NAME@latest"
    )
    if "@" in text:
        name, _, alias = text.partition("@")
        if not alias or "/" in alias or "@" in alias:
            raise InvalidArgumentError(usage)
        return ModelRef(check_model_name(name), alias=alias)
    if "/" in text:
        name, _, number = text.partition("/")
        if not number.isdigit() or not 1 <= int(number) <= MAX_VERSION:
            raise InvalidArgumentError(
                f"model reference {_shown(ref)} names version {_shown(number)}; versions are "
                f"whole numbers from 1 to {MAX_VERSION} (iris/3), or use an alias (iris@champion)"
            )
        return ModelRef(check_model_name(name), version=int(number))
    raise InvalidArgumentError(usage)


#: the former name of :func:`parse_model_ref`, kept for one release
parse_model_uri = parse_model_ref


def resolve_version(store: Store, uri: str | ModelRef) -> ModelVersion:
    """The version a reference names (``@latest`` is the newest version that is not archived).

    An alias is checked against its latest audit event first: an alias moved behind
    keel's back (a direct ``UPDATE`` of its row) is refused, naming both versions.

    Raises:
        NotFoundError: the model, version or alias does not exist (lists what does).
        AuditMismatchError: the alias is not where its audit events put it.
    """
    ref = uri if isinstance(uri, ModelRef) else parse_model_ref(uri)
    registry = store.registry
    if ref.version is not None:
        return registry.get_version(ref.name, ref.version)
    assert ref.alias is not None
    if ref.alias.lower() == "latest":
        versions = registry.list_versions(ref.name)
        ready = [v for v in versions if v.status is ModelVersionStatus.READY]
        if not ready:
            raise NotFoundError(
                f"model {ref.name!r} has no version that is not archived; register one first"
            )
        return ready[-1]
    alias = registry.get_alias(ref.name, ref.alias)
    from keel.governance import check_alias

    check_alias(store, alias)
    return registry.get_version(ref.name, alias.version)
