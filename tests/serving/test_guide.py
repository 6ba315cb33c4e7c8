"""Every example of docs/guides/serving.md runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "serving.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), re.S)


def test_the_python_tour_runs_and_prints_what_the_guide_says(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    (code,) = [b for b in blocks("python") if "async def tour" in b]
    exec(compile(code, str(GUIDE), "exec"), {"__name__": "guide"})
    printed = capsys.readouterr().out.splitlines()
    promised = [line.split("# -> ", 1)[1].strip() for line in code.splitlines() if "# -> " in line]
    assert printed[0] == promised[0]  # [0] iris/1 iris/1
    assert printed[1:3] == promised[1:3]
    assert printed[3].startswith("tree ")
    assert printed[4:] == promised[3:]


def test_the_endpoint_yaml_is_valid(tmp_path: Path) -> None:
    from keel.serving import load_endpoint_specs

    (text,) = blocks("yaml")
    path = tmp_path / "endpoint.yaml"
    path.write_text(text)
    (spec,) = load_endpoint_specs(path)
    assert [t.weight for t in spec.targets] == [90, 10]
    assert spec.shadow is not None and spec.sticky_header == "x-user-id"


def test_the_stored_endpoint_example_runs(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = [b for b in blocks("python") if "endpoints.create" in b]
    exec(compile(code, str(GUIDE), "exec"), {"__name__": "guide"})
    printed = capsys.readouterr().out.splitlines()
    promised = [line.split("# -> ", 1)[1].strip() for line in code.splitlines() if "# -> " in line]
    assert printed == promised
