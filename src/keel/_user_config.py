"""The user's own keel configuration: the server ``keel login`` saved, with its token.

One TOML file, ``$XDG_CONFIG_HOME/keel/config.toml`` (``~/.config/keel/config.toml``), or
the file ``KEEL_USER_CONFIG`` names. It holds a token, so it is written atomically with
mode 0600 in a folder of mode 0700, and a file others can read is refused. It is the
weakest source of settings: a project's keel.toml, ``KEEL_*`` variables and arguments all
win over it. Stdlib only.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from keel.errors import ConfigError

__all__ = ["forget_login", "read_user_config", "save_login", "user_config_path"]

_KEYS = ("store_uri", "token", "project")


def user_config_path() -> Path:
    """Where the user's configuration lives (it may not exist)."""
    named = os.environ.get("KEEL_USER_CONFIG")
    if named:
        return Path(named).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / "keel" / "config.toml"


def read_user_config() -> dict[str, Any]:
    """The saved settings (``store_uri``, ``token``, ``project``), empty when none are saved.

    Raises:
        ConfigError: the file is not valid TOML, or other users can read it.
    """
    path = user_config_path()
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise ConfigError(
            f"{path} holds an API token but other users can read it (mode "
            f"{stat.S_IMODE(st.st_mode):o}); run: chmod 600 {path}"
        )
    try:
        with path.open("rb") as fh:
            values = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix it or run keel logout") from None
    return {k: v for k, v in values.items() if k in _KEYS}


def _write(values: dict[str, Any]) -> Path:
    path = user_config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lines = ["# written by keel login; holds an API token: keep it private (mode 0600)"]
    lines += [f"{key} = {json.dumps(str(values[key]))}" for key in _KEYS if values.get(key)]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    tmp.replace(path)
    return path


def save_login(url: str, token: str, project: str | None = None) -> Path:
    """Save a server URL and its token (and the project to use); returns the file."""
    values = {"store_uri": url.rstrip("/"), "token": token}
    if project:
        values["project"] = project
    return _write(values)


def forget_login() -> Path | None:
    """Remove the saved server and token; returns the file, or ``None`` if none was saved."""
    path = user_config_path()
    if not path.exists():
        return None
    path.unlink()
    return path
