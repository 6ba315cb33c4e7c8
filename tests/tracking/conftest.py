"""A PostgreSQL store whose logins a test can refuse: a store made unreachable for real."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa


class LoginRole:
    """A PostgreSQL role owning the test's schema; the test refuses and allows its logins.

    Args:
        pg_schema_uri: the test schema's URI (as superuser); ``uri`` is the same store
            reached as the role.
    """

    def __init__(self, pg_schema_uri: str) -> None:
        url = sa.engine.make_url(pg_schema_uri)
        self.admin = sa.create_engine(pg_schema_uri, isolation_level="AUTOCOMMIT")
        schema = str(url.query["options"]).removeprefix("-csearch_path=")
        self.name = f"keel_login_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{self.name}" LOGIN')
            conn.exec_driver_sql(f'ALTER SCHEMA "{schema}" OWNER TO "{self.name}"')
        self.uri = url.set(username=self.name).render_as_string(hide_password=False)

    def refuse_logins(self) -> None:
        """New connections fail; the role's open ones are terminated."""
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER ROLE "{self.name}" NOLOGIN')
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"
                ),
                {"r": self.name},
            )

    def allow_logins(self) -> None:
        """Connections succeed again."""
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER ROLE "{self.name}" LOGIN')

    def drop(self) -> None:
        """Hand the role's objects back and drop it (the schema fixture drops the schema)."""
        self.refuse_logins()
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'REASSIGN OWNED BY "{self.name}" TO CURRENT_USER')
            conn.exec_driver_sql(f'DROP OWNED BY "{self.name}"')
            conn.exec_driver_sql(f'DROP ROLE "{self.name}"')
        self.admin.dispose()


@pytest.fixture
def login_role(pg_schema_uri: str) -> Iterator[LoginRole]:
    """A :class:`LoginRole` over the test's PostgreSQL schema."""
    role = LoginRole(pg_schema_uri)
    try:
        yield role
    finally:
        role.drop()
