"""What a run records about where it ran: source, interpreter, packages, host, user."""

from __future__ import annotations

import functools
import json
import platform
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["system_tags"]

_PACKAGES = (
    "keel",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "pyarrow",
    "xgboost",
    "lightgbm",
    "torch",
    "skops",
)


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _entry_point() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path:
        return str(Path(path).resolve())
    return sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"


@functools.cache
def _package_versions() -> str:
    from importlib import metadata

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return json.dumps(versions, sort_keys=True)


@functools.cache
def _source_tags(entry: str) -> dict[str, str]:
    # Computed once per process and entry point: git is a subprocess, and runs are
    # created by the thousand in searches.
    tags = {"keel.source.entry_point": entry}
    folder = Path(entry).parent if Path(entry).exists() else Path.cwd()
    commit = _git(["rev-parse", "HEAD"], folder)
    if commit:
        tags["keel.source.git_commit"] = commit
        status = _git(["status", "--porcelain", "--untracked-files=no"], folder)
        tags["keel.source.git_dirty"] = "true" if status else "false"
    return tags


def system_tags(user: str) -> dict[str, str]:
    """Tags recorded on every run: git commit and dirty flag (inside a repository),
    Python and key package versions, host, user and entry point."""
    tags = dict(_source_tags(_entry_point()))
    tags.update(
        {
            "keel.python": platform.python_version(),
            "keel.packages": _package_versions(),
            "keel.host": socket.gethostname(),
            "keel.user": user,
        }
    )
    return tags
