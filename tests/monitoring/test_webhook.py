"""The webhook and log sinks, against real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any

import pytest

from keel.errors import InvalidArgumentError
from keel.monitoring._alerts import AlertRule, AlertWindow, evaluate_alerts
from keel.monitoring._sinks import AlertSink, LogSink
from keel.monitoring._webhook import WebhookSink
from keel_server import free_port
from webhook_receiver import WebhookReceiver


def _events() -> tuple[Any, ...]:
    rule = AlertRule(
        name="inputs", value="drift.share_drifted", operator=">=", threshold=0.5,
        severity="critical", action="rollback",
    )  # fmt: skip
    windows = [
        AlertWindow(key=f"w{i}", values={"drift": {"share_drifted": v}})
        for i, v in enumerate([0.7, 0.1])
    ]
    return evaluate_alerts([rule], windows).events


def _sender_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("keel-webhook")]


def test_delivers_alert_events_as_json_in_order() -> None:
    firing, resolved = _events()
    with WebhookReceiver() as receiver:
        sink = WebhookSink(receiver.url, headers={"Authorization": "Bearer s3cret"})
        assert isinstance(sink, AlertSink)
        sink.deliver(firing)
        sink.deliver(resolved)
        for i in range(20):
            sink.send({"n": i})
        stats = sink.close(timeout=10)
        got = receiver.accepted()
    assert (stats.delivered, stats.failed, stats.dropped, stats.pending) == (22, 0, 0, 0)
    assert got[0].body == firing.to_dict()
    assert got[0].body["status"] == "firing" and got[0].body["action"] == "rollback"
    assert got[1].body["status"] == "resolved"
    assert [r.body["n"] for r in got[2:]] == list(range(20))
    assert got[0].path == "/hooks/keel"
    assert got[0].headers["content-type"] == "application/json"
    assert got[0].headers["authorization"] == "Bearer s3cret"
    assert got[0].headers["idempotency-key"] == "inputs@w0:firing"
    assert got[1].headers["idempotency-key"] == "inputs@w0:resolved"
    assert len({r.headers["idempotency-key"] for r in got[2:]}) == 20


def test_retries_a_receiver_that_fails_the_first_times(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "keel.monitoring.webhook")
    with WebhookReceiver(fail_first=3, fail_status=503) as receiver:
        sink = WebhookSink(receiver.url, backoff=0.01, max_attempts=5)
        sink.send({"alert": 1}, key="k1")
        assert sink.flush(timeout=10)
        stats = sink.close()
        seen = list(receiver.requests)
    assert [r.status for r in seen] == [503, 503, 503, 200]
    assert {r.headers["idempotency-key"] for r in seen} == {"k1"}  # same key on every retry
    assert (stats.delivered, stats.failed, stats.retries) == (1, 0, 3)
    retried = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retried) == 3 and "HTTP 503" in retried[0].getMessage()


def test_backoff_doubles_between_attempts() -> None:
    with WebhookReceiver(fail_first=3, fail_status=500) as receiver:
        sink = WebhookSink(receiver.url, backoff=0.1, max_attempts=4)
        sink.send({"x": 1})
        sink.close(timeout=10)
        at = [r.at for r in receiver.requests]
    gaps = [b - a for a, b in itertools.pairwise(at)]
    assert len(gaps) == 3
    # 0.1, 0.2, 0.4 s at least (lower bounds only: a busy machine is slower, never faster)
    for gap, wait in zip(gaps, (0.1, 0.2, 0.4), strict=True):
        assert gap >= wait * 0.9


def test_gives_up_after_max_attempts(caplog: pytest.LogCaptureFixture) -> None:
    with WebhookReceiver(fail_first=100, fail_status=502) as receiver:
        sink = WebhookSink(receiver.url, backoff=0.0, max_attempts=3)
        sink.send({"x": 1})
        stats = sink.close(timeout=10)
        assert len(receiver.requests) == 3
    assert (stats.delivered, stats.failed, stats.retries) == (0, 1, 2)
    assert "gave up after 3 attempts (HTTP 502)" in caplog.text


def test_a_4xx_answer_is_final(caplog: pytest.LogCaptureFixture) -> None:
    with WebhookReceiver(fail_first=1, fail_status=400) as receiver:
        sink = WebhookSink(receiver.url, backoff=0.0)
        sink.send({"x": 1})
        sink.send({"x": 2})
        stats = sink.close(timeout=10)
        assert [r.status for r in receiver.requests] == [400, 200]
    assert (stats.delivered, stats.failed, stats.retries) == (1, 1, 0)
    assert "receiver refused the payload (HTTP 400); not retried" in caplog.text


def test_retry_after_is_honoured() -> None:
    with WebhookReceiver(fail_first=1, fail_status=429, retry_after="0.4") as receiver:
        sink = WebhookSink(receiver.url, backoff=0.01, max_backoff=5)
        sink.send({"x": 1})
        stats = sink.close(timeout=10)
        first, second = receiver.requests
    assert stats.delivered == 1
    assert second.at - first.at >= 0.35


def test_a_receiver_that_is_down_then_comes_up() -> None:
    port = free_port()
    sink = WebhookSink(f"http://127.0.0.1:{port}/hook", backoff=0.1, max_backoff=0.2,
                       max_attempts=50)  # fmt: skip
    sink.send({"x": 1})
    time.sleep(0.5)  # a few refused connections
    assert sink.stats.retries >= 1 and sink.stats.delivered == 0
    with WebhookReceiver(port=port) as receiver:
        assert sink.flush(timeout=10)
        stats = sink.close()
        assert [r.body for r in receiver.accepted()] == [{"x": 1}]
    assert (stats.delivered, stats.failed) == (1, 0)


def test_a_receiver_that_stays_down(caplog: pytest.LogCaptureFixture) -> None:
    sink = WebhookSink(f"http://127.0.0.1:{free_port()}/hook", backoff=0.01, max_attempts=3)
    sink.send({"x": 1})
    stats = sink.close(timeout=10)
    assert (stats.delivered, stats.failed, stats.retries) == (0, 1, 2)
    assert "cannot connect (ConnectError)" in caplog.text


def test_a_slow_receiver_times_out_and_is_retried() -> None:
    with WebhookReceiver(delay=1.0, slow_first=1) as receiver:
        sink = WebhookSink(receiver.url, timeout=0.2, backoff=0.01)
        sink.send({"x": 1}, key="slow")
        assert sink.flush(timeout=10)
        stats = sink.close()
        assert receiver.wait_for(2)
        keys = [r.headers["idempotency-key"] for r in receiver.requests]
    assert (stats.delivered, stats.retries) == (1, 1)
    assert keys == ["slow", "slow"]  # the receiver can tell the repeat


def test_a_full_queue_drops_the_oldest_with_a_counted_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with WebhookReceiver(hold=True) as receiver:
        sink = WebhookSink(receiver.url, queue_size=4)
        sink.send({"n": 0})
        # wait until the sender took n=0 off the queue (it is now held by the receiver)
        deadline = time.monotonic() + 5
        while sink.stats.pending != 1 or sink._queue:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for n in range(1, 8):  # 7 more into a queue of 4: the 3 oldest go
            sink.send({"n": n})
        assert sink.stats.dropped == 3 and sink.stats.pending == 5
        receiver.release()
        stats = sink.close(timeout=10)
        got = [r.body["n"] for r in receiver.accepted()]
    assert got == [0, 4, 5, 6, 7]
    assert (stats.delivered, stats.dropped) == (5, 3)
    drops = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert [r.levelno for r in drops] == [logging.WARNING, logging.WARNING]  # at 1 and 2
    assert "2 dropped so far" in drops[-1].getMessage()


def test_close_is_bounded_when_the_receiver_keeps_failing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with WebhookReceiver(fail_first=10_000) as receiver:
        sink = WebhookSink(receiver.url, backoff=0.2, max_backoff=0.2, max_attempts=100)
        for n in range(3):
            sink.send({"n": n})
        assert receiver.wait_for(1)
        started = time.monotonic()
        stats = sink.close(timeout=0.5)
        took = time.monotonic() - started
    assert took < 5  # the deadline, plus at most one request timeout
    assert (stats.delivered, stats.failed, stats.dropped, stats.pending) == (0, 0, 3, 0)
    assert (
        "close timed out after 0.5s; 2 queued payload(s) dropped, the one in flight gets no more retries"
        in caplog.text
    )
    assert not _sender_threads()


def test_flush_reports_a_timeout() -> None:
    with WebhookReceiver(hold=True) as receiver:
        sink = WebhookSink(receiver.url)
        sink.send({"x": 1})
        assert sink.flush(timeout=0.2) is False
        receiver.release()
        assert sink.flush(timeout=10) is True
        sink.close()


def test_no_thread_before_the_first_payload_and_none_after_close() -> None:
    before = len(_sender_threads())
    with WebhookReceiver() as receiver:
        sink = WebhookSink(receiver.url)
        assert len(_sender_threads()) == before  # the constructor does no I/O
        sink.send({"x": 1})
        sink.close()
        sink.close()  # twice is harmless
    assert len(_sender_threads()) == before
    with pytest.raises(RuntimeError, match=r"webhook sink for http://127.0.0.1:\d+/... is closed"):
        sink.send({"x": 2})


def test_secrets_stay_out_of_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "keel.monitoring.webhook")
    with WebhookReceiver(fail_first=1) as receiver:
        url = receiver.url.replace("/hooks/keel", "/hooks/T0KEN-in-path?token=abc")
        sink = WebhookSink(url, headers={"Authorization": "Bearer s3cret"}, backoff=0.01)
        sink.send({"x": 1})
        sink.close()
    assert "retrying" in caplog.text
    for secret in ("T0KEN", "abc", "s3cret"):
        assert secret not in caplog.text
    assert "T0KEN" not in repr(sink)


def test_payloads_must_be_strict_json() -> None:
    sink = WebhookSink("http://127.0.0.1:9/x")
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        sink.send({"x": float("nan")})
    with pytest.raises(TypeError, match="not JSON serializable"):
        sink.send({"x": object()})
    assert sink.stats.pending == 0
    sink.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "ftp://host/x"}, "webhook url 'ftp://host/x' is not an http"),
        ({"url": "hooks.example.com"}, "is not an http"),
        ({"url": "http://127.0.0.1:99999/x"}, "is not an http"),
        ({"url": "http://h/x", "timeout": 0}, "webhook timeout must be a finite number >= 0.001"),
        ({"url": "http://h/x", "backoff": -1}, "webhook backoff must be a finite number >= 0"),
        ({"url": "http://h/x", "max_backoff": float("inf")}, "max_backoff must be a finite"),
        ({"url": "http://h/x", "max_attempts": 0}, "max_attempts must be a whole number from 1"),
        ({"url": "http://h/x", "queue_size": 0}, "queue_size must be a whole number >= 1"),
    ],
)
def test_bad_settings_are_clear_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        WebhookSink(**kwargs)


def test_log_sink_logs_at_the_severity(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "keel.monitoring.alerts")
    firing, resolved = _events()
    sink = LogSink()
    assert isinstance(sink, AlertSink)
    sink.deliver(firing)
    sink.deliver(resolved)
    sink.close()
    fired, done = caplog.records
    assert fired.levelno == logging.CRITICAL and done.levelno == logging.INFO
    assert fired.getMessage().startswith(
        "[critical] alert inputs firing: drift.share_drifted = 0.7"
    )
    assert "resolved at window w1" in done.getMessage()
    assert fired.keel_alert["alert_id"] == "inputs@w0"  # type: ignore[attr-defined]


# ---- sinks as data ---------------------------------------------------------------------


def test_sinks_described_as_data_open_and_deliver(caplog: pytest.LogCaptureFixture) -> None:
    from keel.monitoring._sinks import LogSinkSpec, WebhookSinkSpec, open_sink, parse_sinks

    firing, _ = _events()
    with WebhookReceiver() as receiver:
        specs = parse_sinks(
            [
                {"type": "log", "logger": "my.alerts"},
                {
                    "type": "webhook",
                    "url": receiver.url.replace("127.0.0.1", "${HOOK_HOST}"),
                    "headers": {"Authorization": "Bearer ${HOOK_TOKEN}"},
                    "backoff": 0.01,
                },
            ]
        )
        assert isinstance(specs[0], LogSinkSpec) and isinstance(specs[1], WebhookSinkSpec)
        # the stored description keeps the names, not the secret
        assert "${HOOK_TOKEN}" in specs[1].model_dump_json()
        env = {"HOOK_HOST": "127.0.0.1", "HOOK_TOKEN": "t0ken"}
        sinks = [open_sink(spec, env) for spec in specs]
        for sink in sinks:
            sink.deliver(firing)
            sink.close()
        (got,) = receiver.accepted()
    assert got.headers["authorization"] == "Bearer t0ken"
    assert got.body["alert_id"] == "inputs@w0"
    assert [r.name for r in caplog.records if r.name == "my.alerts"] == ["my.alerts"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "email", "to": "a@b"}, "alert sink 1 is invalid: type: Input tag 'email'"),
        ({"url": "http://x"}, "alert sink 1 is invalid: type: Unable to extract tag"),
        ({"type": "webhook"}, "url: Field required"),
        ({"type": "webhook", "url": "hooks.example.com"}, "'hooks.example.com' is not an http"),
        ({"type": "webhook", "url": "http://h/x", "retries": 3}, "retries: Extra inputs"),
        ({"type": "webhook", "url": "http://h/x", "max_attempts": 0}, "max_attempts: Input"),
        ({"type": "log", "url": "http://h/x"}, "url: Extra inputs are not permitted"),
    ],
)
def test_bad_sink_descriptions_are_clear_errors(data: dict[str, Any], message: str) -> None:
    from keel.errors import error_for_code
    from keel.monitoring._sinks import AlertSinkError, parse_sinks

    with pytest.raises(AlertSinkError, match=message) as info:
        parse_sinks([data])
    assert error_for_code(info.value.code) is AlertSinkError
    with pytest.raises(AlertSinkError, match="alert sink 1 must be a mapping"):
        parse_sinks(["webhook"])  # type: ignore[list-item]


def test_an_unset_variable_is_named() -> None:
    from keel.monitoring._sinks import AlertSinkError, open_sink, parse_sinks

    (spec,) = parse_sinks([{"type": "webhook", "url": "https://h/x?key=${HOOK_KEY}"}])
    with pytest.raises(AlertSinkError, match=r"webhook url uses \$\{HOOK_KEY\}, which is not set"):
        open_sink(spec, {})
