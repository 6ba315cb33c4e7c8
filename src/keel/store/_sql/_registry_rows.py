"""ORM rows of the model registry (migration ``registry_0001``)."""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._sql._base import Base

__all__ = [
    "ALIASES",
    "FILES",
    "GATES",
    "HISTORY",
    "MODELS",
    "VERSIONS",
    "AliasHistoryRow",
    "GateResultRow",
    "ModelAliasRow",
    "ModelFileRow",
    "ModelVersionRow",
    "RegisteredModelRow",
]


class RegisteredModelRow(Base):
    __tablename__ = "registered_models"
    name: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)
    created_by: Mapped[str] = mapped_column(sa.String(256))
    description: Mapped[str] = mapped_column(sa.Text)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (sa.Index("ix_model_versions_run_id", "run_id"),)
    name: Mapped[str] = mapped_column(
        sa.String(128), sa.ForeignKey("registered_models.name"), primary_key=True
    )
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    run_id: Mapped[str] = mapped_column(sa.String(32))
    flavor: Mapped[str] = mapped_column(sa.String(32))
    format: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[int] = mapped_column(sa.BigInteger)
    created_by: Mapped[str] = mapped_column(sa.String(256))
    description: Mapped[str] = mapped_column(sa.Text)
    signature: Mapped[str] = mapped_column(sa.Text)
    metrics: Mapped[str] = mapped_column(sa.Text)
    datasets: Mapped[str] = mapped_column(sa.Text)
    details: Mapped[str] = mapped_column(sa.Text)


class ModelFileRow(Base):
    __tablename__ = "model_version_files"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["name", "version"], ["model_versions.name", "model_versions.version"]
        ),
    )
    name: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    path: Mapped[str] = mapped_column(sa.String(1024), primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    role: Mapped[str] = mapped_column(sa.String(32))


class ModelAliasRow(Base):
    __tablename__ = "model_aliases"
    name: Mapped[str] = mapped_column(
        sa.String(128), sa.ForeignKey("registered_models.name"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    revision: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[int] = mapped_column(sa.BigInteger)
    updated_by: Mapped[str] = mapped_column(sa.String(256))


class AliasHistoryRow(Base):
    __tablename__ = "model_alias_history"
    __table_args__ = (sa.Index("ix_model_alias_history_name_alias", "name", "alias"),)
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    alias: Mapped[str] = mapped_column(sa.String(64))
    from_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    to_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    action: Mapped[str] = mapped_column(sa.String(32))
    actor: Mapped[str] = mapped_column(sa.String(256))
    time: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    gate_result_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)


class GateResultRow(Base):
    __tablename__ = "gate_results"
    __table_args__ = (sa.Index("ix_gate_results_name_version", "name", "version"),)
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    version: Mapped[int] = mapped_column(sa.Integer)
    alias: Mapped[str] = mapped_column(sa.String(64))
    passed: Mapped[bool] = mapped_column(sa.Boolean)
    forced: Mapped[bool] = mapped_column(sa.Boolean)
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    checks: Mapped[str] = mapped_column(sa.Text)
    policy: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)
    actor: Mapped[str] = mapped_column(sa.String(256))


# The Core tables of the rows above, for the SQL the registry store writes without the ORM.
MODELS = cast(sa.Table, RegisteredModelRow.__table__)
VERSIONS = cast(sa.Table, ModelVersionRow.__table__)
FILES = cast(sa.Table, ModelFileRow.__table__)
ALIASES = cast(sa.Table, ModelAliasRow.__table__)
HISTORY = cast(sa.Table, AliasHistoryRow.__table__)
GATES = cast(sa.Table, GateResultRow.__table__)
