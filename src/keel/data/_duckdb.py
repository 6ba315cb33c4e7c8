"""DuckDB connections configured for keel's dataset work (memory limit, spill folder)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

__all__ = ["CSV_MEMORY_LIMIT", "DUCKDB_MEMORY_LIMIT", "connect_duckdb"]

#: Memory DuckDB may use while ingesting or profiling before it spills to disk.
DUCKDB_MEMORY_LIMIT = os.environ.get("KEEL_DUCKDB_MEMORY_LIMIT", "512MB")
#: Streaming a CSV needs little of DuckDB's memory; a lower limit keeps the ingest's peak
#: (DuckDB + batches in flight + the row group being encoded) about 60 MB lower.
CSV_MEMORY_LIMIT = os.environ.get("KEEL_DUCKDB_MEMORY_LIMIT", "256MB")


def connect_duckdb(
    tmp_dir: Path | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with keel's memory limit (spilling to ``tmp_dir``)."""
    import duckdb

    config: dict[str, Any] = {
        "memory_limit": memory_limit or DUCKDB_MEMORY_LIMIT,
        "preserve_insertion_order": True,
    }
    if threads:
        config["threads"] = threads
    if tmp_dir is not None:
        config["temp_directory"] = str(tmp_dir / "duckdb-spill")
    con = duckdb.connect(config=config)
    con.execute("SET enable_progress_bar = false")  # DuckDB's own bar prints to stdout
    return con
