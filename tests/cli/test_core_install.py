"""The CLI's error paths in an environment with only the core install (no extras).

The test virtualenv has every extra, and the extras bring packages keel itself must not
rely on (``click``, for one, comes with uvicorn and mlflow): a CLI that imported it
worked in the tests and crashed for a user. ``make test`` builds ``.venv-core`` with
``pip install -e .``'s equivalent and nothing else; these tests run its ``keel``. Where
it is absent they skip, except under ``CI=true``, where its absence fails them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE_VENV = Path(os.environ.get("KEEL_CORE_VENV", REPO / ".venv-core"))
CORE_PYTHON = CORE_VENV / "bin" / "python"
CORE_KEEL = CORE_VENV / "bin" / "keel"


@pytest.fixture(scope="module", autouse=True)
def _core_install() -> None:
    if not CORE_KEEL.exists():
        message = (
            f"no core-only install at {CORE_VENV}: `make test` builds it "
            "(or: python -m venv .venv-core && .venv-core/bin/pip install -e .)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; it is required under CI=true")
        pytest.skip(message)


def _env() -> dict[str, str]:
    env = os.environ.copy()
    # uv installs no .pyc files; let the first run write them, as a user's Python does
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def core(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CORE_KEEL), *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=120,
    )


def test_the_core_install_has_no_extras_and_runs_this_tree() -> None:
    probe = (
        "import importlib.util, keel; "
        "print(keel.__file__); "
        "print(' '.join(m for m in ('click', 'optuna', 'polars', 'torch', 'skl2onnx', 'pytest') "
        "if importlib.util.find_spec(m)))"
    )
    proc = subprocess.run(
        [str(CORE_PYTHON), "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=_env(),
    )
    where, present = proc.stdout.splitlines()
    assert Path(where).is_relative_to(REPO / "src"), where
    assert present == "", f"the core install has packages it must not have: {present}"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["runs", "lst"], "No such command 'lst'"),
        (["datasets", "register"], "Missing argument"),
        (["models", "show", "iris", "--versoin", "3"], "No such option: --versoin"),
        (["runs", "list", "--limit", "abc"], "No such option: --limit"),
        (["runs", "list", "--max", "abc"], "Invalid value"),
        (["nosuchgroup"], "No such command 'nosuchgroup'"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_usage_errors_print_the_usage_and_exit_2(args: list[str], problem: str) -> None:
    proc = core(*args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "ModuleNotFoundError" not in proc.stderr
    assert proc.stderr.startswith("Usage: keel "), proc.stderr
    assert problem in proc.stderr
    assert proc.stdout == ""


def test_a_keel_error_is_one_line_and_exit_1(tmp_path: Path) -> None:
    proc = core("runs", "show", "0123abcd", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: "), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_commands_work_without_extras(tmp_path: Path) -> None:
    for args in (
        ["runs", "list"],
        ["datasets", "list"],
        ["models", "list"],
        ["endpoints", "list"],
        ["monitors", "list"],
        ["features", "list"],
        ["features", "materialize"],
        ["audit", "verify"],
    ):
        proc = core(*args, cwd=tmp_path)
        assert proc.returncode == 0, f"keel {' '.join(args)}: {proc.stderr}"
    doctor = core("doctor", cwd=tmp_path)
    assert doctor.returncode == 0, doctor.stderr
    assert "pip install 'keel[training]'" in doctor.stdout  # the extras are seen as absent
    serve = core("serve", "iris", cwd=tmp_path)  # the server needs the serving extra
    assert serve.returncode == 1 and "pip install 'keel[serving]'" in serve.stderr


def test_the_server_without_its_extra_names_the_extra_and_creates_nothing(
    tmp_path: Path, keel_home: Path
) -> None:
    proc = core("server", "--port", "1", "--init-admin", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == (
        "error: keel server needs fastapi, which is not installed; install the server with: "
        "pip install 'keel[server]'"
    )
    assert "keel_" not in proc.stdout  # no administrator was created
    assert not keel_home.exists()


def test_a_core_install_logs_to_a_server_with_a_token_and_is_refused_without(
    tmp_path: Path,
) -> None:
    """A second terminal (keel with no extras at all) works against a team server."""
    from keel_server import KeelServer

    server = KeelServer(tmp_path / "server").start(init_admin=True)
    try:
        script = (
            "import keel\n"
            "with keel.start_run(experiment='remote', run_name='second-terminal') as run:\n"
            "    keel.log_param('where', 'core')\n"
            "    keel.log_metric('acc', 0.75)\n"
            "print(run.id)\n"
        )
        env = {**_env(), "KEEL_STORE_URI": server.url, "KEEL_HOME": str(tmp_path / "client")}
        refused = subprocess.run(
            [str(CORE_PYTHON), "-c", script], capture_output=True, text=True, env=env, timeout=120
        )
        assert refused.returncode != 0
        assert "needs an API token" in refused.stderr
        env["KEEL_TOKEN"] = server.admin_token
        logged = subprocess.run(
            [str(CORE_PYTHON), "-c", script], capture_output=True, text=True, env=env, timeout=120
        )
        assert logged.returncode == 0, logged.stderr
        run_id = logged.stdout.strip()
        listed = subprocess.run(
            [str(CORE_KEEL), "runs", "list", "--experiment", "remote"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        assert listed.returncode == 0, listed.stderr
        assert run_id[:8] in listed.stdout and "0.75" in listed.stdout
        store = server.client()
        try:
            run = store.tracking.get_run(run_id)
            assert run.params == {"where": "core"} and run.metrics == {"acc": 0.75}
            assert run.user == "admin"  # recorded as the token's user, not the OS user
        finally:
            store.close()
    finally:
        server.stop()
