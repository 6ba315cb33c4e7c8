"""Schemathesis against the server's own OpenAPI description: no 500, and no answer that
contradicts the description (status code, content type, headers, body schema).

Schemathesis' CLI runs a bounded number of generated requests per operation
(``KEEL_FUZZ_EXAMPLES``, default 5; the examples, coverage and fuzzing phases), as the
server administrator in project ``default`` of a server of this module's own, so every
operation is reached past the access guard. Access control itself is tested, route by
route and caller by caller, in test_access_table.py; this test leaves schemathesis'
authentication probes out (they would trip the failed-login limiter). Its
``negative_data_rejection`` and ``positive_data_acceptance`` checks are left out too: the
server validates JSON leniently where pydantic does (``1`` for ``1.0``), and its rules
for names, roles and hashes are stricter than a JSON schema can say.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keel_server import KeelServer

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("schemathesis is required under CI=true (the dev extra installs it)")
        pytest.skip("schemathesis is not installed (pip install 'keel[dev]')")
    return found


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeelServer]:
    running = KeelServer(tmp_path_factory.mktemp("fuzz")).start(init_admin=True)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.slow
def test_the_api_keeps_its_own_description(fuzzed: KeelServer, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text('[parameters]\n"path.project" = "default"\n')
    examples = os.environ.get("KEEL_FUZZ_EXAMPLES", "5")
    done = subprocess.run(
        [
            _schemathesis(),
            "--config-file",
            str(config),
            "run",
            f"{fuzzed.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {fuzzed.admin_token}",
            "--max-examples",
            examples,
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--generation-deterministic",
            "--workers",
            "1",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-6000:]
    assert "generated" in report and " 0 passed" not in report
