"""docs/guides/deployment.md, run as written, on 127.0.0.1.

``keel server`` runs on PostgreSQL (a database of its own, dropped afterwards) with its
artifact root in an S3 bucket on moto's S3-compatible server, configured by the guide's
environment file with its host names, paths and secrets made local. Every command block
of the guide runs here, in the order a team would run them: the bucket, ``--check``,
the first start with ``--init-admin``, projects, users, roles and tokens, ``keel login``,
the SDK example on a client that has its own KEEL_HOME, no cloud credentials and only
the server's URL and a token, a CI job, offboarding, health checks, the systemd unit,
backup and restore (``pg_dump``, the audit anchor, ``pg_restore``, ``keel audit verify
--expect``) and ``keel db upgrade``. The bytes are then found in the bucket, verified,
and nowhere on the server's disk.

A command block the tests do not run says why in the guide (``<!-- not run here: ...
-->``); one with neither marker fails :func:`test_every_command_block_is_run_or_says_why`.
Where moto, boto3, s3fs or PostgreSQL is missing these tests skip with the reason; under
``CI=true`` they fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel.server._auth import ACCESS_CACHE_SECONDS
from keel_server import KEEL, KeelServer
from s3_server import ACCESS_KEY, SECRET_KEY, MotoS3, require_s3

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "deployment.md"
BUCKET = "acme-ml-artifacts"
ROOT = f"s3://{BUCKET}/keel"
GUIDE_URL = "https://keel.example.com"
#: how the bucket was made: by the guide's aws commands, or by boto3 where aws is absent
BUCKET_MADE_BY: dict[str, str] = {}

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

#: the guide's blocks these tests run (``<!-- test: NAME -->`` before each)
RUN = {
    "bucket",
    "env-file",
    "check",
    "first-start",
    "admin-where-the-store-is",
    "team",
    "tokens",
    "member-login",
    "client",
    "ci",
    "offboarding",
    "systemd-unit",
    "health",
    "backup",
    "restore",
    "upgrade",
}
#: lines of tested blocks that cannot run here, and why
SKIPPED_LINES = {
    "sudo systemctl ": "needs systemd as the init process, and root",
    "sudo /opt/keel/bin/pip ": "downloads from a package index",
}
#: what the guide's environment file sets (the server runs with exactly these)
ENV_KEYS = {
    "KEEL_HOME",
    "KEEL_CACHE_DIR",
    "KEEL_STORE_URI",
    "KEEL_ARTIFACT_ROOT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
}


# -- the guide -------------------------------------------------------------------------

_BLOCK = re.compile(
    r"(?:<!-- (?:test: (?P<name>[\w-]+)|not run here: (?P<why>[^>]+?)) -->\n)?"
    r"```(?P<lang>\w+)\n(?P<code>.*?)```",
    re.S,
)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    name: str | None
    why_not: str | None


def guide_blocks() -> list[Block]:
    """Every fenced block of the guide, with its marker."""
    return [
        Block(m["lang"], m["code"], m["name"], m["why"]) for m in _BLOCK.finditer(GUIDE.read_text())
    ]


def block(name: str) -> str:
    """The code of the block marked ``<!-- test: name -->``."""
    found = [b.code for b in guide_blocks() if b.name == name]
    assert len(found) == 1, f"the guide has {len(found)} blocks marked 'test: {name}'"
    return found[0]


def env_file_values() -> dict[str, str]:
    """The variables of the guide's environment file, as written there."""
    values = {}
    for line in block("env-file").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def script(name: str, subs: dict[str, str]) -> str:
    """A bash block with the guide's hosts, paths and secrets replaced by ``subs``, and the
    lines that cannot run here left out."""
    code = block(name)
    for old, new in subs.items():
        code = code.replace(old, new)
    kept = [line for line in code.splitlines() if not line.startswith(tuple(SKIPPED_LINES))]
    return "\n".join(kept) + "\n"


# -- processes -------------------------------------------------------------------------


def _clean_env(**values: str) -> dict[str, str]:
    """This process's environment without keel's settings or cloud credentials, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEL_", "AWS_"))}
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    # `keel` is the console script of the Python running the tests (the code under test)
    env["PATH"] = os.pathsep.join([str(Path(KEEL).parent), env.get("PATH", "")])
    env.update(values)
    return env


def run(
    args: list[str], *, env: dict[str, str], cwd: Path, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command in a session of its own (no terminal: a password prompt reads stdin)."""
    done = subprocess.run(
        args,
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )
    if check:
        assert done.returncode == 0, f"{args[:3]}... failed:\n{done.stdout}\n{done.stderr}"
    return done


def bash(
    name: str, subs: dict[str, str], *, env: dict[str, str], cwd: Path, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run the guide's bash block ``name`` (``set -euo pipefail``) with ``subs`` applied."""
    code = "set -euo pipefail\n" + script(name, subs)
    return run(["bash", "-c", code], env=env, cwd=cwd, **kwargs)


def keel(*args: str, env: dict[str, str], cwd: Path, check: bool = True) -> Any:
    return run([KEEL, *args], env=env, cwd=cwd, check=check)


def _token(output: str, user: str) -> str:
    """The token printed after 'API token for USER' (or by --init-admin)."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"API token for {user} "):
            return lines[i + 1].strip()
    raise AssertionError(f"no token for {user} in:\n{output}")


# -- the deployment --------------------------------------------------------------------


@dataclass
class Deployment:
    """The running deployment and the machines around it."""

    s3: MotoS3
    server: KeelServer
    db_uri: str
    restored_uri: str
    env_file: Path
    #: the variables of the environment file, made local
    env: dict[str, str]
    base: Path
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def subs(self) -> dict[str, str]:
        """The guide's hosts and paths -> this machine's."""
        return {
            GUIDE_URL: self.server.url,
            "/etc/keel/keel.env": str(self.env_file),
            "/opt/keel/bin/keel": KEEL,
            "127.0.0.1:8080": f"127.0.0.1:{self.server.port}",
            "/backups": str(self.base / "backups"),
            "/run/secrets/keel-token": str(self.base / "secrets" / "keel-token"),
        }

    def host_env(self) -> dict[str, str]:
        """The server host's shell (the blocks load the environment file themselves)."""
        return _clean_env(KEEL_USER_CONFIG=str(self.base / "host-user-config.toml"))

    def machine(self, name: str) -> tuple[dict[str, str], Path]:
        """Someone's own machine: its KEEL_HOME, login file and cache, nothing of the server's."""
        home = self.base / name
        home.mkdir(exist_ok=True)
        env = _clean_env(
            KEEL_HOME=str(home / ".keel"),
            KEEL_USER_CONFIG=str(home / "user-config.toml"),
            KEEL_CACHE_DIR=str(home / "cache"),
        )
        return env, home


def _database_uri(name: str) -> str:
    import sqlalchemy as sa

    from conftest import PG_URL

    url = sa.engine.make_url(PG_URL).set(drivername="postgresql", database=name)
    return url.render_as_string(hide_password=False)


def _admin_engine() -> Any:
    import sqlalchemy as sa

    from conftest import PG_URL

    return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="module")
def databases() -> Iterator[tuple[str, str]]:
    """A database of the module's own for the server, and an empty one to restore into;
    both dropped afterwards."""
    from conftest import require_pg

    require_pg()
    import sqlalchemy as sa

    suffix = uuid.uuid4().hex[:10]
    names = (f"keel_deploy_{suffix}", f"keel_restored_{suffix}")
    engine = _admin_engine()
    with engine.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield _database_uri(names[0]), _database_uri(names[1])
    finally:
        with engine.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    """moto's S3 server on a free port of 127.0.0.1, its bucket made as the guide makes it."""
    require_s3()
    server = MotoS3(tmp_path_factory.mktemp("moto") / "moto.log").start()
    try:
        work = tmp_path_factory.mktemp("bucket")
        lifecycle = [b.code for b in guide_blocks() if b.lang == "json" and "keel-tmp" in b.code]
        assert len(lifecycle) == 1
        (work / "lifecycle.json").write_text(lifecycle[0])
        aws_env = _clean_env(
            **{**server.env, "AWS_DEFAULT_REGION": env_file_values()["AWS_DEFAULT_REGION"]}
        )
        if shutil.which("aws", path=aws_env.get("PATH")):
            bash("bucket", {}, env=aws_env, cwd=work)
            BUCKET_MADE_BY[server.endpoint] = "aws"
        else:  # the same three calls through boto3
            s3 = server.client()
            s3.create_bucket(
                Bucket=BUCKET,
                CreateBucketConfiguration={"LocationConstraint": aws_env["AWS_DEFAULT_REGION"]},
            )
            s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
            s3.put_bucket_lifecycle_configuration(
                Bucket=BUCKET, LifecycleConfiguration=json.loads(lifecycle[0])
            )
            BUCKET_MADE_BY[server.endpoint] = "boto3"
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, s3: MotoS3, databases: tuple[str, str]
) -> Iterator[Deployment]:
    """The guide's environment file made local, and the server started as its first start."""
    base = tmp_path_factory.mktemp("deployment")
    (base / "secrets").mkdir()
    (base / "backups").mkdir()
    local = {
        "KEEL_HOME": str(base / "var-lib-keel"),
        "KEEL_CACHE_DIR": str(base / "var-cache-keel"),
        "KEEL_STORE_URI": databases[0],
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_ENDPOINT_URL": s3.endpoint,
    }
    values = env_file_values()
    assert set(values) == ENV_KEYS
    assert values["KEEL_ARTIFACT_ROOT"] == ROOT  # the guide's bucket, as it is
    env = {**values, **local}
    env_file = base / "keel.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    env_file.chmod(0o600)

    first = shlex.split(block("first-start"))
    assert first[:2] == ["keel", "server"] and first[-1] == "--init-admin", first
    flags = dict(zip(first[2:-1:2], first[3:-1:2], strict=True))
    assert flags == {"--host": "127.0.0.1", "--port": "8080", "--workers": "4"}
    server = KeelServer(
        Path(env["KEEL_HOME"]),
        store_uri=env["KEEL_STORE_URI"],
        artifact_root=env["KEEL_ARTIFACT_ROOT"],
        env=env,
        args=("--workers", "2"),  # a 2-core machine; the harness binds 127.0.0.1:free port
    )
    server.start(init_admin=True)
    try:
        yield Deployment(s3, server, databases[0], databases[1], env_file, env, base)
    finally:
        server.stop()


# -- the guide's structure --------------------------------------------------------------


def test_every_command_block_is_run_or_says_why() -> None:
    blocks = guide_blocks()
    for b in blocks:
        if b.lang in ("bash", "sh", "python"):
            assert b.name or b.why_not, f"a {b.lang} block has no marker:\n{b.code}"
    assert {b.name for b in blocks if b.name} == RUN


def test_the_unit_runs_the_tested_commands_and_systemd_accepts_it(tmp_path: Path) -> None:
    unit = block("systemd-unit")
    lines = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")
    )
    assert lines["EnvironmentFile"] == "/etc/keel/keel.env"
    check = shlex.split(script("check", {}).splitlines()[-1])
    assert shlex.split(lines["ExecStartPre"]) == ["/opt/keel/bin/keel", *check[1:]]
    first = shlex.split(block("first-start"))
    assert shlex.split(lines["ExecStart"]) == ["/opt/keel/bin/keel", *first[1:-1]]
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the unit's syntax is not checked")
    env_file = tmp_path / "keel.env"
    env_file.write_text("")
    path = tmp_path / "keel.service"
    path.write_text(
        unit.replace("/opt/keel/bin/keel", KEEL).replace("/etc/keel/keel.env", str(env_file))
    )
    done = run([analyze, "verify", str(path)], env=_clean_env(), cwd=tmp_path, check=False)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


# -- the server host ---------------------------------------------------------------------


def test_the_bucket_is_versioned_with_the_lifecycle_rules(deployment: Deployment) -> None:
    s3 = deployment.s3.client()
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert sorted(r["ID"] for r in rules) == ["incomplete-uploads", "keel-tmp"]
    tmp = next(r for r in rules if r["ID"] == "keel-tmp")
    # the temporary keys keel removes leave noncurrent versions in a versioned bucket
    assert tmp["Filter"]["Prefix"] == "keel/tmp/"
    assert tmp["NoncurrentVersionExpiration"]["NoncurrentDays"] == 1
    if BUCKET_MADE_BY[deployment.s3.endpoint] != "aws":
        pytest.skip("the aws CLI is not installed: the bucket was made through boto3")


def test_check_opens_postgres_and_the_bucket(deployment: Deployment) -> None:
    done = bash("check", deployment.subs, env=deployment.host_env(), cwd=deployment.base)
    out = done.stdout + done.stderr
    db = deployment.db_uri.removeprefix("postgresql://")
    assert f"store postgresql+psycopg://{db}: ok (" in out
    assert f"artifact root {ROOT}: writable, verified read" in out
    assert SECRET_KEY not in out
    objects = deployment.s3.objects(BUCKET, "keel/")
    probe = hashlib.sha256(b"keel server --check").hexdigest()
    assert f"keel/objects/{probe[:2]}/{probe}" in objects
    assert not [k for k in objects if k.startswith("keel/tmp/")]


def test_check_refuses_a_missing_bucket_and_does_not_create_it(deployment: Deployment) -> None:
    env = _clean_env(**{**deployment.env, "KEEL_ARTIFACT_ROOT": "s3://keel-no-such-bucket/keel"})
    done = keel("server", "--check", env=env, cwd=deployment.base, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: the artifact root s3://keel-no-such-bucket/keel could not store an object"
    ), done.stderr
    assert "create it first, keel does not create buckets" in done.stderr
    assert "Traceback" not in done.stderr and SECRET_KEY not in done.stdout + done.stderr
    buckets = [b["Name"] for b in deployment.s3.client().list_buckets()["Buckets"]]
    assert "keel-no-such-bucket" not in buckets


def test_an_administrator_made_where_the_store_is_can_use_the_server(
    deployment: Deployment,
) -> None:
    done = bash(
        "admin-where-the-store-is", deployment.subs, env=deployment.host_env(), cwd=deployment.base
    )
    token = _token(done.stdout, "ops")
    me = httpx.get(
        f"{deployment.server.url}/api/v1/whoami",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert me.status_code == 200 and me.json()["user"] == "ops", me.text


def test_health_and_readiness(deployment: Deployment) -> None:
    done = bash("health", deployment.subs, env=_clean_env(), cwd=deployment.base)
    health, ready = (json.loads(line) for line in done.stdout.splitlines())
    assert health["status"] == "ok" and ready == {"status": "ready"}


def test_failed_logins_behind_a_proxy_count_per_client(deployment: Deployment) -> None:
    """uvicorn takes the client from X-Forwarded-For sent by 127.0.0.1 (the proxy): one
    client's failures do not lock out another behind the same proxy."""
    url = f"{deployment.server.url}/api/v1/whoami"
    workers = 2
    statuses = []
    for _ in range(10 * workers + 1):  # some worker sees its 11th failure
        r = httpx.get(
            url,
            headers={
                "Authorization": "Bearer keel_000000000000_nope",
                "X-Forwarded-For": "203.0.113.7",
            },
            timeout=30,
        )
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401}, statuses
    other = httpx.get(
        url,
        headers={
            "Authorization": f"Bearer {deployment.server.admin_token}",
            "X-Forwarded-For": "198.51.100.2",
        },
        timeout=30,
    )
    assert other.status_code == 200, other.text


# -- a team ----------------------------------------------------------------------------

TRANSACTIONS = """\
import numpy as np
import pandas as pd

rng = np.random.default_rng(0)
frame = pd.DataFrame({
    "amount": rng.gamma(2.0, 30.0, 120).round(2),
    "hour": rng.integers(0, 24, 120),
    "merchant": rng.choice(["grocery", "travel", "online"], 120),
})
frame["fraud"] = ((frame.amount > 90) & (frame.merchant == "online")).astype(int)
frame.to_csv("transactions.csv", index=False)
open("notes.txt", "w").write("threshold chosen on the 2026 holdout\\n")
"""

#: after the guide's example: what it produced, for the test to check
REPORT = """
import json
import pandas as _pd

_csv = _pd.read_csv("transactions.csv")
print(json.dumps({
    "run": run.id,
    "model_run": model_run.id,
    "dataset": [data.reference, data.num_rows, data.content_hash],
    "same_frame": bool(frame.equals(_csv)),
    "counts": {str(k): int(v) for k, v in zip(by_merchant.merchant, by_merchant.n)},
    "expected_counts": {str(k): int(v) for k, v in _csv.merchant.value_counts().items()},
    "model": [version.name, version.version],
    "same_predictions": bool((loaded.predict(X) == model.predict(X)).all()),
}))
"""


def _files_holding(folder: Path, digests: set[str]) -> list[Path]:
    """The files under ``folder`` whose bytes hash to one of ``digests``."""
    return [
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and hashlib.sha256(path.read_bytes()).hexdigest() in digests
    ]


@pytest.fixture(scope="module")
def team(deployment: Deployment) -> dict[str, Any]:
    """Sections 5 and 6 of the guide: the administrator sets up project fraud, ana logs in
    on her laptop and runs the example, a CI job lists the runs."""
    server, subs = deployment.server, deployment.subs
    admin_env, admin_home = deployment.machine("admin-laptop")
    team = bash("team", subs, env=admin_env, cwd=admin_home, stdin=server.admin_token + "\n")
    ana_token = _token(team.stdout, "ana")
    tokens = bash("tokens", subs, env=admin_env, cwd=admin_home)
    ci_token = _token(tokens.stdout, "ana")

    ana_env, laptop = deployment.machine("ana-laptop")
    login = bash("member-login", subs, env=ana_env, cwd=laptop, stdin=ana_token + "\n")
    run([sys.executable, "-c", TRANSACTIONS], env=ana_env, cwd=laptop)
    example = run([sys.executable, "-c", block("client") + REPORT], env=ana_env, cwd=laptop)
    result = json.loads(example.stdout.strip().splitlines()[-1])

    (deployment.base / "secrets" / "keel-token").write_text(ci_token + "\n")
    ci_env, ci_home = deployment.machine("ci-runner")
    ci = bash("ci", subs, env=ci_env, cwd=ci_home)
    return {
        "team": team,
        "tokens": tokens,
        "login": login,
        "ci": ci,
        "result": result,
        "ana_token": ana_token,
        "ci_token": ci_token,
        "admin": (admin_env, admin_home),
        "ana": (ana_env, laptop),
        "ci_machine": (ci_env, ci_home),
    }


def test_the_administrator_sets_up_a_project_with_roles(team: dict[str, Any]) -> None:
    out = team["team"].stdout
    assert "logged in to" in out and "as admin" in out
    assert "created project fraud" in out
    assert "lena holds admin" in out and "ana holds editor" in out
    members = out[out.index("Members of fraud") :]
    assert "lena" in members and "ana" in members
    assert "ana" in team["tokens"].stdout and " ci " in team["tokens"].stdout


def test_a_member_logs_in_and_doctor_finds_everything(team: dict[str, Any]) -> None:
    out = team["login"].stdout
    assert "as ana (role editor in project 'fraud')" in out
    assert team["ana_token"] not in out + team["login"].stderr


def test_the_example_runs_on_the_server(team: dict[str, Any]) -> None:
    result = team["result"]
    assert result["dataset"][:2] == ["transactions/1", 120]
    assert result["same_frame"]
    assert result["counts"] == result["expected_counts"]
    assert result["model"] == ["fraud-model", 1]
    assert result["same_predictions"]
    assert result["run"][:8] in team["ci"].stdout  # the CI job lists the runs


def test_the_bytes_are_in_the_bucket_and_not_on_the_servers_disk(
    deployment: Deployment, team: dict[str, Any]
) -> None:
    result = team["result"]
    store = deployment.server.client(project="fraud")
    try:
        run_ = store.tracking.get_run(result["run"])
        artifacts = store.tracking.list_artifacts(result["run"])
        model_files = store.registry.get_version("fraud-model", 1).files
    finally:
        store.close()
    assert run_.metrics == {"auc": 0.91}
    assert [a.path for a in artifacts] == ["notes.txt"]
    digests = {artifacts[0].sha256, result["dataset"][2]} | {f.sha256 for f in model_files}
    assert len(digests) >= 4  # the note, the dataset, the model and its descriptor at least

    objects = deployment.s3.objects(BUCKET, "keel/")
    for sha in digests:
        key = f"keel/objects/{sha[:2]}/{sha}"
        assert key in objects, f"{key} is not in the bucket: {sorted(objects)}"
        assert hashlib.sha256(deployment.s3.get(BUCKET, key)).hexdigest() == sha
    assert not [k for k in objects if k.startswith("keel/tmp/")]
    # nowhere on the server's disk: not under its KEEL_HOME (whose only other content is
    # the harness's log and the empty upload spool), not in its cache
    home = deployment.server.home
    assert _files_holding(home, digests) == []
    assert {p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()} <= {
        "server.log"
    }
    assert SECRET_KEY not in deployment.server.log.read_text()
    cache = Path(deployment.env["KEEL_CACHE_DIR"])
    assert not cache.exists() or _files_holding(cache, digests) == []
    # ana read the dataset through her own read-through cache
    _, laptop = team["ana"]
    assert _files_holding(laptop / "cache", {result["dataset"][2]})


def test_offboarding_stops_the_tokens(deployment: Deployment, team: dict[str, Any]) -> None:
    admin_env, admin_home = team["admin"]
    token_id = team["ci_token"].split("_")[1]
    done = bash(
        "offboarding", {**deployment.subs, "TOKEN_ID": token_id}, env=admin_env, cwd=admin_home
    )
    assert f"token {token_id} (ana, ci) is revoked" in done.stdout
    # the server runs 2 workers: the one that did not revoke the token may have checked
    # it a moment ago and reuses that answer for ACCESS_CACHE_SECONDS (the documented delay)
    time.sleep(ACCESS_CACHE_SECONDS)
    ci_env, ci_home = team["ci_machine"]
    refused = bash("ci", deployment.subs, env=ci_env, cwd=ci_home, check=False)
    assert refused.returncode == 1 and "the API token is not valid" in refused.stderr
    ana_env, laptop = team["ana"]
    refused = keel("runs", "list", env=ana_env, cwd=laptop, check=False)
    assert refused.returncode == 1 and "the API token is not valid" in refused.stderr


# -- backups and upgrades ----------------------------------------------------------------


def test_backup_then_restore_and_verify_against_the_kept_head(
    deployment: Deployment, team: dict[str, Any]
) -> None:
    backups = deployment.base / "backups"
    bash("backup", deployment.subs, env=deployment.host_env(), cwd=deployment.base)
    dumps = sorted(backups.glob("keel-*.dump"))
    assert len(dumps) == 1
    day = dumps[0].name.removeprefix("keel-").removesuffix(".dump")
    heads = {p.name: p.read_text().strip() for p in backups.glob(f"keel-{day}.*.audit-head")}
    assert set(heads) == {f"keel-{day}.default.audit-head", f"keel-{day}.fraud.audit-head"}
    assert all(re.fullmatch(r"[0-9a-f]{64}:\d+", h) for h in heads.values()), heads

    restored = deployment.restored_uri
    guide_restored = "postgresql://keel:CHANGE-ME@db.internal:5432/keel_restored"
    done = bash(
        "restore",
        {**deployment.subs, guide_restored: restored, "2026-12-01": day},
        env=deployment.host_env(),
        cwd=deployment.base,
    )
    assert "audit chain intact" in done.stdout and "anchor found" in done.stdout, done.stdout


def test_db_upgrade(deployment: Deployment) -> None:
    done = bash("upgrade", deployment.subs, env=deployment.host_env(), cwd=deployment.base)
    db = deployment.db_uri.removeprefix("postgresql://")
    assert done.stdout.startswith(f"postgresql+psycopg://{db} is at "), done.stdout


# -- the bucket out of reach ---------------------------------------------------------------


def test_a_bucket_out_of_reach_is_a_503_naming_the_root_and_the_server_stays_ready(
    tmp_path: Path,
) -> None:
    """An upload is answered 503 (which clients retry) with what to check; the server itself
    stays up and ready, and no secret is in the answer."""
    require_s3()
    from keel_server import free_port

    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": down,
        "AWS_MAX_ATTEMPTS": "1",
    }
    server = KeelServer(tmp_path / "server", artifact_root=ROOT, env=env).start(init_admin=True)
    try:
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        data = b"bytes for a bucket out of reach"
        sha = hashlib.sha256(data).hexdigest()
        url = f"{server.url}/api/v1/projects/default/artifacts/{sha}"
        answer = httpx.put(url, content=data, headers=headers, timeout=60)
        assert answer.status_code == 503, answer.text
        problem = answer.json()
        assert problem["code"] == "ARTIFACTS_UNAVAILABLE"
        assert problem["detail"].startswith(f"the artifact root {ROOT} could not store an object")
        assert "AWS_ENDPOINT_URL" in problem["detail"]
        assert SECRET_KEY not in answer.text
        assert httpx.get(f"{server.url}/ready", timeout=30).status_code == 200
        assert not list((server.home / "tmp" / "uploads").glob("*"))  # the spool is gone
    finally:
        server.stop()
