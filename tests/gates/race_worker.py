"""One side of a promotion race: check, wait for the other process, then apply.

Usage: python race_worker.py STORE_URI HOME VERSION READY_DIR ID
Prints ``WON`` or ``CONFLICT <message>``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from keel.config import Settings
from keel.errors import ConflictError
from keel.gates import apply_promotion, check_promotion, parse_policy
from keel.tracking import Client

uri, home, version, ready_dir, ident = sys.argv[1:6]
client = Client(uri, settings=Settings(home=Path(home), actor=f"proc-{ident}"))
policy = parse_policy("checks:\n  - metric: f1_macro >= 0.5\n")
plan = check_promotion("iris", int(version), "champion", policy, client=client)
Path(ready_dir, ident).touch()
deadline = time.monotonic() + 60
while len(list(Path(ready_dir).iterdir())) < 2:
    if time.monotonic() > deadline:
        print("TIMEOUT")
        sys.exit(2)
    time.sleep(0.01)
try:
    apply_promotion(plan, client=client)
    print("WON")
except ConflictError as exc:
    print(f"CONFLICT {exc}")
client.close()
