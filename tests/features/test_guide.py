"""Every example of docs/guides/features.md runs (or parses) as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "features.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), re.S)


def test_the_yaml_declarations_load(tmp_path: Path) -> None:
    from keel.features import load_declarations

    (text,) = blocks("yaml")
    path = tmp_path / "features.yaml"
    path.write_text(text)
    found = load_declarations(path)
    assert [v.name for v in found.views] == ["activity", "profile"]
    assert found.views[0].created_at == "loaded_at" and found.views[0].ttl == 30 * 86400
    assert found.services[0].features[-1] == "profile:tenure_days"


def test_the_python_declarations_build(tmp_path: Path) -> None:
    from keel.features import load_declarations

    (code,) = [b for b in blocks("python") if "from keel.features import Entity" in b]
    path = tmp_path / "defs.py"
    path.write_text(code)
    found = load_declarations(path)
    assert [d.name for d in found.all()] == ["customer", "activity", "churn"]


def test_the_tour_prints_what_the_guide_says(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    (code,) = [b for b in blocks("python") if "tour-activity" in b]
    exec(compile(code, str(GUIDE), "exec"), {"__name__": "guide"})
    printed = capsys.readouterr().out.splitlines()
    promised = [line.split("# -> ", 1)[1].strip() for line in code.splitlines() if "# -> " in line]
    assert printed[-len(promised) :] == promised
