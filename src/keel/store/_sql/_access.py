"""Access on SQL: projects, users, API tokens, roles across projects and project objects.

Every change is audited in the ``_system`` chain in its own transaction: the chain's
head is locked first, which also serialises concurrent changes (two creations of one
name cannot both pass the existence check).

Tokens: the secret is ``keel_<id>_<secret>``, where ``id`` is 12 hex characters (48
random bits, the row's key) and ``secret`` 43 base64url characters (256 random bits).
The store keeps the SHA-256 of the whole string: a fast hash is enough for a secret
with 256 bits of entropy (no dictionary to try, no salt needed), and it costs
microseconds per request where a password hash would cost tens of milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keel._clock import now_ms
from keel.errors import ConflictError, InvalidArgumentError, NotFoundError, show_input
from keel.store._access import (
    SYSTEM_PROJECT,
    TOKEN_PREFIX,
    AccessStore,
    Identity,
    Project,
    TokenInfo,
    User,
    check_project_name,
    check_user_name,
)
from keel.store._audit import AuditEntry, highest_role
from keel.store._sql._access_rows import (
    project_objects as _objects,
    projects as _projects,
    tokens as _tokens,
    users as _users,
)
from keel.store._sql._audit import append_event, lock_chain
from keel.store._sql._audit_rows import roles as _roles
from keel.store._sql._database import Database
from keel.store._sql._objects import add_objects, is_sha256

__all__ = ["SqlAccessStore"]

_TOKEN = re.compile(r"^keel_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
# Compared against when a token id is unknown, so that path does the same work.
_NO_HASH = "0" * 64
# last_used_at is written at most this often per token (ms): authentication stays a read.
_LAST_USED_EVERY_MS = 60_000
_MAX_TOKEN_NAME = 128
_MAX_DESCRIPTION = 2000


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _new_secret(token_id: str) -> str:
    random_part = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return f"{TOKEN_PREFIX}{token_id}_{random_part}"


def _project(row: Any) -> Project:
    return Project(row.name, row.description, int(row.created_at), row.created_by)


def _user(row: Any) -> User:
    return User(row.name, bool(row.admin), bool(row.disabled), int(row.created_at), row.created_by)


def _token(row: Any) -> TokenInfo:
    def opt(value: Any) -> int | None:
        return None if value is None else int(value)

    return TokenInfo(
        id=row.id,
        user=row.user,
        name=row.name,
        created_at=int(row.created_at),
        created_by=row.created_by,
        expires_at=opt(row.expires_at),
        revoked_at=opt(row.revoked_at),
        last_used_at=opt(row.last_used_at),
    )


class SqlAccessStore(AccessStore):
    """:class:`AccessStore` over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def _audit(conn: Connection, entry: AuditEntry) -> None:
        append_event(conn, entry, SYSTEM_PROJECT)

    # -- projects -----------------------------------------------------------------------

    def create_project(self, name: str, description: str = "", *, actor: str) -> Project:
        check_project_name(name)
        if not isinstance(description, str) or len(description) > _MAX_DESCRIPTION:
            raise InvalidArgumentError(
                f"project description is invalid: use text of at most {_MAX_DESCRIPTION} characters"
            )
        project = Project(name, description, now_ms(), actor)
        with self._db.write() as conn:
            lock_chain(conn, SYSTEM_PROJECT)
            if self._project_row(conn, name) is not None:
                raise ConflictError(
                    f"project {name!r} already exists; use it, or pick another name"
                )
            conn.execute(
                _projects.insert(),
                {
                    "name": name,
                    "description": description,
                    "created_at": project.created_at,
                    "created_by": actor,
                },
            )
            self._audit(
                conn,
                AuditEntry(
                    actor,
                    "project.create",
                    "project",
                    name,
                    after={"name": name, "description": description},
                ),
            )
        return project

    @staticmethod
    def _project_row(conn: Connection, name: str) -> Any:
        return conn.execute(sa.select(_projects).where(_projects.c.name == name)).first()

    def get_project(self, name: str) -> Project:
        with self._db.read() as conn:
            row = self._project_row(conn, name)
        if row is None:
            raise NotFoundError(
                f"project {show_input(name)} does not exist; `keel projects list` shows the "
                "projects, `keel projects create NAME` makes one"
            )
        return _project(row)

    def list_projects(self) -> list[Project]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(_projects).order_by(_projects.c.name)).all()
        return [_project(r) for r in rows]

    # -- users --------------------------------------------------------------------------

    @staticmethod
    def _user_row(conn: Connection, name: str) -> Any:
        return conn.execute(sa.select(_users).where(_users.c.name == name)).first()

    @staticmethod
    def _unknown_user(name: str) -> NotFoundError:
        return NotFoundError(
            f"user {show_input(name)} does not exist; `keel users list` shows the users"
        )

    def create_user(self, name: str, admin: bool = False, *, actor: str) -> User:
        check_user_name(name)
        user = User(name, bool(admin), False, now_ms(), actor)
        with self._db.write() as conn:
            lock_chain(conn, SYSTEM_PROJECT)
            if self._user_row(conn, name) is not None:
                raise ConflictError(f"user {name!r} already exists; pick another name")
            conn.execute(
                _users.insert(),
                {
                    "name": name,
                    "admin": user.admin,
                    "disabled": False,
                    "created_at": user.created_at,
                    "created_by": actor,
                },
            )
            self._audit(
                conn,
                AuditEntry(
                    actor, "user.create", "user", name, after={"name": name, "admin": user.admin}
                ),
            )
        return user

    def get_user(self, name: str) -> User:
        with self._db.read() as conn:
            row = self._user_row(conn, name)
        if row is None:
            raise self._unknown_user(name)
        return _user(row)

    def list_users(self) -> list[User]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(_users).order_by(_users.c.name)).all()
        return [_user(r) for r in rows]

    def set_user_disabled(self, name: str, disabled: bool, *, actor: str) -> User:
        disabled = bool(disabled)
        with self._db.write() as conn:
            lock_chain(conn, SYSTEM_PROJECT)
            row = self._user_row(conn, name)
            if row is None:
                raise self._unknown_user(name)
            if bool(row.disabled) == disabled:
                return _user(row)  # nothing changes, nothing to audit
            conn.execute(_users.update().where(_users.c.name == name).values(disabled=disabled))
            self._audit(
                conn,
                AuditEntry(
                    actor,
                    "user.disable" if disabled else "user.enable",
                    "user",
                    name,
                    before={"disabled": not disabled},
                    after={"disabled": disabled},
                ),
            )
            return _user(self._user_row(conn, name))

    # -- tokens -------------------------------------------------------------------------

    def create_token(
        self, user: str, name: str, expires_at: int | None = None, *, actor: str
    ) -> tuple[TokenInfo, str]:
        if (
            not isinstance(name, str)
            or not name.strip()
            or len(name) > _MAX_TOKEN_NAME
            or not name.isprintable()
        ):
            raise InvalidArgumentError(
                f"token name {show_input(name)} is invalid: use 1-{_MAX_TOKEN_NAME} printable "
                "characters (e.g. 'laptop' or 'ci')"
            )
        now = now_ms()
        if expires_at is not None and (
            isinstance(expires_at, bool) or not isinstance(expires_at, int) or expires_at <= now
        ):
            raise InvalidArgumentError(
                f"token expiry {show_input(expires_at)} is not a time in the future (ms since "
                "the epoch); leave it out for a token that does not expire"
            )
        with self._db.write() as conn:
            lock_chain(conn, SYSTEM_PROJECT)
            row = self._user_row(conn, user)
            if row is None:
                raise self._unknown_user(user)
            if row.disabled:
                raise ConflictError(
                    f"user {user!r} is disabled and cannot get tokens; enable the user first "
                    "(keel users enable)"
                )
            token_id = secrets.token_hex(6)
            while conn.execute(sa.select(_tokens.c.id).where(_tokens.c.id == token_id)).first():
                token_id = secrets.token_hex(6)  # pragma: no cover - 1 in 2**48
            secret = _new_secret(token_id)
            info = TokenInfo(token_id, user, name, now, actor, expires_at, None, None)
            conn.execute(
                _tokens.insert(),
                {
                    "id": token_id,
                    "user": user,
                    "name": name,
                    "secret_hash": _hash(secret),
                    "created_at": now,
                    "created_by": actor,
                    "expires_at": expires_at,
                    "revoked_at": None,
                    "last_used_at": None,
                },
            )
            # Never the secret nor its hash: the chain is readable by auditors.
            self._audit(
                conn,
                AuditEntry(
                    actor,
                    "token.create",
                    "token",
                    token_id,
                    after={"user": user, "name": name, "expires_at": expires_at},
                ),
            )
        return info, secret

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        query = sa.select(_tokens).order_by(_tokens.c.created_at, _tokens.c.id)
        if user is not None:
            query = query.where(_tokens.c.user == user)
        with self._db.read() as conn:
            return [_token(r) for r in conn.execute(query)]

    def revoke_token(self, token_id: str, *, actor: str) -> TokenInfo:
        with self._db.write() as conn:
            lock_chain(conn, SYSTEM_PROJECT)
            row = conn.execute(sa.select(_tokens).where(_tokens.c.id == token_id)).first()
            if row is None:
                raise NotFoundError(
                    f"token {show_input(token_id)} does not exist; `keel tokens list` shows the "
                    "tokens (their ids are the 12 characters after 'keel_')"
                )
            if row.revoked_at is not None:
                return _token(row)
            now = now_ms()
            conn.execute(_tokens.update().where(_tokens.c.id == token_id).values(revoked_at=now))
            self._audit(
                conn,
                AuditEntry(
                    actor,
                    "token.revoke",
                    "token",
                    token_id,
                    before={"revoked_at": None},
                    after={"user": row.user, "revoked_at": now},
                ),
            )
            return _token(conn.execute(sa.select(_tokens).where(_tokens.c.id == token_id)).one())

    def authenticate(self, secret: str) -> Identity | None:
        found = _TOKEN.match(secret) if isinstance(secret, str) else None
        if found is None:
            return None
        token_id, digest = found.group(1), _hash(secret)
        query = (
            sa.select(_tokens, _users.c.admin, _users.c.disabled)
            .join(_users, _users.c.name == _tokens.c.user)
            .where(_tokens.c.id == token_id)
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        # Compared in constant time, and compared even for an unknown id.
        matches = hmac.compare_digest(digest, _NO_HASH if row is None else str(row.secret_hash))
        if row is None or not matches:
            return None
        now = now_ms()
        if row.revoked_at is not None or row.disabled:
            return None
        if row.expires_at is not None and now >= int(row.expires_at):
            return None
        if row.last_used_at is None or now - int(row.last_used_at) >= _LAST_USED_EVERY_MS:
            self._record_use(token_id, now)
        expires = None if row.expires_at is None else int(row.expires_at)
        return Identity(row.user, bool(row.admin), token_id, expires)

    def _record_use(self, token_id: str, now: int) -> None:
        stale = sa.or_(
            _tokens.c.last_used_at.is_(None),
            _tokens.c.last_used_at <= now - _LAST_USED_EVERY_MS,
        )
        with self._db.write() as conn:
            # Conditional: of several requests in the same minute, one writes.
            conn.execute(
                _tokens.update().where(_tokens.c.id == token_id, stale).values(last_used_at=now)
            )

    # -- roles across projects ----------------------------------------------------------

    def role_in(self, user: str, project: str) -> str | None:
        with self._db.read() as conn:
            row = self._user_row(conn, user)
            if row is not None and row.disabled:
                return None
            if row is not None and row.admin:
                return "admin"
            granted = conn.execute(
                sa.select(_roles.c.role).where(_roles.c.project == project, _roles.c.user == user)
            ).scalars()
            return highest_role(granted)

    # -- objects a project may read -----------------------------------------------------

    def project_has_object(self, project: str, sha256: str) -> bool:
        with self._db.read() as conn:
            found = conn.execute(
                sa.select(_objects.c.sha256).where(
                    _objects.c.project == project, _objects.c.sha256 == sha256
                )
            ).first()
        return found is not None

    def add_project_objects(self, project: str, shas: Iterable[str]) -> None:
        check_project_name(project)
        shas = list(shas)
        bad = [s for s in shas if not is_sha256(s)]
        if bad:
            raise InvalidArgumentError(
                f"object id {show_input(bad[0])} is not a sha256 hex digest (64 characters 0-9a-f)"
            )
        if shas:
            with self._db.write() as conn:
                add_objects(conn, project, shas)
