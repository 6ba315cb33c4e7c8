"""One side of a promotion race: check, wait for the other process, then apply.

Usage: python race_worker.py STORE_URI HOME VERSION READY_DIR ID
Prints ``WON`` or ``CONFLICT <message>``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from keel.config import Settings
from keel.context import Context
from keel.errors import ConflictError
from keel.gates import apply_promotion, check_promotion, parse_policy

uri, home, version, ready_dir, ident = sys.argv[1:6]
context = Context(Settings(home=Path(home), store_uri=uri, actor=f"proc-{ident}"))
policy = parse_policy("checks:\n  - metric: f1_macro >= 0.5\n")
plan = check_promotion("iris", int(version), "champion", policy, context=context)
Path(ready_dir, ident).touch()
deadline = time.monotonic() + 60
while len(list(Path(ready_dir).iterdir())) < 2:
    if time.monotonic() > deadline:
        print("TIMEOUT")
        sys.exit(2)
    time.sleep(0.01)
try:
    apply_promotion(plan, context=context)
    print("WON")
except ConflictError as exc:
    print(f"CONFLICT {exc}")
context.close()
