"""The online stores, SQLite and the machine's Redis, against one contract: newest record
wins whatever the order of writes, the watermark moves only after the records, several
views are read in one call, and an unreachable store says which one."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from keel.errors import InvalidArgumentError
from keel.features._online import (
    OnlineStore,
    OnlineStoreUnavailableError,
    Watermark,
    default_online_uri,
    open_online_store,
)
from keel.features._online_codec import RecordCodec, record_event_us, schema_fingerprint

FP = schema_fingerprint("trips", ["driver"], [("n", "int"), ("avg", "float")])
CODEC = RecordCodec(FP, ("int", "float"))


def _wm(event_us: int, rows: int = 1, fingerprint: bytes = FP) -> Watermark:
    return Watermark(fingerprint.hex(), event_us, event_us + 5, 99, rows, 1)


@pytest.fixture(params=["sqlite", "redis"])
def online(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'online.db'}"
    else:
        uri = request.getfixturevalue("redis_online_uri")
    store = open_online_store(uri)
    try:
        yield store
    finally:
        store.close()


def _read_one(store: OnlineStore, view: str, key: bytes) -> bytes | None:
    return store.read("p", [(view, [key])])[0][0]


def test_records_are_stored_and_read_back(online: OnlineStore) -> None:
    assert online.watermark("p", "trips") is None
    records = [(b"1", CODEC.encode(10, [1, 0.5])), (b"2", CODEC.encode(20, [2, None]))]
    assert online.write("p", "trips", [records], _wm(20, 2)) == 2
    got = online.read("p", [("trips", [b"2", b"9", b"1"])])
    assert got == [[records[1][1], None, records[0][1]]]
    assert CODEC.decode(got[0][0] or b"") == [2, None]
    assert online.watermark("p", "trips") == _wm(20, 2)
    assert online.count("p", "trips") == 2


def test_an_older_record_never_replaces_a_newer_one(online: OnlineStore) -> None:
    new, old = CODEC.encode(20, [2, 2.0]), CODEC.encode(10, [1, 1.0])
    online.write("p", "trips", [[(b"1", new)]], _wm(20))
    assert online.write("p", "trips", [[(b"1", old)]], _wm(10)) == 0
    assert _read_one(online, "trips", b"1") == new
    # the same record again: idempotent
    online.write("p", "trips", [[(b"1", new)]], _wm(20))
    assert _read_one(online, "trips", b"1") == new
    # an equal time replaces (a rewrite of the same window)
    same_time = CODEC.encode(20, [3, 3.0])
    online.write("p", "trips", [[(b"1", same_time)]], _wm(20))
    assert _read_one(online, "trips", b"1") == same_time


def test_a_record_of_another_schema_replaces_even_if_older(online: OnlineStore) -> None:
    online.write("p", "trips", [[(b"1", CODEC.encode(20, [2, 2.0]))]], _wm(20))
    fp2 = schema_fingerprint("trips", ["driver"], [("n", "int")])
    codec2 = RecordCodec(fp2, ("int",))
    older = codec2.encode(5, [7])
    online.write("p", "trips", [[(b"1", older)]], _wm(5, fingerprint=fp2))
    assert _read_one(online, "trips", b"1") == older


def test_views_and_projects_are_kept_apart_and_read_in_one_call(online: OnlineStore) -> None:
    a, b, c = (CODEC.encode(t, [t, None]) for t in (1, 2, 3))
    online.write("p", "trips", [[(b"1", a)]], _wm(1))
    online.write("p", "ratings", [[(b"1", b)]], _wm(2))
    online.write("q", "trips", [[(b"1", c)]], _wm(3))
    assert online.read("p", [("trips", [b"1", b"2"]), ("ratings", [b"1"]), ("none", [])]) == [
        [a, None],
        [b],
        [],
    ]
    assert _read_one(online, "trips", b"1") == a
    assert online.read("q", [("trips", [b"1"])]) == [[c]]
    assert online.read("p", []) == []


def test_many_batches_and_many_keys(online: OnlineStore) -> None:
    batches = [
        [(str(i).encode(), CODEC.encode(i, [i, i / 2])) for i in range(start, start + 1500)]
        for start in range(0, 4500, 1500)
    ]
    assert online.write("p", "trips", batches, _wm(4499, 4500)) == 4500
    keys = [str(i).encode() for i in range(0, 4600, 3)]
    got = online.read("p", [("trips", keys)])[0]
    assert [None if r is None else record_event_us(r) for r in got] == [
        i if i < 4500 else None for i in range(0, 4600, 3)
    ]
    assert online.delete_view("p", "trips") == 4500
    assert online.count("p", "trips") == 0 and online.watermark("p", "trips") is None


def test_an_interrupted_write_leaves_the_watermark_where_it_was(online: OnlineStore) -> None:
    online.write("p", "trips", [[(b"1", CODEC.encode(1, [1, 1.0]))]], _wm(1))

    def batches() -> Iterator[list[tuple[bytes, bytes]]]:
        yield [(b"2", CODEC.encode(5, [2, 2.0]))]
        raise KeyboardInterrupt  # the process is being stopped half-way

    with pytest.raises(KeyboardInterrupt):
        online.write("p", "trips", batches(), _wm(5))
    assert online.watermark("p", "trips") == _wm(1)
    # a re-run writes the same records: the store ends as if never interrupted
    online.write("p", "trips", [[(b"2", CODEC.encode(5, [2, 2.0]))]], _wm(5, 0))
    assert online.watermark("p", "trips") == _wm(5, 1)  # rows: what the store was given
    assert record_event_us(_read_one(online, "trips", b"2") or b"") == 5


def test_sqlite_commits_a_run_entirely_or_not_at_all(tmp_path: Path) -> None:
    store = open_online_store(f"sqlite:///{tmp_path / 'o.db'}")

    def batches() -> Iterator[list[tuple[bytes, bytes]]]:
        yield [(b"1", CODEC.encode(5, [2, 2.0]))]
        raise RuntimeError("source read failed")

    with pytest.raises(RuntimeError):
        store.write("p", "trips", batches(), _wm(5))
    assert store.count("p", "trips") == 0 and store.watermark("p", "trips") is None
    store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_redis_down_names_the_url_and_moves_no_watermark() -> None:
    pytest.importorskip("redis")
    uri = f"redis://:s3cret@127.0.0.1:{_free_port()}/3"
    store = open_online_store(uri)
    for call in (
        lambda: store.write("p", "trips", [[(b"1", CODEC.encode(1, [1, 1.0]))]], _wm(1)),
        lambda: store.read("p", [("trips", [b"1"])]),
        lambda: store.watermark("p", "trips"),
    ):
        with pytest.raises(OnlineStoreUnavailableError) as info:
            call()
        message = str(info.value)
        assert "redis://:***@127.0.0.1:" in message and "/3" in message
        assert "s3cret" not in message and "KEEL_ONLINE_STORE" in message
        assert info.value.http_status == 503


def test_an_sqlite_store_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = open_online_store(f"sqlite:///{blocker / 'online.db'}")
    with pytest.raises(
        OnlineStoreUnavailableError, match=r"online store sqlite:///.*file/online\.db"
    ):
        store.watermark("p", "trips")


def test_uris_and_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown scheme"):
        open_online_store("mongodb://127.0.0.1/x")
    store = open_online_store(f"sqlite:///{tmp_path / 'o.db'}")
    with pytest.raises(InvalidArgumentError, match="view name 'a:b'"):
        store.write("p", "a:b", [], _wm(1))
    store.close()


def test_the_default_is_sqlite_under_home(tmp_path: Path) -> None:
    from keel.config import ConfigError, Settings, load_settings

    assert default_online_uri(Settings(home=tmp_path)) == f"sqlite:///{tmp_path / 'online.db'}"
    settings = Settings(home=tmp_path, online_store="redis://127.0.0.1:6379/2")
    assert default_online_uri(settings) == "redis://127.0.0.1:6379/2"
    with pytest.raises(ConfigError, match="online_store"):
        load_settings(online_store="memcached://x")


def test_a_read_of_many_views_and_keys_spans_statements(online: OnlineStore) -> None:
    for view in ("v1", "v2", "v3"):
        records = [(str(i).encode(), CODEC.encode(i, [i, float(len(view))])) for i in range(2500)]
        online.write("p", view, [records], _wm(2499))
    keys = [str(i).encode() for i in range(2600)]  # 100 absent
    got = online.read("p", [("v1", keys), ("v2", keys[:10]), ("none", keys[:3]), ("v3", keys)])
    assert [len(g) for g in got] == [2600, 10, 3, 2600]
    assert [record_event_us(r) for r in got[0][:2500] if r] == list(range(2500))
    assert got[0][2500:] == [None] * 100 and got[2] == [None] * 3
    assert got[3][:2500] == got[0][:2500] and got[1] == got[0][:10]
