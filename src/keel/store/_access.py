"""Projects, users and API tokens: the server-wide part of the store (``store.access``).

A :class:`Store` is bound to one project (``store.project``); its domains read and write
only that project's objects. What is not inside one project lives here: the list of
projects, the users, their API tokens, who may do what where (:meth:`AccessStore.role_in`)
and which content-addressed objects a project may read (``project_objects``).

Changes to projects, users and tokens are audited in the chain of the reserved project
``_system`` (:data:`SYSTEM_PROJECT`); a token's secret and its hash never are.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable
from dataclasses import dataclass

from keel.errors import InvalidArgumentError, show_input

__all__ = [
    "DEFAULT_PROJECT",
    "SYSTEM_PROJECT",
    "TOKEN_PREFIX",
    "AccessStore",
    "Identity",
    "Project",
    "TokenInfo",
    "User",
    "check_project_name",
    "check_user_name",
]

#: the project every store had before projects existed, and the one used when none is named
DEFAULT_PROJECT = "default"

#: the reserved project whose audit chain records server-wide changes (projects, users,
#: tokens); no user project can take this name (it does not match the name rule)
SYSTEM_PROJECT = "_system"

#: every API token starts with this
TOKEN_PREFIX = "keel_"  # noqa: S105 - a prefix, not a secret

_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_USER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,62}$")


def check_project_name(name: str, *, allow_system: bool = False) -> str:
    """Return ``name`` if it is a valid project name, else raise.

    A project name is 1-63 characters: lowercase letters, digits, ``-`` and ``_``,
    starting with a letter or digit. ``allow_system`` also accepts ``_system`` (a store
    may be bound to it to read the server-wide audit chain; no project can be created
    with that name).

    Raises:
        InvalidArgumentError: the name breaks the rule.
    """
    if allow_system and name == SYSTEM_PROJECT:
        return name
    if not isinstance(name, str) or not _PROJECT_NAME.match(name):
        raise InvalidArgumentError(
            f"project name {show_input(name)} is invalid: use 1-63 characters of a-z, 0-9, "
            "'-' and '_', starting with a letter or digit (e.g. 'fraud-models')"
        )
    return name


def check_user_name(name: str) -> str:
    """Return ``name`` if it is a valid user name (the project rule plus ``.`` and ``@``).

    Raises:
        InvalidArgumentError: the name breaks the rule.
    """
    if not isinstance(name, str) or not _USER_NAME.match(name):
        raise InvalidArgumentError(
            f"user name {show_input(name)} is invalid: use 1-63 characters of a-z, 0-9, "
            "'-', '_', '.' and '@', starting with a letter or digit (e.g. 'alice' or "
            "'alice@example.com')"
        )
    return name


@dataclass(frozen=True, slots=True)
class Project:
    """A namespace of experiments, datasets, pipelines and models; the unit of access control."""

    name: str
    description: str
    created_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class User:
    """Someone who authenticates with API tokens.

    Attributes:
        name: the user name (recorded as the actor of everything they do).
        admin: a server admin: holds ``admin`` in every project, creates projects and users.
        disabled: a disabled user's tokens authenticate no more.
    """

    name: str
    admin: bool
    disabled: bool
    created_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token as stored: everything but the secret (which exists only once).

    Attributes:
        id: the 12 hex characters that follow ``keel_`` in the secret.
        user: whom it authenticates.
        name: what the user called it (``laptop``, ``ci``).
        expires_at: ms since the epoch, or ``None`` (never expires).
        revoked_at: when it was revoked, or ``None``.
        last_used_at: when it last authenticated (updated at most once a minute).
    """

    id: str
    user: str
    name: str
    created_at: int
    created_by: str
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None

    def is_active(self, now: int) -> bool:
        """Whether the token is neither revoked nor expired at ``now`` (ms)."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token belongs to.

    Attributes:
        user: the user name.
        admin: whether the user is a server admin.
        token_id: the token that authenticated.
        expires_at: when the token expires (ms since the epoch; ``None``: never), so a
            server that remembers the answer for a moment does not outlive it.
    """

    user: str
    admin: bool
    token_id: str
    expires_at: int | None = None


class AccessStore(abc.ABC):
    """Projects, users, API tokens, roles across projects and per-project object access.

    Not bound to a project (the :class:`Store` it belongs to is). Every change is
    audited in the ``_system`` chain, in the same transaction.
    """

    # -- projects -----------------------------------------------------------------------

    @abc.abstractmethod
    def create_project(self, name: str, description: str = "", *, actor: str) -> Project:
        """Create a project; ``ConflictError`` if it exists, ``InvalidArgumentError`` for a bad name."""

    @abc.abstractmethod
    def get_project(self, name: str) -> Project:
        """The project; ``NotFoundError`` (naming the projects there are) otherwise."""

    @abc.abstractmethod
    def list_projects(self) -> list[Project]:
        """Every project, by name."""

    # -- users --------------------------------------------------------------------------

    @abc.abstractmethod
    def create_user(self, name: str, admin: bool = False, *, actor: str) -> User:
        """Create a user (a server admin if ``admin``); ``ConflictError`` if the name is taken."""

    @abc.abstractmethod
    def get_user(self, name: str) -> User:
        """The user; ``NotFoundError`` otherwise."""

    @abc.abstractmethod
    def list_users(self) -> list[User]:
        """Every user, by name."""

    @abc.abstractmethod
    def set_user_disabled(self, name: str, disabled: bool, *, actor: str) -> User:
        """Disable (or enable again) a user; a disabled user's tokens stop authenticating."""

    # -- tokens -------------------------------------------------------------------------

    @abc.abstractmethod
    def create_token(
        self, user: str, name: str, expires_at: int | None = None, *, actor: str
    ) -> tuple[TokenInfo, str]:
        """Create an API token for ``user``; returns it and its secret.

        The secret (``keel_<12 hex id>_<43 base64url characters>``, 256 random bits)
        exists only in this return value: the store keeps its SHA-256.

        Raises:
            NotFoundError: no such user.
            ConflictError: the user is disabled.
            InvalidArgumentError: an empty or overlong name, or ``expires_at`` in the past.
        """

    @abc.abstractmethod
    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        """Tokens (of one user, or all), oldest first; revoked and expired ones included."""

    @abc.abstractmethod
    def revoke_token(self, token_id: str, *, actor: str) -> TokenInfo:
        """Revoke a token (revoking a revoked token changes nothing); ``NotFoundError`` otherwise."""

    @abc.abstractmethod
    def authenticate(self, secret: str) -> Identity | None:
        """The identity a token secret proves, or ``None``.

        ``None`` for a malformed, unknown, expired or revoked token and for a disabled
        user; the comparison is in constant time. Records the token's use (at most
        once a minute per token).
        """

    # -- roles across projects ----------------------------------------------------------

    @abc.abstractmethod
    def role_in(self, user: str, project: str) -> str | None:
        """The highest role ``user`` holds in ``project`` (server admins: ``admin``), or ``None``.

        A disabled user holds none.
        """

    # -- objects a project may read -----------------------------------------------------

    @abc.abstractmethod
    def project_has_object(self, project: str, sha256: str) -> bool:
        """Whether ``project`` references the content-addressed object ``sha256``."""

    @abc.abstractmethod
    def add_project_objects(self, project: str, shas: Iterable[str]) -> None:
        """Record that ``project`` may read these objects (idempotent)."""
