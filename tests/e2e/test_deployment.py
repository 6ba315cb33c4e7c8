"""The deployment of docs/guides/deployment.md, end to end, on 127.0.0.1.

``keel server`` runs on PostgreSQL (a schema of its own, dropped afterwards) with its
artifact root in an S3 bucket (moto's S3-compatible server), configured by the
variables the guide's environment file names. A client with its own KEEL_HOME, no cloud
credentials and nothing but the server's URL and a token logs a run with a metric and
an artifact, registers a CSV dataset and reads it back with pandas and DuckDB, trains,
registers and loads a model; the bytes are then found in the bucket, verified, and
nowhere under the server's KEEL_HOME.

Where moto, boto3, s3fs or PostgreSQL is missing these tests skip with the reason;
under ``CI=true`` they fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from keel_server import KEEL, KeelServer
from s3_server import SECRET_KEY, MotoS3, require_s3

BUCKET = "keel-deploy-test"
ROOT = f"s3://{BUCKET}/keel"

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@dataclass
class Deployment:
    """The running deployment and what a test needs to drive it."""

    s3: MotoS3
    server: KeelServer
    store_uri: str
    #: the variables the server runs with (the guide's environment file, made local)
    env: dict[str, str]
    cache: Path


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    """moto's S3 server on a free port of 127.0.0.1, with the deployment's bucket."""
    require_s3()
    server = MotoS3(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pg_uri() -> Iterator[str]:
    """A PostgreSQL URI on a schema of the module's own, dropped afterwards."""
    from conftest import PG_URL, require_pg

    require_pg()
    import sqlalchemy as sa

    schema = f"keel_deploy_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, s3: MotoS3, pg_uri: str
) -> Iterator[Deployment]:
    """``keel server --workers 2 --init-admin`` on PostgreSQL and the bucket."""
    base = tmp_path_factory.mktemp("deployment")
    home = base / "server-home"
    cache = base / "server-cache"
    env = {
        "KEEL_HOME": str(home),
        "KEEL_STORE_URI": pg_uri,
        "KEEL_ARTIFACT_ROOT": ROOT,
        "KEEL_CACHE_DIR": str(cache),
        **s3.env,
    }
    server = KeelServer(
        home, store_uri=pg_uri, artifact_root=ROOT, env=env, args=("--workers", "2")
    )
    server.start(init_admin=True)
    try:
        yield Deployment(s3, server, pg_uri, env, cache)
    finally:
        server.stop()


def _clean_env(**values: str) -> dict[str, str]:
    """This process's environment without keel's settings or cloud credentials, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEL_", "AWS_"))}
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    env.update(values)
    return env


def keel(
    *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the ``keel`` CLI in a process of its own (no terminal: a prompt reads stdin)."""
    done = subprocess.run(
        [KEEL, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        start_new_session=True,
    )
    if check:
        assert done.returncode == 0, f"keel {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def test_server_check_opens_postgres_and_the_bucket(deployment: Deployment, tmp_path: Path) -> None:
    done = keel("server", "--check", env=_clean_env(**deployment.env), cwd=tmp_path)
    out = done.stdout + done.stderr
    assert "store postgresql+psycopg://postgres@127.0.0.1:5432/test" in out
    assert f"artifact root {ROOT}: writable, verified read" in out
    assert SECRET_KEY not in out
    # the probe it wrote is in the bucket, and nothing is left in its temporary folder
    objects = deployment.s3.objects(BUCKET, "keel/")
    probe = hashlib.sha256(b"keel server --check").hexdigest()
    assert f"keel/objects/{probe[:2]}/{probe}" in objects
    assert not [k for k in objects if k.startswith("keel/tmp/")]


def test_server_check_refuses_a_missing_bucket_and_does_not_create_it(
    deployment: Deployment, tmp_path: Path
) -> None:
    env = _clean_env(**{**deployment.env, "KEEL_ARTIFACT_ROOT": "s3://keel-no-such-bucket/keel"})
    done = keel("server", "--check", env=env, cwd=tmp_path, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: the artifact root s3://keel-no-such-bucket/keel could not store an object"
    ), done.stderr
    assert "create it first, keel does not create buckets" in done.stderr
    assert "Traceback" not in done.stderr and SECRET_KEY not in done.stdout + done.stderr
    buckets = [b["Name"] for b in deployment.s3.client().list_buckets()["Buckets"]]
    assert "keel-no-such-bucket" not in buckets


CLIENT_SCRIPT = textwrap.dedent(
    """
    import json
    import pathlib

    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import keel

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "amount": rng.gamma(2.0, 30.0, 120).round(2),
        "hour": rng.integers(0, 24, 120),
        "merchant": rng.choice(["grocery", "travel", "online"], 120),
    })
    frame["fraud"] = ((frame.amount > 90) & (frame.merchant == "online")).astype(int)
    frame.to_csv("transactions.csv", index=False)
    pathlib.Path("notes.txt").write_text("threshold chosen on the 2026 holdout\\n")

    with keel.start_run(experiment="deploy", run_name="baseline") as run:
        keel.log_metric("auc", 0.91)
        keel.log_artifact("notes.txt")

    version = keel.datasets.register("transactions.csv", "transactions")
    back = keel.datasets.get("transactions/1")
    read = back.to_pandas()
    counts = back.to_duckdb().aggregate("merchant, count(*) AS n").df()

    X = read[["amount", "hour"]]
    with keel.start_run(experiment="deploy", run_name="logreg") as model_run:
        model = LogisticRegression(max_iter=500).fit(X, read["fraud"])
        keel.log_metric("accuracy", float(model.score(X, read["fraud"])))
        keel.sklearn.log_model(model, input_example=X.head(3))
    registered = keel.models.register(model_run.id, "fraud-model")
    loaded = keel.models.load("fraud-model/1")

    print(json.dumps({
        "run": run.id,
        "model_run": model_run.id,
        "dataset": [version.reference, version.num_rows, version.content_hash],
        "same_frame": bool(read.equals(pd.read_csv("transactions.csv"))),
        "counts": dict(zip(counts.merchant, counts.n.astype(int))),
        "expected_counts": frame.merchant.value_counts().to_dict(),
        "model": [registered.name, registered.version],
        "same_predictions": bool((loaded.predict(X) == model.predict(X)).all()),
    }))
    """
)


def _files_holding(folder: Path, digests: set[str]) -> list[Path]:
    """The files under ``folder`` whose bytes hash to one of ``digests``."""
    return [
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and hashlib.sha256(path.read_bytes()).hexdigest() in digests
    ]


def test_a_team_uses_the_server_and_the_bytes_live_in_the_bucket(
    deployment: Deployment, tmp_path: Path
) -> None:
    server = deployment.server
    admin_home = tmp_path / "admin"
    admin_home.mkdir()
    admin = _clean_env(
        KEEL_HOME=str(admin_home / ".keel"),
        KEEL_STORE_URI=server.url,
        KEEL_TOKEN=server.admin_token,
        KEEL_USER_CONFIG=str(admin_home / "user-config.toml"),
    )
    keel(
        "projects",
        "create",
        "fraud",
        "--description",
        "Card fraud models",
        env=admin,
        cwd=admin_home,
    )
    created = keel("users", "create", "ana", env=admin, cwd=admin_home).stdout
    token = next(line.strip() for line in created.splitlines() if line.strip().startswith("keel_"))
    keel("users", "create", "lena", "--no-token", env=admin, cwd=admin_home)
    keel("--project", "fraud", "roles", "grant", "lena", "admin", env=admin, cwd=admin_home)
    keel("--project", "fraud", "roles", "grant", "ana", "editor", env=admin, cwd=admin_home)

    # ana's machine: its own KEEL_HOME and cache, no cloud credentials, only URL + token
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    client_cache = laptop / "cache"
    ana = _clean_env(
        KEEL_HOME=str(laptop / ".keel"),
        KEEL_USER_CONFIG=str(laptop / "user-config.toml"),
        KEEL_CACHE_DIR=str(client_cache),
    )
    login = keel("login", server.url, "--project", "fraud", env=ana, cwd=laptop, stdin=token + "\n")
    assert "as ana (role editor in project 'fraud')" in login.stdout
    done = subprocess.run(
        [sys.executable, "-c", CLIENT_SCRIPT],
        env=ana,
        cwd=laptop,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["dataset"][:2] == ["transactions/1", 120]
    assert result["same_frame"]
    assert result["counts"] == result["expected_counts"]
    assert result["model"] == ["fraud-model", 1]
    assert result["same_predictions"]

    # what the server recorded, read back as the administrator
    store = server.client(project="fraud")
    try:
        run = store.tracking.get_run(result["run"])
        assert run.metrics == {"auc": 0.91}
        artifacts = store.tracking.list_artifacts(result["run"])
        model_files = store.registry.get_version("fraud-model", 1).files
    finally:
        store.close()
    assert [a.path for a in artifacts] == ["notes.txt"]
    digests = {artifacts[0].sha256, result["dataset"][2]} | {f.sha256 for f in model_files}

    # every one of those objects is in the bucket, and its bytes hash to its name
    objects = deployment.s3.objects(BUCKET, "keel/")
    for sha in digests:
        key = f"keel/objects/{sha[:2]}/{sha}"
        assert key in objects, f"{key} is not in the bucket: {sorted(objects)}"
        assert hashlib.sha256(deployment.s3.get(BUCKET, key)).hexdigest() == sha
    assert not [k for k in objects if k.startswith("keel/tmp/")]
    # ... and nowhere on the server's disk: not under its KEEL_HOME, not in its cache
    assert _files_holding(server.home, digests) == []
    assert not deployment.cache.exists() or _files_holding(deployment.cache, digests) == []
    # the client read the dataset through its own read-through cache, not from S3
    assert _files_holding(client_cache, digests)
