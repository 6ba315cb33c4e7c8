"""Paged lists: cursors bound to their query, one query per listing, every item once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from keel.errors import InvalidArgumentError
from keel.server._paging import Snapshots, page_from
from keel.store import Metric
from keel_server import KeelServer


class Query:
    """A listing whose every run is counted."""

    def __init__(self, n: int) -> None:
        self.items = list(range(n))
        self.runs = 0

    def __call__(self) -> list[int]:
        self.runs += 1
        return list(self.items)


def _all_pages(
    query: Query, snapshots: Snapshots, limit: int, scope: str = "p", args: Any = None
) -> list[int]:
    got: list[int] = []
    cursor = None
    while True:
        page, cursor = page_from(query, {"op": "x", "a": args}, cursor, limit, snapshots, scope)
        got.extend(page)
        if cursor is None:
            return got


def test_a_listing_runs_its_query_once_and_returns_every_item_once() -> None:
    query, snapshots = Query(2_500), Snapshots()
    assert _all_pages(query, snapshots, 1000) == list(range(2_500))
    assert query.runs == 1
    assert _all_pages(Query(7), snapshots, 1000) == list(range(7))  # one page: not kept
    assert len(snapshots) == 1


def test_pages_come_from_one_snapshot_while_it_is_kept() -> None:
    query, snapshots = Query(30), Snapshots()
    first, cursor = page_from(query, {"op": "x"}, None, 10, snapshots, "p")
    query.items.insert(0, -1)  # the data changes between pages
    second, _ = page_from(query, {"op": "x"}, cursor, 10, snapshots, "p")
    assert first + second == list(range(20)) and query.runs == 1


def test_a_cursor_whose_snapshot_is_gone_runs_the_query_again_at_its_offset() -> None:
    query, snapshots = Query(25), Snapshots(ttl=0.05)
    first, cursor = page_from(query, {"op": "x"}, None, 10, snapshots, "p")
    time.sleep(0.1)
    second, cursor = page_from(query, {"op": "x"}, cursor, 10, snapshots, "p")
    third, cursor = page_from(query, {"op": "x"}, cursor, 10, snapshots, "p")
    assert first + second + third == list(range(25)) and cursor is None
    assert query.runs == 2  # expired once, then its new snapshot served the last page


def test_a_snapshot_serves_only_its_own_scope_and_query() -> None:
    snapshots = Snapshots()
    mine = Query(30)
    _, cursor = page_from(mine, {"op": "x"}, None, 10, snapshots, "alpha")
    other = Query(30)
    other.items = [100 + i for i in range(30)]
    assert cursor is not None
    # the same query in another project: that project's rows, not the snapshot
    page, _ = page_from(other, {"op": "x"}, cursor, 10, snapshots, "beta")
    assert page == list(range(110, 120)) and other.runs == 1
    with pytest.raises(InvalidArgumentError, match="another query"):
        page_from(mine, {"op": "y"}, cursor, 10, snapshots, "alpha")


@pytest.mark.parametrize("cursor", ["not-base64!", "e30", "eyJvIjotMSwicSI6IngifQ"])
def test_a_tampered_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidArgumentError, match="cursor"):
        page_from(Query(3), {"op": "x"}, cursor, 10, Snapshots(), "p")


def test_the_page_size_is_bounded() -> None:
    for limit in (0, 1001):
        with pytest.raises(InvalidArgumentError, match="limit must be between 1 and 1000"):
            page_from(Query(3), {"op": "x"}, None, limit, Snapshots(), "p")


def test_snapshots_are_bounded_oldest_first() -> None:
    snapshots = Snapshots(max_items=100)
    first = snapshots.put("a", list(range(60)))
    second = snapshots.put("b", list(range(60)))  # no room for both: the first goes
    assert first and second
    assert snapshots.get(first, "a") is None and snapshots.get(second, "b") is not None
    assert snapshots.put("c", list(range(101))) is None  # larger than the bound: not kept
    assert snapshots.get(second, "other scope") is None


# -- on a real server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeelServer]:
    running = KeelServer(tmp_path_factory.mktemp("server")).start(init_admin=True)
    try:
        yield running
    finally:
        running.stop()


def test_a_long_metric_history_reads_back_whole_and_in_order(server: KeelServer) -> None:
    store = server.client()
    try:
        exp = store.tracking.get_or_create_experiment("paging")
        run = store.tracking.create_run(exp.id)
        values = [Metric("loss", i / 7, i, 1) for i in range(2_345)]
        for start in range(0, len(values), 1000):
            store.tracking.log_batch(
                run.id, values[start : start + 1000], batch_id=uuid.uuid4().hex
            )
        assert store.tracking.get_metric_history(run.id, "loss") == values
    finally:
        store.close()


def test_a_cursor_is_bound_to_its_query_over_http(server: KeelServer) -> None:
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    base = f"{server.url}/api/v1/projects/default"
    store = server.client()
    try:
        exp = store.tracking.get_or_create_experiment("cursor")
        run = store.tracking.create_run(exp.id)
        store.tracking.log_batch(run.id, [Metric("a", 1.0, i, 1) for i in range(5)])
        store.tracking.log_batch(run.id, [Metric("b", 2.0, i, 1) for i in range(5)])
    finally:
        store.close()
    history = f"{base}/runs/{run.id}/metric-history"
    first = httpx.get(history, params={"key": "a", "limit": 2}, headers=headers).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    other = httpx.get(
        history, params={"key": "b", "limit": 2, "cursor": first["next_cursor"]}, headers=headers
    )
    assert other.status_code == 400 and "another query" in other.json()["detail"]
    rest = httpx.get(
        history, params={"key": "a", "limit": 10, "cursor": first["next_cursor"]}, headers=headers
    ).json()
    assert [m["step"] for m in first["items"] + rest["items"]] == [0, 1, 2, 3, 4]
    assert rest["next_cursor"] is None


def test_server_wide_lists_page_past_the_first_page(server: KeelServer) -> None:
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    admin = server.client()
    try:
        for name in ("pat", "quinn", "ray"):
            admin.access.create_user(name, actor="-")
        everyone = sorted(u.name for u in admin.access.list_users())
    finally:
        admin.close()
    names: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = httpx.get(f"{server.url}/api/v1/users", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        names += [u["name"] for u in answer.json()["items"]]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(names) == everyone and len(everyone) >= 4
