"""The error registry: every KeelError subclass has its own code and HTTP status, and
``error_for_code`` finds it even when its module was never imported."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import keel
from keel.errors import KeelError, NotFoundError, error_codes, error_for_code


def _keel_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(keel.__path__, "keel."):
        if ".migrations" in info.name:  # Alembic scripts, run only by Alembic
            continue
        names.append(info.name)
    return names


def _all_subclasses() -> set[type[KeelError]]:
    for name in _keel_modules():
        importlib.import_module(name)
    found: set[type[KeelError]] = set()
    pending: list[type[KeelError]] = [KeelError]
    while pending:
        cls = pending.pop()
        if cls.__module__.split(".", 1)[0] != "keel":
            continue  # a class some test defined, not keel's
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_error_class_is_in_the_table_with_its_own_code_and_status() -> None:
    table = error_codes()
    classes = _all_subclasses()
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)
    for cls in classes:
        assert "code" in vars(cls) and "http_status" in vars(cls), (
            f"{cls.__qualname__} must declare code and http_status itself"
        )
        assert isinstance(cls.http_status, int) and 400 <= cls.http_status <= 599
        assert table.get(cls.code) == f"{cls.__module__}:{cls.__qualname__}", (
            f"add {cls.code!r}: '{cls.__module__}:{cls.__qualname__}' to keel.errors._CLASSES"
        )
    assert set(table) == set(codes), "keel.errors._CLASSES lists a class that does not exist"


def test_unknown_code_is_the_base_class() -> None:
    assert error_for_code("NO_SUCH_CODE") is KeelError
    assert error_for_code("NOT_FOUND") is NotFoundError
    assert error_for_code("NOT_FOUND").http_status == 404


def test_codes_resolve_in_a_fresh_process_without_importing_the_modules() -> None:
    script = """
import json, sys
from keel.errors import error_codes, error_for_code
loaded = sorted(m for m in sys.modules if m.startswith("keel."))
out = {}
for code in error_codes():
    cls = error_for_code(code)
    out[code] = [f"{cls.__module__}:{cls.__qualname__}", cls.code, cls.http_status]
print(json.dumps({"loaded": loaded, "classes": out}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    seen = json.loads(done.stdout)
    # nothing but keel.errors (and what it needs) was imported before the lookups
    assert set(seen["loaded"]) <= {"keel.errors", "keel._version"}, seen["loaded"]
    assert seen["classes"].keys() == error_codes().keys()
    for code, (target, got_code, status) in seen["classes"].items():
        assert target == error_codes()[code] and got_code == code
        assert isinstance(status, int)
