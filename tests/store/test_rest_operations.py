"""The operation table covers every Store method exactly once, and the REST store all of them."""

from __future__ import annotations

import inspect

from keel.store.rest import _domains, _features
from keel.store.rest._operations import OPERATIONS, ROLE_ORDER
from keel.store.rest._signatures import DOMAIN_INTERFACES, interface_of, signature_of


def test_every_abstract_method_has_one_operation() -> None:
    served = [op.key for op in OPERATIONS]
    assert len(served) == len(set(served))
    expected = {
        f"{domain}.{name}"
        for domain in DOMAIN_INTERFACES
        for name in interface_of(domain).__abstractmethods__
    }
    assert set(served) == expected


def test_routes_are_unique_and_name_real_parameters() -> None:
    routes = [(op.verb, op.path) for op in OPERATIONS]
    assert len(routes) == len(set(routes))
    for op in OPERATIONS:
        names = {p.name for p in signature_of(op).parameters}
        assert set(op.path_params) <= names, op.key
        assert {s.split(".")[0] for s in op.stamp} <= names, op.key
        assert op.role in ROLE_ORDER
        if op.verb in ("GET", "DELETE"):
            for p in signature_of(op).parameters:
                assert p.annotation in (str, int, bool, str | None, int | None), (op.key, p.name)


def test_the_rest_store_implements_every_interface() -> None:
    for domain in DOMAIN_INTERFACES:
        cls = {
            "tracking": _domains.RestTrackingStore,
            "datasets": _domains.RestDatasetStore,
            "registry": _domains.RestRegistryStore,
            "lineage": _domains.RestLineageStore,
            "governance": _domains.RestGovernanceStore,
            "pipelines": _domains.RestPipelineStore,
            "endpoints": _domains.RestEndpointStore,
            "monitors": _domains.RestMonitorStore,
            "features": _features.RestFeatureStore,
        }[domain]
        assert not inspect.isabstract(cls), cls.__abstractmethods__
        interface = interface_of(domain)
        for name in interface.__abstractmethods__:
            ours = inspect.signature(getattr(cls, name))
            theirs = inspect.signature(getattr(interface, name))
            assert list(ours.parameters) == list(theirs.parameters), (domain, name)
