"""Typed configuration, read once from ``KEEL_*`` variables and an optional ``keel.toml``.

Precedence, highest first: arguments passed to :class:`Settings`, ``KEEL_*`` environment
variables, the ``keel.toml`` file (``KEEL_CONFIG`` names it; by default ``./keel.toml``),
the server and token ``keel login`` saved in the user's config file
(:mod:`keel._user_config`), then the defaults: everything under ``./.keel/``.

Example::

    >>> from keel.config import Settings
    >>> Settings(home="/tmp/k").resolved_store_uri()
    'sqlite:////tmp/k/keel.db'
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from keel._redact import safe_uri
from keel.errors import ConfigError

__all__ = ["DEFAULT_PROJECT", "PROJECT_PATTERN", "Settings", "load_settings"]

_ENV_PREFIX = "KEEL_"

#: the project a store binds to when none is named
DEFAULT_PROJECT = "default"
#: what a project name looks like (lowercase, digits, ``_`` and ``-``; 1-63 characters)
PROJECT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _toml_path() -> Path:
    return Path(os.environ.get("KEEL_CONFIG", "keel.toml"))


def _toml_values() -> dict[str, Any]:
    """The keys of keel.toml (none when the file does not exist)."""
    path = _toml_path()
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix or remove it") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _env_values(fields: Any) -> dict[str, str]:
    """``KEEL_<FIELD>`` variables of the known fields (names matched case-insensitively)."""
    wanted = {f"{_ENV_PREFIX}{name}".upper(): name for name in fields}
    return {
        wanted[key.upper()]: value for key, value in os.environ.items() if key.upper() in wanted
    }


class Settings(BaseModel):
    """Everything keel needs to know about where it keeps things.

    Constructing one reads the sources in order of precedence: the keyword arguments,
    then ``KEEL_*`` variables, then keel.toml, then the defaults. (pydantic validates;
    the sources are read here rather than by pydantic-settings, whose import alone cost
    a third of the CLI's start-up: docs/decisions.md, issue 9.)

    Attributes:
        home: folder for the embedded defaults (SQLite file, artifacts).
        store_uri: metadata store URI: ``sqlite:///...``, ``postgresql+psycopg://...``, or
            a keel server's ``http://`` / ``https://`` URL; defaults to
            ``sqlite:///<home>/keel.db``.
        artifact_root: fsspec URL or folder for artifacts (or a keel server's URL);
            defaults to ``<home>/artifacts``.
        project: the project whose experiments, datasets, pipelines and models this
            process reads and writes (``KEEL_PROJECT``); ``default`` unless named.
        token: the API token sent to a keel server (``KEEL_TOKEN``). Never printed: it is
            left out of ``repr`` and masked by ``keel doctor`` and in error messages.
        metric_flush_interval: seconds between background flushes of buffered metrics.
        metric_flush_size: buffered metric values that trigger a flush.
        sqlite_synchronous: SQLite ``synchronous`` pragma; ``FULL`` survives power loss,
            ``NORMAL`` survives process crashes and is faster.
        actor: the user name recorded on runs and audit events (defaults to the OS user).
        cache_dir: this user's cache of verified copies of remote objects (dataset
            versions read from an ``s3://`` artifact root); defaults to
            ``$XDG_CACHE_HOME/keel`` or ``~/.cache/keel``. keel keeps it mode 0700 and
            refuses a folder that belongs to another user.
        online_store: the online feature store (``KEEL_ONLINE_STORE``): ``sqlite:///PATH``
            or ``redis://HOST:PORT/DB``; defaults to ``sqlite:///<home>/online.db``.
        progress: what ``keel.train`` and ``keel.sklearn.autolog`` print on stderr:
            unset shows a progress line when stderr is a terminal and one line when a
            run ends; true always shows both; false prints nothing.

    Raises:
        pydantic.ValidationError: a value is invalid or keel.toml has an unknown key
            (:func:`load_settings` turns it into a :class:`~keel.errors.ConfigError`).
        ConfigError: keel.toml is not valid TOML.
    """

    # hide_input_in_errors: a rejected value may be a secret (a token, a URI with a password)
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    home: Path = Path(".keel")
    store_uri: str | None = None
    artifact_root: str | None = None
    metric_flush_interval: float = Field(default=1.0, gt=0, le=3600)
    metric_flush_size: int = Field(default=5000, ge=1, le=1_000_000)
    sqlite_synchronous: Literal["FULL", "NORMAL", "OFF"] = "NORMAL"
    actor: str | None = None
    project: str = DEFAULT_PROJECT
    token: str | None = Field(default=None, repr=False)
    cache_dir: Path | None = None
    progress: bool | None = None
    online_store: str | None = Field(default=None, repr=False)

    def __init__(self, **values: Any) -> None:
        from keel._user_config import read_user_config

        sources = {
            **read_user_config(),
            **_toml_values(),
            **_env_values(type(self).model_fields),
            **values,
        }
        super().__init__(**sources)

    @field_validator("store_uri")
    @classmethod
    def _check_store_uri(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # psycopg 3 is the driver we ship; spell it out for SQLAlchemy.
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        if value.startswith(("sqlite:///", "postgresql+psycopg://", "http://", "https://")):
            return value
        raise ValueError(
            f"store_uri {safe_uri(value)!r} has an unknown scheme; use sqlite:///PATH, "
            "postgresql://USER@HOST:PORT/DB or a keel server's http(s)://HOST:PORT"
        )

    @field_validator("online_store")
    @classmethod
    def _check_online_store(cls, value: str | None) -> str | None:
        if value is None or value.startswith(("sqlite:///", "redis://", "rediss://", "unix://")):
            return value
        raise ValueError(
            f"online_store {safe_uri(value)!r} has an unknown scheme; use sqlite:///PATH or "
            "redis://HOST:PORT/DB"
        )

    @field_validator("project")
    @classmethod
    def _check_project(cls, value: str) -> str:
        if not PROJECT_PATTERN.match(value):
            raise ValueError(
                f"project {value[:80]!r} is not a project name; use 1-63 lowercase letters, "
                "digits, '_' or '-', starting with a letter or digit (like 'default' or 'fraud')"
            )
        return value

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value or any(c.isspace() or ord(c) < 32 for c in value):
            # the value itself is never echoed: it is a secret
            raise ValueError("token is empty or contains whitespace; set KEEL_TOKEN to the token")
        return value

    def resolved_store_uri(self) -> str:
        """The store URI in force (the SQLite default when none is set)."""
        if self.store_uri:
            return self.store_uri
        return f"sqlite:///{self.home.absolute() / 'keel.db'}"

    def resolved_artifact_root(self) -> str:
        """The artifact root in force: the one set, else the keel server the store is on,
        else ``<home>/artifacts``."""
        if self.artifact_root:
            return self.artifact_root
        if self.store_uri and self.store_uri.startswith(("http://", "https://")):
            return self.store_uri
        return str(self.home.absolute() / "artifacts")

    def resolved_cache_dir(self) -> Path:
        """The cache folder in force: ``cache_dir``, else ``$XDG_CACHE_HOME/keel``, else
        ``~/.cache/keel`` (a relative ``XDG_CACHE_HOME`` is ignored, as the XDG spec says).

        Raises:
            ConfigError: no home folder can be found and neither variable is set.
        """
        if self.cache_dir is not None:
            return self.cache_dir.expanduser().absolute()
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        if xdg and Path(xdg).is_absolute():
            return Path(xdg) / "keel"
        try:
            return Path.home() / ".cache" / "keel"
        except RuntimeError:
            raise ConfigError(
                "cannot find a cache folder: no home folder is known; set KEEL_CACHE_DIR "
                "(or XDG_CACHE_HOME) to a folder of your own"
            ) from None

    def resolved_actor(self) -> str:
        """The user name recorded as the actor of runs and changes."""
        if self.actor:
            return self.actor
        import getpass

        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation problems into a :class:`ConfigError`.

    Args:
        **overrides: values that win over the environment and keel.toml.

    Raises:
        ConfigError: a value is invalid or keel.toml has an unknown key.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(
            f"invalid keel configuration ({problems}); check KEEL_* variables and {_toml_path()}"
        ) from None
