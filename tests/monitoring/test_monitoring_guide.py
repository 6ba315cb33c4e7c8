"""The examples in docs/guides/monitoring.md run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "monitoring.md"


def test_guide_examples_run(capsys: Any) -> None:
    # the section "Alerts, metrics and reports" has its own test (test_alerts_guide.py)
    drift_part = GUIDE.read_text().split("\n## Alerts, metrics and reports")[0]
    blocks = re.findall(r"```python\n(.*?)```", drift_part, flags=re.S)
    assert len(blocks) == 2
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(blocks[0], "guide-1", "exec"), namespace)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "True ('age', 'city')"
    assert lines[1].startswith("wasserstein 0.") and lines[1].endswith("0.1 True")
    assert lines[2] == "('rome',)"
    assert lines[3] == "psi none ks"
    assert Path("drift.html").read_text().startswith("<!DOCTYPE html>")
    exec(compile(blocks[1], "guide-2", "exec"), namespace)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["wasserstein True", "2000"]


def test_cli_examples_name_real_options() -> None:
    text = GUIDE.read_text()
    for option in re.findall(r"^\$ keel drift .*$", text, flags=re.M):
        for flag in re.findall(r"--[a-z-]+", option):
            assert flag in {"--columns", "--test", "--json", "--html", "--fail-on-drift"}, flag
