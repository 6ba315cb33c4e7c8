"""``keel features materialize``, run as the real console script."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd

KEEL = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEEL, *args], capture_output=True, text=True, env=env or os.environ.copy(), timeout=120
    )


def test_materialize_by_view_and_end(keel_home: Path, tmp_path: Path) -> None:
    pd.DataFrame(
        {
            "customer_id": [1, 2, 1],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-05"], utc=True),
            "amount": [1.0, 2.0, 3.0],
        }
    ).to_parquet(tmp_path / "tx.parquet")
    (tmp_path / "features.yaml").write_text(
        f"""\
entities:
  - name: customer
    join_keys: {{customer_id: int64}}
feature_views:
  - name: spend
    entities: [customer]
    timestamp: ts
    source: {{parquet: {tmp_path / "tx.parquet"}}}
    features: {{amount: float64}}
"""
    )
    assert run_cli("features", "apply", str(tmp_path / "features.yaml")).returncode == 0
    done = run_cli("features", "materialize", "--view", "spend", "--end", "2024-01-03", "--json")
    assert done.returncode == 0, done.stderr
    (view,) = json.loads(done.stdout)["views"]
    assert (view["view"], view["rows"], view["full"]) == ("spend", 2, True)
    assert view["watermark"] == "2024-01-02T00:00:00+00:00"
    assert view["lag_seconds"] == 3 * 86400
    table = run_cli("features", "materialize")
    assert table.returncode == 0, table.stderr
    assert "spend" in table.stdout and "2024-01-05 00:00:00" in table.stdout

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KEEL_ONLINE_STORE": f"redis://127.0.0.1:{port}/0"}
    down = run_cli("features", "materialize", env=env)
    assert down.returncode != 0
    assert f"redis://127.0.0.1:{port}/0" in down.stderr and "Traceback" not in down.stderr
    bad = run_cli("features", "materialize", "--end", "tuesday")
    assert bad.returncode != 0 and "'tuesday' is not a time" in bad.stderr
