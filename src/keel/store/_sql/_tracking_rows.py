"""ORM rows of the tracking domain (the migration ``tracking_0001`` creates them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._sql._base import Base

__all__ = [
    "ArtifactRow",
    "ExperimentRow",
    "ExperimentTagRow",
    "LatestMetricRow",
    "MetricRow",
    "ParamRow",
    "RunRow",
    "RunTagRow",
]

_ID = sa.String(32)
_KEY = sa.String(250)
_FLOAT = sa.Float(precision=53)


class ExperimentRow(Base):
    __tablename__ = "experiments"
    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(256), unique=True)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)


class ExperimentTagRow(Base):
    __tablename__ = "experiment_tags"
    experiment_id: Mapped[str] = mapped_column(
        _ID, sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(_KEY, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    experiment_id: Mapped[str] = mapped_column(
        _ID, sa.ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(256))
    status: Mapped[str] = mapped_column(sa.String(16))
    start_time: Mapped[int] = mapped_column(sa.BigInteger)
    end_time: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    parent_run_id: Mapped[str | None] = mapped_column(
        _ID, sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    user: Mapped[str] = mapped_column(sa.String(256))
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class ParamRow(Base):
    __tablename__ = "run_params"
    run_id: Mapped[str] = mapped_column(
        _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(_KEY, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class RunTagRow(Base):
    __tablename__ = "run_tags"
    run_id: Mapped[str] = mapped_column(
        _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(_KEY, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class MetricRow(Base):
    """One value of a metric series. SQLite stores NaN as NULL, hence ``is_nan``."""

    __tablename__ = "metrics"
    __table_args__ = (sa.Index("ix_metrics_run_key_step", "run_id", "key", "step"),)
    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    run_id: Mapped[str] = mapped_column(_ID, sa.ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(_KEY)
    step: Mapped[int] = mapped_column(sa.BigInteger)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    value: Mapped[float | None] = mapped_column(_FLOAT, nullable=True)
    is_nan: Mapped[bool] = mapped_column(sa.Boolean)


class LatestMetricRow(Base):
    """The value at the highest step of each metric, kept for fast search and sort."""

    __tablename__ = "latest_metrics"
    __table_args__ = (sa.Index("ix_latest_metrics_key_value", "key", "value"),)
    run_id: Mapped[str] = mapped_column(
        _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(_KEY, primary_key=True)
    step: Mapped[int] = mapped_column(sa.BigInteger)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    value: Mapped[float | None] = mapped_column(_FLOAT, nullable=True)
    is_nan: Mapped[bool] = mapped_column(sa.Boolean)


class ArtifactRow(Base):
    __tablename__ = "run_artifacts"
    run_id: Mapped[str] = mapped_column(
        _ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(sa.String(1024), primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[int] = mapped_column(sa.BigInteger)
