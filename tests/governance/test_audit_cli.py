"""``keel audit head`` and ``keel audit verify --expect/--json``, through the real CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import keel.governance
from keel.store import AuditEntry

KEEL = Path(sys.executable).with_name("keel")


def _keel(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEEL_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [str(KEEL), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def events(client: Any, keel_home: Path) -> Path:
    """A store with five events: a role grant and four changes of no governed table."""
    keel.governance.grant_role("alice", "admin")
    for i in range(4):
        client.store.governance.append(AuditEntry("alice", "thing.change", "thing", f"t{i}"))
    return keel_home


def test_head_prints_hash_and_count_and_verify_accepts_it(events: Path) -> None:
    head = _keel(events, "audit", "head")
    assert head.returncode == 0, head.stderr
    anchor = head.stdout.strip()
    digest, count = anchor.split(":")
    assert len(digest) == 64 and count == "5"
    assert f"keel audit verify --expect {anchor}" in head.stderr
    as_json = json.loads(_keel(events, "audit", "head", "--json").stdout)
    assert as_json == {"hash": digest, "events": 5, "anchor": anchor}
    ok = _keel(events, "audit", "verify", "--expect", anchor)
    assert ok.returncode == 0, ok.stderr
    assert "audit chain intact: 5 event(s)" in ok.stdout
    assert "state matches the chain: 1 governed row(s)" in ok.stdout
    assert "anchor found: the head you kept (event #5) is in the chain; no events since" in (
        ok.stdout
    )


def test_events_deleted_from_the_end_pass_without_an_anchor_and_fail_with_one(
    events: Path,
) -> None:
    anchor = _keel(events, "audit", "head").stdout.strip()
    with sqlite3.connect(events / "keel.db") as db:
        db.execute("DELETE FROM audit_events WHERE seq = 5")
        (kept,) = db.execute("SELECT hash FROM audit_events WHERE seq = 4").fetchone()
        db.execute("UPDATE audit_head SET seq = 4, hash = ?", (kept,))
    plain = _keel(events, "audit", "verify")
    assert plain.returncode == 0  # no chain can see this without an outside anchor
    caught = _keel(events, "audit", "verify", "--expect", anchor)
    assert caught.returncode == 1
    text = " ".join(caught.stderr.split())
    assert "anchor NOT found: the head you kept is event #5" in text
    assert "1 event(s) were deleted from the end" in text
    assert "audit verification FAILED: 1 problem(s)" in text and "Traceback" not in text
    report = _keel(events, "audit", "verify", "--expect", anchor, "--json")
    assert report.returncode == 1
    data = json.loads(report.stdout)
    assert data["ok"] is False and data["chain"]["ok"] is True
    assert data["anchor"]["ok"] is False and data["head"]["seq"] == 4


def test_json_report_names_each_row_and_exit_code_is_one(events: Path) -> None:
    with sqlite3.connect(events / "keel.db") as db:
        db.execute(
            'INSERT INTO roles ("user", role, granted_by, granted_at) '
            "VALUES ('mallory', 'admin', 'mallory', 0)"
        )
    report = _keel(events, "audit", "verify", "--json")
    assert report.returncode == 1
    data = json.loads(report.stdout)
    assert [(m["table"], m["object_id"]) for m in data["mismatches"]] == [
        ("roles", "mallory:admin")
    ]
    assert "not explained by any audit event" in data["mismatches"][0]["problem"]


@pytest.mark.parametrize("anchor", ["abc", "z" * 64, "a" * 64 + ":five"])
def test_a_malformed_anchor_is_one_line(events: Path, anchor: str) -> None:
    bad = _keel(events, "audit", "verify", "--expect", anchor)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: --expect") and "keel audit head" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_head_of_a_broken_chain_is_refused(events: Path) -> None:
    with sqlite3.connect(events / "keel.db") as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    head = _keel(events, "audit", "head")
    assert head.returncode == 1 and head.stdout == ""
    assert "audit chain BROKEN at event #2" in head.stderr
    broken = _keel(events, "audit", "verify")
    assert broken.returncode == 1 and "audit chain BROKEN at event #2" in broken.stderr
