"""A read-only command imports what it uses and nothing else (the start-up budget).

Time is not asserted (benchmarks/cli_startup.py measures it); what a command imports is.
Each module below cost start-up time that the command does not need: ``sqlalchemy.orm``
and the ORM classes 0.17 CPU-s, pydantic-settings 0.06 s, a Lark grammar 0.1 s, the other
domains' tables and the other sub-commands' Typer conversion 0.05 s each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
sys.argv = ["keel", *json.loads(sys.argv[1])]
from keel.cli import main
try:
    main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print(json.dumps(sorted(sys.modules)))
"""

NEVER = {"sqlalchemy.orm", "pydantic_settings", "alembic", "pandas", "numpy", "pyarrow"}


@pytest.fixture
def migrated(keel_home: Path) -> Path:
    """A store that exists already (creating one runs the migrations, with alembic)."""
    from keel.store import open_store

    store = open_store(f"sqlite:///{keel_home / 'keel.db'}")
    store.open()
    store.close()
    return keel_home.parent


def loaded_by(args: list[str], cwd: Path) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
        timeout=120,
    )
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("args", "domain"),
    [
        (["runs", "list"], "_tracking"),
        (["experiments", "list"], "_tracking"),
        (["models", "list"], "_registry"),
        (["audit", "verify"], "_audit"),
        (["datasets", "list"], "_datasets"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_a_read_only_command_loads_only_its_own_domain(
    args: list[str], domain: str, migrated: Path
) -> None:
    modules = loaded_by(args, migrated)
    assert not modules & NEVER, sorted(modules & NEVER)
    sql_domains = {m for m in modules if m.startswith("keel.store._sql._") and "_rows" not in m}
    others = {"_tracking", "_registry", "_audit", "_datasets", "_pipelines"} - {domain}
    # domains that work together may come along: the registry writes audit events and
    # lineage, verifying the audit chain replays it against the registry's state
    allowed = {
        "_registry": {"_audit", "_lineage"},
        "_audit": {"_registry", "_lineage"},
        "_datasets": {"_lineage"},
    }.get(domain, set())
    assert not {f"keel.store._sql.{d}" for d in others - allowed} & sql_domains, sql_domains
    assert f"keel.store._sql.{domain}" in modules
    cli_modules = {m for m in modules if m.startswith("keel.cli._") and m != "keel.cli._app"}
    assert len(cli_modules) <= 3, cli_modules  # its own sub-app (and the renderer), not all


def test_a_search_without_filter_or_order_builds_no_parser(migrated: Path) -> None:
    assert "lark" not in loaded_by(["runs", "list"], migrated)
    assert "lark" in loaded_by(["runs", "list", "--filter", "metrics.a > 1"], migrated)


def test_listing_datasets_does_not_build_the_expectation_models(migrated: Path) -> None:
    # keel.data and keel.datasets export lazily: the pydantic expectation models, splits
    # and diffs load when used, not when a command only lists what is stored
    modules = loaded_by(["datasets", "list"], migrated)
    assert "keel.data._datasets" in modules  # the command did run
    assert not {"keel.data._expectations", "keel.data._split", "keel.data._diff"} & modules
