"""Shared fixtures: an isolated keel home per test, and stores on every backend.

PostgreSQL tests use the server on 127.0.0.1:5432 (database ``test``), each test in a
schema of its own that is dropped afterwards. Where the server is absent they skip,
except under ``CI=true``, where its absence fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PG_URL = os.environ.get("KEEL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_available() -> bool:
    """Whether the test PostgreSQL server answers."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def require_pg() -> None:
    """Skip (or fail under CI=true) when PostgreSQL is absent."""
    if not pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true but {PG_URL} does not answer")
        pytest.skip(f"PostgreSQL is not running at {PG_URL}")


@pytest.fixture
def pg_schema_uri() -> Iterator[str]:
    """A PostgreSQL URI whose search_path is a fresh schema, dropped after the test."""
    require_pg()
    import sqlalchemy as sa

    schema = f"keel_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(autouse=True)
def keel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test runs in its own folder with its own .keel home and no KEEL_* leaking in.

    The fluent API's client and the process default context are reset around each test,
    so one test's store never serves the next.
    """
    from keel.context import reset_default_context
    from keel.tracking import get_client, set_client

    for key in list(os.environ):
        if key.startswith("KEEL_") and key != "KEEL_TEST_PG":
            monkeypatch.delenv(key)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    home = work / ".keel"
    monkeypatch.setenv("KEEL_HOME", str(home))
    # the user's own saved login (keel login) must not reach the tests
    monkeypatch.setenv("KEEL_USER_CONFIG", str(tmp_path / "user-config.toml"))
    set_client(None)
    stale = reset_default_context()
    if stale is not None:
        stale.close()
    yield home
    # the fluent client the test used (a fresh one costs nothing: no I/O)
    leftover = get_client()
    set_client(None)
    try:
        leftover.close()
    finally:
        default = reset_default_context()
        if default is not None:
            default.close()


@pytest.fixture
def client(keel_home: Path) -> Iterator[object]:
    """A Client on the test's SQLite store, installed as the fluent API's client."""
    from keel.config import Settings
    from keel.tracking import Client, reset_client, set_client

    c = Client(settings=Settings(home=keel_home, metric_flush_interval=0.05))
    token = set_client(c)
    try:
        yield c
    finally:
        reset_client(token)
        c.close()


def _sql_store(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Any:
    from keel.store import open_store

    if backend == "sqlite":
        uri = f"sqlite:///{tmp_path / 'contract.db'}"
    else:
        uri = request.getfixturevalue("pg_schema_uri")
    s = open_store(uri)
    s.open()
    return s


@pytest.fixture(params=["sqlite", "postgres"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """An open SQL Store on SQLite and on PostgreSQL (tests of the SQL backend itself)."""
    s = _sql_store(request, tmp_path, request.param)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(params=["sqlite", "postgres", "rest-sqlite", "rest-postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """An open Store on every backend: SQLite, PostgreSQL, and a real ``keel server``
    (a subprocess on 127.0.0.1) over each of them: the contract suite runs on all four.

    A REST store gets a fresh project of its own on the session's server, as the
    server's administrator; ``store.database`` is the server's database (for tests that
    tamper with rows behind keel's back) and ``store.authenticated_user`` the user the
    server records as the actor of every change.
    """
    if not request.param.startswith("rest-"):
        s = _sql_store(request, tmp_path, request.param)
        try:
            yield s
        finally:
            s.close()
        return
    server = request.getfixturevalue(f"{request.param.replace('-', '_')}_server")
    from keel.store._sql._database import Database

    project = f"c{uuid.uuid4().hex[:12]}"
    admin = server.client()
    admin.access.create_project(project, "contract test", actor="ignored")
    admin.close()
    s = server.client(project=project)
    s.database = Database(server.store_uri)
    s.authenticated_user = "admin"
    try:
        yield s
    finally:
        s.close()
        s.database.close()


@pytest.fixture(scope="session")
def rest_sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One ``keel server`` on SQLite for the session."""
    from keel_server import KeelServer

    server = KeelServer(tmp_path_factory.mktemp("rest-sqlite")).start(init_admin=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rest_postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One ``keel server`` on PostgreSQL (a schema of its own) for the session."""
    require_pg()
    import sqlalchemy as sa

    from keel_server import KeelServer

    schema = f"keel_rest_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    uri = f"{PG_URL}?options=-csearch_path%3D{schema}"
    server = KeelServer(tmp_path_factory.mktemp("rest-postgres"), store_uri=uri)
    try:
        yield server.start(init_admin=True)
    finally:
        server.stop()
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


# -- small datasets shared by the training, responsible-AI, registry and gates tests ------


@pytest.fixture
def iris() -> Any:
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).frame.rename(columns={"target": "species"})


@pytest.fixture
def binary() -> Any:
    """A small binary problem with a categorical column, a group and a sensitive column."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 240
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    sex = rng.choice(["f", "m"], n)
    y = ((x1 + 0.5 * x2 + (sex == "m") * 0.6 + rng.normal(0, 0.5, n)) > 0.3).astype(int)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "color": rng.choice(["red", "green", "blue"], n),
            "store": rng.integers(0, 12, n),
            "sex": sex,
            "label": y,
        }
    )


@pytest.fixture
def regression() -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    n = 200
    X = rng.normal(size=(n, 3))
    y = 3 * X[:, 0] - 2 * X[:, 1] + rng.normal(0, 0.3, n) + 10
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y})


@pytest.fixture(scope="session")
def iris_xy() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture
def register_model(client: Any, iris_xy: tuple[Any, Any]) -> Callable[..., Any]:
    """Fit a small model in a run, log its metrics, log it and register it under a name."""
    import keel

    X, y = iris_xy

    def make(
        name: str = "iris",
        model: Any = None,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> Any:
        from sklearn.ensemble import RandomForestClassifier

        est = model if model is not None else RandomForestClassifier(n_estimators=5, random_state=0)
        with keel.start_run(experiment="iris"):
            est.fit(X, y)
            keel.log_metrics(metrics or {"f1_macro": 0.95})
            kwargs.setdefault("input_example", X.head(5))
            return keel.log_model(est, name=name, **kwargs).version

    return make


# ---- headless Chromium (Debian's), driven by Playwright --------------------------------
#
# Playwright's sync API makes its thread look like it runs an event loop, so every later
# asyncio.run() in that thread fails ("cannot be called from a running event loop"). The
# session's browser therefore lives in a thread of its own, and tests reach it through
# BrowserPage, whose methods run there.

#: Debian's Chromium, which `make test` installs; `playwright install` cannot download here
CHROMIUM = os.environ.get("KEEL_TEST_CHROMIUM", "/usr/bin/chromium")
_CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _browser_absent(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"headless Chromium is required under CI=true: {why}")
    pytest.skip(why)


class SessionBrowser:
    """One headless Chromium and the thread every call to it runs in."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keel-test-browser")
        self._playwright: Any = None
        self.browser: Any = None

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 120.0) -> Any:
        """Run ``fn(*args)`` in the browser's thread and return what it returns."""
        return self._thread.submit(fn, *args).result(timeout=timeout)

    def start(self) -> SessionBrowser:
        def launch() -> None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self.browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, args=_CHROMIUM_ARGS
            )

        self.call(launch)
        return self

    def stop(self) -> None:
        def close() -> None:
            if self.browser is not None:
                self.browser.close()
            if self._playwright is not None:
                self._playwright.stop()

        try:
            self.call(close)
        finally:
            self._thread.shutdown(wait=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[SessionBrowser]:
    """One headless Chromium for the whole session, in a thread of its own.

    Skips where playwright or Chromium is missing, except under ``CI=true``, where that
    fails the test.
    """
    try:
        import playwright.sync_api  # noqa: F401
    except ModuleNotFoundError:
        _browser_absent("playwright is not installed: pip install -e '.[dev]'")
    if not Path(CHROMIUM).exists():
        _browser_absent(f"{CHROMIUM} does not exist: apt-get install -y chromium")
    session = SessionBrowser().start()
    try:
        yield session
    finally:
        session.stop()


class BrowserPage:
    """A fresh page of the session's browser that records what went wrong on it.

    Every method runs in the browser's thread. Requests for anything but ``file:``,
    ``data:``, ``blob:`` and ``about:`` URLs are refused and recorded: a report must not
    need the network.
    """

    def __init__(self, session: SessionBrowser) -> None:
        self._session = session
        self._errors: list[str] = []
        self._requests: list[str] = []
        self._context: Any = None
        self.page: Any = None  # the Playwright Page: use it only inside run()
        session.call(self._open_page)

    def _open_page(self) -> None:
        self._context = self._session.browser.new_context(viewport={"width": 1280, "height": 900})
        page = self._context.new_page()
        page.on(
            "console",
            lambda msg: (
                self._errors.append(f"console: {msg.text}") if msg.type == "error" else None
            ),
        )
        page.on("pageerror", lambda exc: self._errors.append(f"page error: {exc}"))
        page.route("**/*", self._route)
        self.page = page

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            self._requests.append(url)
            route.abort()

    def run(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(page)`` in the browser's thread (for what the helpers below lack)."""
        return self._session.call(fn, self.page)

    def open(self, path: Path) -> None:
        """Load a local file and wait until it and its scripts have run."""
        self.run(lambda page: page.goto(path.resolve().as_uri(), wait_until="load"))

    def wait_for(self, expression: str, timeout_ms: float = 15_000) -> None:
        """Wait until a JS expression is truthy; on timeout, fail with the page's errors."""

        def wait(page: Any) -> bool:
            from playwright.sync_api import TimeoutError as PlaywrightTimeout

            try:
                page.wait_for_function(expression, timeout=timeout_ms)
            except PlaywrightTimeout:
                return False
            return True

        if not self.run(wait):
            pytest.fail(f"{expression!r} never held; errors on the page: {self.errors}")

    def evaluate(self, expression: str) -> Any:
        """The value of a JS expression on the page."""
        return self.run(lambda page: page.evaluate(expression))

    def count(self, selector: str) -> int:
        """How many elements match a CSS selector."""
        return int(self.run(lambda page: page.locator(selector).count()))

    def attribute(self, selector: str, name: str) -> str | None:
        """An attribute of the (one) element matching a selector."""
        return self.run(lambda page: page.locator(selector).get_attribute(name))  # type: ignore[no-any-return]

    def text(self, selector: str) -> str:
        """The visible text of the first element matching a selector."""
        return str(self.run(lambda page: page.locator(selector).first.inner_text()))

    def select(self, selector: str, value: str) -> None:
        """Pick an option of a <select> (its change handlers run)."""
        self.run(lambda page: page.select_option(selector, value))

    @property
    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions so far (events still queued included)."""
        self.run(lambda page: page.wait_for_timeout(50))  # let pending events arrive
        return list(self._errors)

    @property
    def requests(self) -> list[str]:
        """Network requests the page tried (and was refused)."""
        self.run(lambda page: page.wait_for_timeout(50))
        return list(self._requests)

    def close(self) -> None:
        self._session.call(self._context.close)


@pytest.fixture
def browser_page(browser: SessionBrowser) -> Iterator[BrowserPage]:
    """A new browser context and page for one test (closed after it)."""
    page = BrowserPage(browser)
    try:
        yield page
    finally:
        page.close()


REDIS_URL = os.environ.get("KEEL_TEST_REDIS", "redis://127.0.0.1:6379/14")


def require_redis() -> None:
    """Skip (or fail under CI=true) when Redis is absent (or redis-py is not installed)."""
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true but {REDIS_URL} does not answer: {exc}")
        pytest.skip(f"Redis is not running at {REDIS_URL} ({exc})")


@pytest.fixture
def redis_online_uri() -> Iterator[str]:
    """A Redis online-store URI on the test database (db 14) with a key prefix of its own;
    every key under the prefix is deleted after the test."""
    require_redis()
    import redis

    prefix = f"keel-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield f"{REDIS_URL}?key_prefix={prefix}"
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
