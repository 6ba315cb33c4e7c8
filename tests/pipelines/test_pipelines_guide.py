"""The examples in docs/guides/pipelines.md run as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
GUIDE = ROOT / "docs" / "guides" / "pipelines.md"


def test_guide_examples_run(client: Any, capsys: Any) -> None:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) == 2
    data = Path("data")
    data.mkdir()
    shutil.copy(ROOT / "examples" / "02-etl-pipeline" / "data" / "wine_raw.csv", data)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(blocks[0], "guide-1", "exec"), namespace)
    out = capsys.readouterr().out
    assert "FINISHED ('load', 'clean', 'split') ()" in out
    exec(compile(blocks[1], "guide-2", "exec"), namespace)
    assert "['source:wine_raw.csv']" in capsys.readouterr().out
