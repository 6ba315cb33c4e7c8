"""Hostile input against a real server: each refused with the right status, nothing changed.

After every attack the store is read back (through the administrator's token) and
compared with what it held before: no run, experiment, artifact, role or alias appeared
or moved, and no file was written outside the artifact root.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel_server import KeelServer

P = "/api/v1/projects/alpha"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeelServer]:
    """This module's server: JSON bodies are limited to 1 MiB and uploads to 2 MiB."""
    running = KeelServer(
        tmp_path_factory.mktemp("hostile"), args=("--max-body-mb", "1", "--max-upload-mb", "2")
    ).start(init_admin=True)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def seeded(cast: Any) -> Any:
    """Alpha holds an experiment with a finished run, an artifact, and a model with a champion."""
    from keel.store import ArtifactRecord, Metric, ModelFile, ModelVersionDraft, RunStatus

    editor = cast.store("editor")
    exp = editor.tracking.create_experiment("exp")
    run = editor.tracking.create_run(exp.id, name="r")
    editor.tracking.log_batch(run.id, [Metric("acc", 0.9, 0, 1)], params={"lr": "0.1"})
    data = b"model bytes"
    sha = hashlib.sha256(data).hexdigest()
    _upload(cast, "editor", sha, data)
    editor.tracking.record_artifact(run.id, ArtifactRecord("model.bin", len(data), sha, 1))
    editor.tracking.end_run(run.id, RunStatus.FINISHED)
    files = (ModelFile("model/model.bin", sha, len(data), "model"),)
    editor.registry.create_version(ModelVersionDraft("m", run.id, "sklearn", "skops", files), "x")
    editor.registry.create_version(
        ModelVersionDraft("m", run.id, "sklearn", "skops", files, description="v2"), "x"
    )
    admin = cast.store("server_admin")
    admin.registry.move_alias("m", "champion", 1, 0, "promote", "x")
    for s in (editor, admin):
        s.close()
    return cast


def _upload(cast: Any, who: str, sha: str, data: bytes) -> httpx.Response:
    return httpx.put(
        f"{cast.server.url}{P}/artifacts/{sha}", content=data, headers=cast.headers(who), timeout=30
    )


def _state(cast: Any) -> dict[str, Any]:
    """Everything an attack could change, read as the server administrator."""
    store = cast.store("server_admin")
    try:
        runs = store.tracking.search_runs([e.id for e in store.tracking.list_experiments()])
        return {
            "experiments": sorted(e.name for e in store.tracking.list_experiments()),
            "runs": sorted((r.id, r.status.value, tuple(sorted(r.metrics.items()))) for r in runs),
            "artifacts": [store.tracking.list_artifacts(r.id) for r in runs],
            "aliases": [(a.alias, a.version, a.revision) for a in store.registry.list_aliases("m")],
            "versions": [v.version for v in store.registry.list_versions("m")],
            "roles": sorted((g.user, g.role) for g in store.governance.list_roles()),
            "chain": store.governance.head(),
            "files": _files(cast.server.home),
        }
    finally:
        store.close()


def _files(home: Path) -> list[str]:
    skip = ("server.log", "keel.db", "keel.db-wal", "keel.db-shm", "user-config.toml")
    return sorted(
        str(p.relative_to(home)) for p in home.rglob("*") if p.is_file() and p.name not in skip
    )


@pytest.fixture
def unchanged(seeded: Any) -> Iterator[Any]:
    """Asserts, after the test, that the store is exactly as before it."""
    before = _state(seeded)
    yield seeded
    assert _state(seeded) == before


def _call(cast: Any, who: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {**cast.headers(who), **kw.pop("headers", {})}
    return httpx.request(method, f"{cast.server.url}{path}", headers=headers, timeout=30, **kw)


# -- paths that climb out ------------------------------------------------------------------

CLIMBS = [
    "../../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "%2Fetc%2Fpasswd",
    "..%5C..%5Cwindows",
    "abc%00def",
    "..\\..\\x",
    "0" * 63 + "%00",
]


@pytest.mark.parametrize("climb", CLIMBS)
def test_artifact_routes_refuse_paths_that_climb_out(unchanged: Any, climb: str) -> None:
    url = f"{unchanged.server.url}{P}/artifacts/{climb}"
    for method in ("PUT", "GET", "HEAD"):
        answer = httpx.request(
            method, url, headers=unchanged.headers("editor"), content=b"pwned", timeout=30
        )
        assert answer.status_code in (400, 404, 405), (method, climb, answer.status_code)
        if method == "GET":
            assert b"root:" not in answer.content


@pytest.mark.parametrize("path", ["../up.txt", "/etc/passwd", "a/../../b", "a\\b", "a\x00b"])
def test_artifact_records_that_climb_out_are_refused(unchanged: Any, path: str) -> None:
    store = unchanged.store("server_admin")
    try:
        run = store.tracking.search_runs([store.tracking.list_experiments()[0].id])[0]
    finally:
        store.close()
    record = {"path": path, "size": 1, "sha256": "a" * 64, "created_at": 1}
    answer = _call(
        unchanged, "editor", "PUT", f"{P}/runs/{run.id}/artifacts", json={"record": record}
    )
    assert answer.status_code in (400, 409)  # a bad path, or (first) a finished run
    assert answer.headers["content-type"] == "application/problem+json"


def test_dataset_and_model_names_that_climb_out_are_not_found(unchanged: Any) -> None:
    for path in (
        f"{P}/datasets/..%2F..%2Fetc/version",
        f"{P}/models/..%2Fm/versions/1",
        f"{P}/models/m%2F..%2F..%2Fx/aliases",
    ):
        answer = _call(unchanged, "editor", "GET", path)
        assert answer.status_code in (400, 404), (path, answer.status_code)


# -- uploads, sizes, filters -----------------------------------------------------------------


def test_an_upload_whose_bytes_do_not_match_its_sha256_is_refused(unchanged: Any) -> None:
    declared = hashlib.sha256(b"what I say").hexdigest()
    answer = _upload(unchanged, "editor", declared, b"what I send")
    assert answer.status_code == 422 and answer.json()["code"] == "ARTIFACT_CORRUPTED"
    assert _call(unchanged, "editor", "HEAD", f"{P}/artifacts/{declared}").status_code == 404
    assert not list(unchanged.server.home.rglob(declared))


def test_oversized_bodies_are_413_and_store_nothing(unchanged: Any) -> None:
    big = {"name": "x" * (2 * 1024**2)}
    declared = _call(unchanged, "editor", "POST", f"{P}/experiments", json=big)
    assert declared.status_code == 413 and declared.json()["code"] == "PAYLOAD_TOO_LARGE"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"name": "'
        for _ in range(3):
            yield b"y" * 1024**2
        yield b'"}'

    streamed = _call(
        unchanged,
        "editor",
        "POST",
        f"{P}/experiments",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    data = b"z" * (3 * 1024**2)
    upload = _upload(unchanged, "editor", hashlib.sha256(data).hexdigest(), data)
    assert upload.status_code == 413


@pytest.mark.parametrize(
    "attack",
    [
        "metrics.acc > 0.1; DROP TABLE runs",
        "params.lr = '0.1' OR '1'='1'",
        "params.lr = '0.1'' OR ''1''=''1'",
        "tags.x = 1 -- comment",
        "metrics.`acc) OR (1=1` > 0",
        "attributes.status = 'FINISHED' UNION SELECT * FROM tokens",
    ],
)
def test_filters_that_try_sql_are_refused_or_harmless(unchanged: Any, attack: str) -> None:
    store = unchanged.store("viewer")
    try:
        ids = [e.id for e in store.tracking.list_experiments()]
    finally:
        store.close()
    answer = _call(
        unchanged,
        "viewer",
        "POST",
        f"{P}/runs/search",
        json={"experiment_ids": ids, "filter_string": attack},
    )
    assert answer.status_code in (200, 400, 404, 422), answer.text
    if answer.status_code == 200:
        assert answer.json()["items"] == []  # matched nothing, as the filter says


# -- tokens ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer keel_",
        "Bearer not-a-token",
        "Bearer keel_zzzzzzzzzzzz_" + "A" * 43,
        "bearer keel_000000000000_" + "A" * 43,
    ],
)
def test_missing_and_malformed_tokens_are_401(unchanged: Any, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    answer = httpx.post(
        f"{unchanged.server.url}{P}/experiments",
        json={"name": "intruder"},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 401 and answer.json()["code"] == "UNAUTHENTICATED"
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_expired_and_revoked_tokens_are_401(unchanged: Any) -> None:
    from keel._clock import now_ms

    admin = unchanged.store("server_admin")
    try:
        _, short = admin.access.create_token("eddie", "short", now_ms() + 1500, actor="-")
        info, revoked = admin.access.create_token("eddie", "revoked", None, actor="-")
        fine = {"Authorization": f"Bearer {revoked}"}
        assert httpx.get(f"{unchanged.server.url}/api/v1/whoami", headers=fine).status_code == 200
        admin.access.revoke_token(info.id, actor="-")
    finally:
        admin.close()
    time.sleep(2)
    for secret in (short, revoked):
        answer = httpx.post(
            f"{unchanged.server.url}{P}/experiments",
            json={"name": "late"},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )
        assert answer.status_code == 401


# -- roles ---------------------------------------------------------------------------------------


def test_a_viewer_cannot_write(unchanged: Any) -> None:
    for method, path, body in (
        ("POST", f"{P}/experiments", {"name": "v"}),
        ("PUT", f"{P}/experiment-by-name", {"name": "v"}),
        ("POST", f"{P}/lineage/edges", {"edges": []}),
    ):
        answer = _call(unchanged, "viewer", method, path, json=body)
        assert answer.status_code == 403, (path, answer.text)
        assert "needs the editor role" in answer.json()["detail"]


def test_an_editor_cannot_promote_move_aliases_or_grant_roles(unchanged: Any) -> None:
    promote = _call(
        unchanged,
        "editor",
        "POST",
        f"{P}/services/promote",
        json={"model": "m/2", "to": "champion"},
    )
    assert promote.status_code == 403 and "maintainer" in promote.json()["detail"]
    move = _call(
        unchanged,
        "editor",
        "PUT",
        f"{P}/models/m/aliases/champion",
        json={"version": 2, "expected_revision": 1, "action": "promote"},
    )
    assert move.status_code == 403
    grant = _call(
        unchanged, "editor", "POST", f"{P}/roles", json={"user": "eddie", "role": "admin"}
    )
    assert grant.status_code == 403 and "admin" in grant.json()["detail"]
    forged = _call(
        unchanged,
        "editor",
        "POST",
        f"{P}/audit/events",
        json={
            "entry": {
                "actor": "ada",
                "action": "alias.promote",
                "object_type": "alias",
                "object_id": "m@champion",
            }
        },
    )
    assert forged.status_code == 403


def test_a_member_of_another_project_cannot_read_or_write_it(unchanged: Any) -> None:
    for method, path, body in (
        ("GET", f"{P}/experiments", None),
        ("GET", f"{P}/models/m", None),
        ("POST", f"{P}/runs/search", {"experiment_ids": []}),
        ("POST", f"{P}/experiments", {"name": "from-beta"}),
    ):
        answer = _call(unchanged, "outsider", method, path, json=body)
        assert answer.status_code == 403 and "is not a member" in answer.json()["detail"]
    sha = hashlib.sha256(b"model bytes").hexdigest()
    # alpha's bytes are invisible from beta, even with the right sha256
    answer = _call(unchanged, "outsider", "GET", f"/api/v1/projects/beta/artifacts/{sha}")
    assert answer.status_code == 404


def test_a_client_cannot_choose_the_actor(seeded: Any) -> None:
    editor = seeded.store("editor")
    try:
        exp = editor.tracking.get_or_create_experiment("exp")
        run = editor.tracking.create_run(exp.id, user="ada")
        assert run.user == "eddie"
        editor.tracking.end_run(run.id, run.status.__class__("FINISHED"))
    finally:
        editor.close()


def test_referencing_another_projects_bytes_is_refused(seeded: Any) -> None:
    """A beta admin who learned the sha256 of alpha's bytes cannot make beta point at them."""
    from keel.store import ArtifactRecord

    outsider = seeded.store("outsider", "beta")
    try:
        exp = outsider.tracking.create_experiment("steal")
        run = outsider.tracking.create_run(exp.id)
        sha = hashlib.sha256(b"model bytes").hexdigest()
        with pytest.raises(Exception, match="not held by project 'beta'"):
            outsider.tracking.record_artifact(run.id, ArtifactRecord("stolen", 11, sha, 1))
        assert outsider.tracking.list_artifacts(run.id) == []
    finally:
        outsider.close()
