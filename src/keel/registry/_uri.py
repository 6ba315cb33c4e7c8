"""Model URIs: ``name/3``, ``name@champion``, ``name@latest`` (optionally ``models:/...``)."""

from __future__ import annotations

from dataclasses import dataclass

from keel.errors import InvalidArgumentError, NotFoundError
from keel.store import ModelVersion, ModelVersionStatus, Store
from keel.store._registry import check_model_name

__all__ = ["ModelRef", "parse_model_uri", "resolve_version"]


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed model URI: a model name and either a version number or an alias."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return (
            f"{self.name}/{self.version}"
            if self.version is not None
            else f"{self.name}@{self.alias}"
        )


def parse_model_uri(uri: str) -> ModelRef:
    """Parse ``name/N``, ``name@alias`` or ``name@latest`` (a ``models:/`` prefix is allowed).

    Raises:
        InvalidArgumentError: the text is not one of those forms.

    Example::

        >>> parse_model_uri("iris@champion")
        ModelRef(name='iris', version=None, alias='champion')
    """
    text = uri.strip() if isinstance(uri, str) else ""
    text = text.removeprefix("models:/")
    usage = (
        f"model URI {uri!r} is malformed; use NAME/VERSION (iris/3), NAME@ALIAS "
        "(iris@champion) or NAME@latest"
    )
    if "@" in text:
        name, _, alias = text.partition("@")
        if not alias or "/" in alias or "@" in alias:
            raise InvalidArgumentError(usage)
        return ModelRef(check_model_name(name), alias=alias)
    if "/" in text:
        name, _, number = text.partition("/")
        if not number.isdigit() or int(number) < 1:
            raise InvalidArgumentError(
                f"model URI {uri!r} names version {number!r}; versions are whole numbers from 1 "
                "(iris/3), or use an alias (iris@champion)"
            )
        return ModelRef(check_model_name(name), version=int(number))
    raise InvalidArgumentError(usage)


def resolve_version(store: Store, uri: str | ModelRef) -> ModelVersion:
    """The version a URI names (``@latest`` is the newest version that is not archived).

    Raises:
        NotFoundError: the model, version or alias does not exist (lists what does).
    """
    ref = uri if isinstance(uri, ModelRef) else parse_model_uri(uri)
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
    return registry.get_version(ref.name, alias.version)
