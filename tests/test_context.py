"""keel.context: what services are handed, which one is current, and how workers rebuild it."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import pandas as pd
import pytest

import keel
from keel.artifacts import FsspecArtifactStore
from keel.config import Settings
from keel.context import (
    Context,
    ContextSpec,
    current_context,
    reset_context,
    set_context,
    use_context,
)
from keel.errors import InvalidArgumentError
from keel.store import open_store
from keel.tracking import Client, get_client, reset_client, set_client


def test_nothing_is_opened_until_used(tmp_path: Path) -> None:
    ctx = Context(Settings(home=tmp_path / "home"))
    assert not (tmp_path / "home").exists()
    assert ctx.project == "default" and ctx.actor
    ctx.store.tracking.list_experiments()
    assert (tmp_path / "home" / "keel.db").exists()
    ctx.close()
    ctx.close()  # idempotent
    assert ctx.store.tracking.list_experiments() == []  # opened again on use
    ctx.close()


def test_settings_are_read_on_first_use(keel_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = Context()
    monkeypatch.setenv("KEEL_PROJECT", "fraud")
    monkeypatch.setenv("KEEL_ACTOR", "ana")
    assert (ctx.project, ctx.actor) == ("fraud", "ana")


def test_an_invalid_project_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="'Not Valid' is not a project name"):
        Context(project="Not Valid")


def test_the_store_opens_once_under_concurrent_first_use(tmp_path: Path) -> None:
    ctx = Context(Settings(home=tmp_path))
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(ctx.store)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in seen}) == 1
    ctx.close()


def test_a_store_given_is_used_and_left_open(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'given.db'}")
    store.open()
    arts = FsspecArtifactStore(str(tmp_path / "arts"))
    ctx = Context(Settings(home=tmp_path / "unused"), store=store, artifacts=arts)
    assert ctx.store is store and ctx.artifacts is arts
    assert ctx.artifact_root == str(tmp_path / "arts")
    ctx.close()
    assert ctx.store is store
    store.tracking.list_experiments()  # still usable: the context did not close it
    store.close()


def test_spec_round_trips_through_pickle(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, actor="ana", project="fraud")
    spec = Context(settings).spec()
    assert spec == ContextSpec(
        store_uri=settings.resolved_store_uri(),
        artifact_root=settings.resolved_artifact_root(),
        project="fraud",
        actor="ana",
    )
    again = Context.from_spec(pickle.loads(pickle.dumps(spec)))
    assert (again.store_uri, again.artifact_root, again.project, again.actor) == (
        spec.store_uri,
        spec.artifact_root,
        "fraud",
        "ana",
    )


def test_spec_repr_hides_the_store_uri() -> None:
    spec = ContextSpec("postgresql+psycopg://ana:s3cret@db/keel", "/a", "default", "ana")
    assert "s3cret" not in repr(spec)


def test_current_context_is_the_process_default_until_one_is_set(tmp_path: Path) -> None:
    default = current_context()
    assert current_context() is default
    other = Context(Settings(home=tmp_path))
    with use_context(other) as ctx:
        assert ctx is other and current_context() is other
        # another thread does not see this thread's context, but the process default
        seen: list[Context] = []
        t = threading.Thread(target=lambda: seen.append(current_context()))
        t.start()
        t.join()
        assert seen == [default]
    assert current_context() is default
    token = set_context(other)
    assert current_context() is other
    reset_context(token)
    assert current_context() is default


def test_services_use_the_current_context(keel_home: Path, tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3]})
    keel.datasets.register(frame, "here")
    elsewhere = Context(Settings(home=tmp_path / "elsewhere"))
    with use_context(elsewhere):
        assert keel.datasets.list() == []
        keel.datasets.register(frame, "there")
    assert [d.name for d in keel.datasets.list()] == ["here"]
    assert [d.name for d in keel.datasets.list(context=elsewhere)] == ["there"]
    elsewhere.close()


def test_the_fluent_api_follows_the_current_context(keel_home: Path, tmp_path: Path) -> None:
    elsewhere = Context(Settings(home=tmp_path / "elsewhere"))
    with use_context(elsewhere):
        with keel.start_run(experiment="moved") as run:
            keel.log_metric("m", 1.0)
        assert get_client().context is elsewhere
    assert elsewhere.store.tracking.get_run(run.id).metrics == {"m": 1.0}
    assert get_client().context is current_context() is not elsewhere
    elsewhere.close()


def test_set_client_makes_its_context_current(tmp_path: Path) -> None:
    client = Client(settings=Settings(home=tmp_path))
    token = set_client(client)
    try:
        assert get_client() is client
        assert current_context() is client.context
    finally:
        reset_client(token)
        client.close()
    assert current_context() is not client.context


def test_a_client_on_a_context_leaves_it_open(tmp_path: Path) -> None:
    ctx = Context(Settings(home=tmp_path))
    client = Client(context=ctx)
    run = client.create_run("x")
    client.end_run(run.id)
    client.close()
    assert ctx.store.tracking.get_run(run.id).status.value == "FINISHED"
    ctx.close()
    with pytest.raises(InvalidArgumentError, match="either a context or"):
        Client("sqlite:///x.db", context=ctx)


def test_the_concepts_page_example_runs(
    keel_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    page = Path(__file__).parents[1] / "docs" / "concepts" / "context.md"
    (block,) = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    exec(compile(block, "context.md", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.strip() == "(2, 1)"
    assert keel.datasets.list() == []  # it all went to ./staging, not the default home
    with Context(Settings(home="staging")) as staging:
        assert [e.name for e in staging.store.tracking.list_experiments()] == ["fraud"]
