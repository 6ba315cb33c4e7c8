"""The no_regression example in docs/guides/registry.md runs as written and prints what it says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "registry.md"


def test_no_regression_with_a_dataset_and_target_example_runs(client: Any, capsys: Any) -> None:
    blocks = [
        b
        for b in re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
        if "dataset: iris-holdout" in b
    ]
    assert len(blocks) == 1
    exec(compile(blocks[0], "registry-guide", "exec"), {"__name__": "__main__"})
    printed = capsys.readouterr().out.strip()
    promised = re.search(r"^# (rejected - .*)$", blocks[0], flags=re.M)
    assert promised is not None and printed == promised.group(1)
    yaml = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), flags=re.S)
    from keel.gates import parse_policy

    for text in yaml:  # every policy shown in the guide parses
        assert parse_policy(text).checks
