"""The section "Monitors of an endpoint" of docs/guides/monitoring.md: its spec is a valid
monitor spec, and its commands name real commands and options."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
import yaml

from keel.cli import app
from keel.monitoring import parse_monitor_spec

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "monitoring.md"


def _section() -> str:
    _head, sep, section = GUIDE.read_text(encoding="utf-8").partition(
        "\n## Monitors of an endpoint\n"
    )
    assert sep
    return section


def test_the_spec_in_the_guide_is_valid() -> None:
    (text,) = re.findall(r"```yaml\n(.*?)```", _section(), flags=re.S)
    data = yaml.safe_load(text)
    assert data.pop("endpoint") == "credit"
    spec = parse_monitor_spec(data)
    assert spec.window.rows == 500 and len(spec.alerts) == 3 and len(spec.sinks) == 2


def test_the_commands_in_the_guide_exist() -> None:
    root = typer.main.get_command(app)
    lines = re.findall(r"^\$ keel (.*?)(?:\s+#.*)?$", _section(), flags=re.M)
    assert len(lines) >= 6
    for line in lines:
        words = line.split()
        group = root.commands[words[0]]  # type: ignore[attr-defined]
        command = group.commands[words[1]]
        known = {opt for p in command.params for opt in getattr(p, "opts", [])}
        for flag in (w for w in words[2:] if w.startswith("-")):
            assert flag in known, (line, flag)
