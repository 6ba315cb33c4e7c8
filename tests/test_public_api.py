"""The public surface is pinned, and importing keel stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import keel
import keel.artifacts
import keel.store
import keel.tracking


def test_top_level_api_is_pinned() -> None:
    expected = {
        "__version__", "ActiveRun", "Client", "KeelError", "Pipeline", "active_run", "end_run",
        "log_artifact", "log_artifacts", "log_dict", "log_figure", "log_input", "log_metric",
        "log_metrics", "log_model", "log_param", "log_params", "log_text", "search_runs",
        "set_tag", "set_tags", "start_run", "step", "train",
        "datasets", "features", "governance", "models", "pipelines", "sklearn", "torch",
    }  # fmt: skip
    assert set(keel.__all__) == expected
    for name in keel.__all__:
        assert getattr(keel, name) is not None


def test_subpackages_export_what_they_declare() -> None:
    import keel.features

    for module in (keel.store, keel.tracking, keel.artifacts, keel.sklearn, keel.features):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


HEAVY = [
    "sqlalchemy",
    "pandas",
    "sklearn",
    "numpy",
    "pyarrow",
    "matplotlib",
    "torch",
    "shap",
    "fairlearn",
    "onnxruntime",
    "ray",
    "alembic",
    "lark",
    "duckdb",
    "polars",
]


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {m.split(".")[0] for m in json.loads(out.stdout.strip().splitlines()[-1])}


def test_import_keel_loads_no_heavy_library() -> None:
    assert not (_loaded_after("import keel") & set(HEAVY))


def test_cli_help_loads_no_heavy_library() -> None:
    code = (
        "import sys\nsys.argv = ['keel', '--help']\nfrom keel.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )
    assert not (_loaded_after(code) & set(HEAVY))
