"""The parameters and result type of each operation, read from the domain interfaces."""

from __future__ import annotations

import functools
import importlib
import inspect
import typing
from dataclasses import dataclass
from typing import Any

from keel.store.rest._operations import Operation

__all__ = ["DOMAIN_INTERFACES", "OperationSignature", "Parameter", "interface_of", "signature_of"]

#: Store property -> (module, class) of its abstract interface
DOMAIN_INTERFACES: dict[str, tuple[str, str]] = {
    "tracking": ("keel.store._interfaces", "TrackingStore"),
    "datasets": ("keel.store._datasets", "DatasetStore"),
    "registry": ("keel.store._registry", "RegistryStore"),
    "lineage": ("keel.store._lineage", "LineageStore"),
    "governance": ("keel.store._audit", "GovernanceStore"),
    "pipelines": ("keel.store._pipelines", "PipelineStore"),
    "endpoints": ("keel.store._endpoints", "EndpointStore"),
    "monitors": ("keel.store._monitors", "MonitorStore"),
    "features": ("keel.store._features", "FeatureStore"),
}


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter of an interface method."""

    name: str
    annotation: Any
    default: Any  # inspect.Parameter.empty when required

    @property
    def required(self) -> bool:
        """Whether the caller must give it."""
        return self.default is inspect.Parameter.empty


@dataclass(frozen=True, slots=True)
class OperationSignature:
    """The parameters (without ``self``) and the return type of an operation's method."""

    parameters: tuple[Parameter, ...]
    returns: Any

    def parameter(self, name: str) -> Parameter:
        """The parameter called ``name``."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)


def interface_of(domain: str) -> type:
    """The abstract interface class of a Store domain."""
    module, name = DOMAIN_INTERFACES[domain]
    cls: type = getattr(importlib.import_module(module), name)
    return cls


@functools.cache
def signature_of(op: Operation) -> OperationSignature:
    """The signature of ``op``'s method, with type hints resolved."""
    method = getattr(interface_of(op.domain), op.method)
    hints = typing.get_type_hints(method)
    params = tuple(
        Parameter(p.name, hints.get(p.name, Any), p.default)
        for p in inspect.signature(method).parameters.values()
        if p.name != "self"
    )
    return OperationSignature(params, hints.get("return", Any))
