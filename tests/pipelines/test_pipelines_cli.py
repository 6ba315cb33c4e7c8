"""``keel pipelines run|show|list`` through the real console script, as a user runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keel.store import open_store

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"

MODULE = textwrap.dedent(
    """
    import keel


    @keel.step
    def numbers(n: int = 4) -> list[int]:
        print("numbers ran")
        return list(range(n))


    @keel.step
    def doubled(numbers: list[int]) -> list[int]:
        return [2 * x for x in numbers]


    @keel.step
    def total(doubled: list[int]) -> int:
        return sum(doubled)


    @keel.step
    def count(numbers: list[int]) -> int:
        return len(numbers)


    pipeline = keel.Pipeline("cli-demo", [numbers, doubled, total, count])
    """
)


def keel_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [KEEL, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=180
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _latest(keel_home: Path) -> dict[str, str]:
    with open_store(f"sqlite:///{keel_home / 'keel.db'}") as store:
        run = store.pipelines.list_pipeline_runs(max_results=1)[0]
    return {s.name: s.status.value for s in run.steps}


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "cli_demo_pipeline.py"
    path.write_text(MODULE)
    return path


def test_run_rerun_and_edit_rerun_only_the_changed_step(module: Path, keel_home: Path) -> None:
    out = keel_cli("pipelines", "run", f"{module}:pipeline", "--param", "n=5").stdout
    assert "cli-demo" in out and "FINISHED" in out and "keel pipelines show" in out
    assert set(_latest(keel_home).values()) == {"FINISHED"}

    out = keel_cli("pipelines", "run", f"{module}:pipeline", "-p", "n=5", "-x", "process").stdout
    assert "cache hit" in out
    assert set(_latest(keel_home).values()) == {"CACHED"}

    # a comment or a docstring is not a change; a changed body is
    module.write_text(
        MODULE.replace(
            "return [2 * x for x in numbers]", "# now triples\n    return [3 * x for x in numbers]"
        )
    )
    keel_cli("pipelines", "run", f"{module}:pipeline", "-p", "n=5")
    assert _latest(keel_home) == {
        "numbers": "CACHED",
        "doubled": "FINISHED",
        "total": "FINISHED",
        "count": "CACHED",
    }


def test_show_and_list(module: Path) -> None:
    out = keel_cli("pipelines", "run", str(module)).stdout  # ":pipeline" may be left out
    run_id = out.rsplit("keel pipelines show", 1)[1].split()[0]
    shown = keel_cli("pipelines", "show", run_id, "--logs").stdout
    for text in ("cli-demo", "numbers", "doubled", "total", "count", "FINISHED", "numbers ran"):
        assert text in shown
    listed = keel_cli("pipelines", "list").stdout
    assert run_id in listed and "cli-demo" in listed


def test_failures_and_bad_input_are_one_line_errors(module: Path, tmp_path: Path) -> None:
    proc = keel_cli("pipelines", "run", f"{module}:pipeline", "-p", "n=lots", check=False)
    assert proc.returncode == 1
    assert "param 'n' of step 'numbers' got 'lots'" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = keel_cli("pipelines", "run", f"{module}:nope", check=False)
    assert proc.returncode == 1 and "its pipelines are: pipeline" in proc.stderr
    proc = keel_cli("pipelines", "run", str(tmp_path / "missing.py"), check=False)
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    proc = keel_cli("pipelines", "run", f"{tmp_path}:pipeline", check=False)
    assert proc.returncode == 1 and "is a folder; give the .py file" in proc.stderr
    proc = keel_cli("pipelines", "run", f"{module}:pipeline", "-p", "n", check=False)
    assert proc.returncode == 1 and "is not KEY=VALUE" in proc.stderr
    proc = keel_cli("pipelines", "show", "ffff", check=False)
    assert proc.returncode == 1 and "no pipeline run id starts with 'ffff'" in proc.stderr

    failing = tmp_path / "cli_failing_pipeline.py"
    failing.write_text(MODULE.replace("return sum(doubled)", "raise RuntimeError('no sums')"))
    proc = keel_cli("pipelines", "run", str(failing), check=False)
    assert proc.returncode == 1
    assert "FAILED" in proc.stdout and "RuntimeError: no sums" in proc.stdout
    assert "total: RuntimeError: no sums" in proc.stderr


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def broken(:\n", "has a syntax error"),
        ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
        ("import no_such_module_anywhere\n", "No module named 'no_such_module_anywhere'"),
    ],
    ids=["syntax-error", "raises-at-import", "imports-a-missing-module"],
)
def test_a_module_that_fails_to_import_is_a_one_line_error(
    tmp_path: Path, source: str, expected: str
) -> None:
    broken = tmp_path / "cli_broken_pipeline.py"
    broken.write_text(source)
    proc = keel_cli("pipelines", "run", f"{broken}:pipeline", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "unexpected error" not in proc.stderr
    assert expected in proc.stderr and "cli_broken_pipeline" in proc.stderr
    assert "give a module importable from" not in proc.stderr  # the file exists
    assert len(proc.stderr.strip().splitlines()) == 1
    debug = keel_cli("--debug", "pipelines", "run", f"{broken}:pipeline", check=False)
    assert "Traceback" in debug.stderr and "cli_broken_pipeline.py" in debug.stderr


def test_an_unknown_param_names_the_pipelines_params(module: Path) -> None:
    proc = keel_cli("pipelines", "run", f"{module}:pipeline", "-p", "zzz.n=1", check=False)
    assert proc.returncode == 1
    assert "'zzz.n' is not a param of any step; the pipeline's params are: n" in proc.stderr
