"""The SendGrid transport: the real sendgrid client against a fake API on 127.0.0.1."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time

import pytest
from followup_cases import API_KEY, AS_OF, WorkData, customer, deduction, message_id_of

from shortpay.followups import outbox
from shortpay.followups.run import run_followups
from shortpay.followups.sendgrid_api import SendGridSettings, SendGridTransport
from shortpay.followups.transports import TransportConfigError, make_transport


def many_deductions(count: int) -> WorkData:
    return WorkData(deductions=[deduction(f"D{number:03d}") for number in range(1, count + 1)])


def statuses(paths) -> dict[str, str]:
    return {row.message_id: row.status for row in outbox.read_messages(paths.state_db)}


def test_rate_limit_burst_sends_each_once(paths, rules_dir, work_db, fake_sendgrid):
    conn = work_db(many_deductions(120))
    resets: dict[str, int] = {}
    retried_at: dict[str, float] = {}

    def respond(number, body):
        # Requests 40, 42 and 44 get 429 with a reset about a second ahead.
        message_id = message_id_of(body)
        if number in (40, 42, 44):
            resets[message_id] = int(time.time()) + 1
            headers = {"X-RateLimit-Reset": str(resets[message_id])}
            return 429, headers, b'{"errors":[{"message":"too many requests"}]}'
        if message_id in resets:
            retried_at[message_id] = time.time()
        return None

    fake_sendgrid.respond = respond

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.sent == 120
    assert summary.queued == 120
    expected = {f"D{number:03d}:first_notice" for number in range(1, 121)}
    assert set(fake_sendgrid.accepted) == expected
    assert set(fake_sendgrid.accepted.values()) == {1}
    assert len(resets) == 3
    assert sum(fake_sendgrid.posts.values()) == 123
    for message_id, reset in resets.items():
        assert fake_sendgrid.posts[message_id] == 2
        assert retried_at[message_id] >= reset
    assert set(statuses(paths).values()) == {"sent"}
    rows = outbox.read_messages(paths.state_db)
    assert sum(row.attempts for row in rows) == 123
    provider_ids = {row.provider_message_id for row in rows}
    assert len(provider_ids) == 120
    assert None not in provider_ids


def test_timeout_is_held_not_resent(paths, rules_dir, work_db, fake_sendgrid, monkeypatch):
    monkeypatch.setenv("SHORTPAY_SENDGRID_TIMEOUT", "0.3")
    fake_sendgrid.delay = 1.0
    conn = work_db(WorkData())

    first = run_followups(conn, paths, AS_OF, rules_dir)
    second = run_followups(conn, paths, AS_OF, rules_dir)

    assert len(fake_sendgrid.mail_requests) == 1
    assert first.held_unknown == 1
    assert first.sent == 0
    assert second.sent == 0
    assert second.queued == 0
    [row] = outbox.read_messages(paths.state_db)
    assert row.status == "unknown"
    assert row.attempts == 1
    assert "timed out" in row.last_error


def test_outage_stops_after_three_timeouts(paths, rules_dir, work_db, fake_sendgrid, monkeypatch):
    monkeypatch.setenv("SHORTPAY_SENDGRID_TIMEOUT", "0.3")
    fake_sendgrid.delay = 1.0
    conn = work_db(many_deductions(5))

    first = run_followups(conn, paths, AS_OF, rules_dir)

    assert first.queued == 5
    assert first.held_unknown == 3
    assert first.deferred == 2
    assert first.sent == 0
    assert len(fake_sendgrid.mail_requests) == 3
    assert statuses(paths) == {
        "D001:first_notice": "unknown",
        "D002:first_notice": "unknown",
        "D003:first_notice": "unknown",
        "D004:first_notice": "queued",
        "D005:first_notice": "queued",
    }

    fake_sendgrid.delay = 0.0
    second = run_followups(conn, paths, AS_OF, rules_dir)

    assert second.sent == 2
    assert second.queued == 0
    assert [message_id_of(request["body"]) for request in fake_sendgrid.mail_requests[3:]] == [
        "D004:first_notice", "D005:first_notice",
    ]
    assert set(fake_sendgrid.posts.values()) == {1}


def test_sent_message_resets_the_timeout_count(paths, rules_dir, work_db, fake_sendgrid,
                                               monkeypatch):
    monkeypatch.setenv("SHORTPAY_SENDGRID_TIMEOUT", "0.3")
    slow = {0, 1, 3, 4}

    def respond(number, body):
        if number in slow:
            time.sleep(1.0)
        return None

    fake_sendgrid.respond = respond
    conn = work_db(many_deductions(5))

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.held_unknown == 4
    assert summary.sent == 1
    assert summary.deferred == 0
    assert len(fake_sendgrid.mail_requests) == 5


def test_sandbox_flag_in_every_request(paths, rules_dir, work_db, fake_sendgrid, monkeypatch):
    monkeypatch.setenv("SHORTPAY_SENDGRID_SANDBOX", "true")
    conn = work_db(many_deductions(3))

    run_followups(conn, paths, AS_OF, rules_dir)

    bodies = [request["body"] for request in fake_sendgrid.mail_requests]
    assert len(bodies) == 3
    for body in bodies:
        assert body["mail_settings"] == {"sandbox_mode": {"enable": True}}


def test_sandbox_flag_absent_when_unset(paths, rules_dir, work_db, fake_sendgrid):
    conn = work_db(many_deductions(3))

    run_followups(conn, paths, AS_OF, rules_dir)

    bodies = [request["body"] for request in fake_sendgrid.mail_requests]
    assert len(bodies) == 3
    for body in bodies:
        assert "mail_settings" not in body


def test_request_body_content(paths, rules_dir, work_db, fake_sendgrid):
    conn = work_db(WorkData())

    run_followups(conn, paths, AS_OF, rules_dir)

    [request] = fake_sendgrid.mail_requests
    body = request["body"]
    assert body["from"] == {"email": "deductions@shortpay.example",
                            "name": "Shortpay Accounts Receivable"}
    assert body["personalizations"][0]["to"] == [{"email": "ap@c1.example",
                                                  "name": "Pat Payables"}]
    assert body["reply_to"] == {"email": "ar@shortpay.example"}
    assert [part["type"] for part in body["content"]] == ["text/plain", "text/html"]
    assert body["custom_args"] == {"shortpay_message_id": "D1:first_notice"}
    assert fake_sendgrid.authorizations == [f"Bearer {API_KEY}"]
    [row] = outbox.read_messages(paths.state_db)
    assert row.provider_message_id == "sg-0"


def test_second_run_sends_nothing(paths, rules_dir, work_db, fake_sendgrid):
    conn = work_db(many_deductions(5))
    run_followups(conn, paths, AS_OF, rules_dir)

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.sent == 0
    assert summary.queued == 0
    assert len(fake_sendgrid.mail_requests) == 5


@pytest.mark.parametrize("status", [400, 401, 403])
def test_client_errors_fail_with_reason(paths, rules_dir, work_db, fake_sendgrid, status):
    fake_sendgrid.respond = lambda number, body: (
        status, {}, b'{"errors":[{"message":"The from address does not match"}]}'
    )
    conn = work_db(WorkData())

    summary = run_followups(conn, paths, AS_OF, rules_dir)
    again = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.failed == 1
    assert again.failed == 0
    assert len(fake_sendgrid.mail_requests) == 1
    [row] = outbox.read_messages(paths.state_db)
    assert row.status == "failed"
    assert row.last_error.startswith(f"HTTP {status} ")
    assert row.last_error.endswith(": The from address does not match")


@pytest.mark.parametrize(("status", "failed", "left_queued"), [(400, 3, 0), (401, 1, 2)])
def test_auth_error_stops_delivery(
    paths, rules_dir, work_db, fake_sendgrid, status, failed, left_queued
):
    fake_sendgrid.respond = lambda number, body: (status, {}, b"")
    conn = work_db(many_deductions(3))

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    # A bad request fails one message; a rejected key would fail them all.
    assert summary.failed == failed
    assert summary.deferred == left_queued
    assert len(fake_sendgrid.mail_requests) == failed
    assert list(statuses(paths).values()).count("queued") == left_queued


def test_server_errors_retried_with_backoff(paths, rules_dir, work_db, fake_sendgrid):
    fake_sendgrid.respond = lambda number, body: (503, {}, b"") if number < 2 else None
    conn = work_db(WorkData())

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.sent == 1
    assert len(fake_sendgrid.mail_requests) == 3
    [row] = outbox.read_messages(paths.state_db)
    assert row.status == "sent"
    assert row.attempts == 3


def test_server_errors_exhausted_defer(paths, rules_dir, work_db, fake_sendgrid, monkeypatch):
    monkeypatch.setenv("SHORTPAY_SENDGRID_MAX_RETRIES", "2")
    fake_sendgrid.respond = lambda number, body: (500, {}, b"")
    conn = work_db(many_deductions(2))

    first = run_followups(conn, paths, AS_OF, rules_dir)

    # Three requests for the first message, then the run stops.
    assert len(fake_sendgrid.mail_requests) == 3
    assert first.deferred == 2
    assert first.sent == 0
    assert set(statuses(paths).values()) == {"queued"}

    fake_sendgrid.respond = lambda number, body: None
    second = run_followups(conn, paths, AS_OF, rules_dir)

    assert second.sent == 2
    assert set(fake_sendgrid.accepted.values()) == {1}


def test_long_rate_limit_defers_run(paths, rules_dir, work_db, fake_sendgrid, monkeypatch):
    monkeypatch.setenv("SHORTPAY_SENDGRID_MAX_RATE_WAIT", "5")
    reset = str(int(time.time()) + 3600)
    fake_sendgrid.respond = lambda number, body: (429, {"X-RateLimit-Reset": reset}, b"")
    conn = work_db(many_deductions(3))

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert len(fake_sendgrid.mail_requests) == 1
    assert summary.deferred == 3
    assert set(statuses(paths).values()) == {"queued"}
    row = outbox.read_messages(paths.state_db)[0]
    assert "exceeds SHORTPAY_SENDGRID_MAX_RATE_WAIT=5" in row.last_error


def test_allowlist_fails_closed_outside_production(
    paths, rules_dir, work_db, fake_sendgrid, monkeypatch
):
    monkeypatch.setenv("SHORTPAY_ENV", "staging")
    monkeypatch.setenv("SHORTPAY_EMAIL_ALLOWLIST", "someone@else.example, @c1.example")
    conn = work_db(WorkData(
        deductions=[deduction("D1"), deduction("D2", customer_id="C2")],
        customers=[customer("C1"), customer("C2")],
    ))

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.sent == 1
    assert summary.failed == 1
    assert set(fake_sendgrid.accepted) == {"D1:first_notice"}
    rows = {row.deduction_id: row for row in outbox.read_messages(paths.state_db)}
    assert rows["D2"].status == "failed"
    assert rows["D2"].attempts == 0
    assert rows["D2"].last_error == (
        "recipient ap@c2.example is not on SHORTPAY_EMAIL_ALLOWLIST and SHORTPAY_ENV is "
        "staging, not production"
    )


def test_no_allowlist_sends_nothing_outside_production(
    paths, rules_dir, work_db, fake_sendgrid, monkeypatch
):
    monkeypatch.delenv("SHORTPAY_ENV")
    conn = work_db(many_deductions(2))

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.failed == 2
    assert fake_sendgrid.mail_requests == []


def test_api_key_never_logged(paths, rules_dir, work_db, fake_sendgrid, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SHORTPAY_SENDGRID_TIMEOUT", "0.3")
    fake_sendgrid.respond = lambda number, body: (
        (400, {}, b'{"errors":[{"message":"bad"}]}') if number == 0 else None
    )
    conn = work_db(many_deductions(3))

    run_followups(conn, paths, AS_OF, rules_dir)
    fake_sendgrid.delay = 1.0
    conn = work_db(WorkData(deductions=[deduction("D9")]))
    run_followups(conn, paths, AS_OF, rules_dir)

    # The client did send the key, and logged its request headers at debug level.
    assert fake_sendgrid.authorizations[0] == f"Bearer {API_KEY}"
    assert any("HEADERS" in record.getMessage() for record in caplog.records)
    assert API_KEY not in caplog.text
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
    for row in outbox.read_messages(paths.state_db):
        assert API_KEY not in (row.last_error or "")


def test_api_key_not_in_stored_message_id(paths, rules_dir, work_db, fake_sendgrid):
    fake_sendgrid.respond = lambda number, body: (202, {"X-Message-Id": f"id-{API_KEY}"}, b"")
    conn = work_db(WorkData(deductions=[deduction("D9")]))

    run_followups(conn, paths, AS_OF, rules_dir)

    [row] = outbox.read_messages(paths.state_db)
    assert row.status == "sent"
    assert row.provider_message_id == "id-[redacted]"


def test_api_key_not_in_errors_or_repr(fake_sendgrid, monkeypatch, tmp_path):
    settings = SendGridSettings.from_env()
    transport = SendGridTransport(settings)
    assert API_KEY not in repr(settings)
    assert API_KEY not in repr(transport)
    transport.close()
    monkeypatch.setenv("SHORTPAY_SENDGRID_HOST", "http://example.com")
    with pytest.raises(TransportConfigError) as raised:
        make_transport("sendgrid", tmp_path)
    assert str(raised.value).startswith("invalid SHORTPAY_SENDGRID_HOST 'http://example.com'")
    assert API_KEY not in str(raised.value)
    monkeypatch.delenv("SENDGRID_API_KEY")
    monkeypatch.setenv("SHORTPAY_SENDGRID_HOST", fake_sendgrid.url)
    with pytest.raises(TransportConfigError, match="SENDGRID_API_KEY is not set"):
        make_transport("sendgrid", tmp_path)


@pytest.mark.parametrize(
    "name, value",
    [
        ("SHORTPAY_SENDGRID_TIMEOUT", "nan"),
        ("SHORTPAY_SENDGRID_MAX_RETRIES", "inf"),
        ("SHORTPAY_SENDGRID_BACKOFF", "1e400"),
    ],
)
def test_non_finite_setting_rejected(fake_sendgrid, monkeypatch, tmp_path, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(TransportConfigError) as raised:
        make_transport("sendgrid", tmp_path)

    assert str(raised.value) == f"invalid {name} {value!r}: expected a finite number"


def test_bounce_list_suppresses_address(paths, rules_dir, work_db, fake_sendgrid):
    fake_sendgrid.suppression_lists["bounces"] = [
        {"created": 1767225600, "email": "AP@c2.example", "reason": "550 mailbox unknown",
         "status": "5.1.1"}
    ]
    conn = work_db(WorkData(
        deductions=[deduction("D1"), deduction("D2", customer_id="C2")],
        customers=[customer("C1"), customer("C2")],
    ))

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.sent == 1
    assert summary.suppressed == 1
    assert set(fake_sendgrid.accepted) == {"D1:first_notice"}
    assert outbox.read_suppressed(paths.state_db) == {"ap@c2.example"}


CRASH_SCRIPT = textwrap.dedent("""
    import datetime as dt, os, sys
    from pathlib import Path
    import duckdb
    from shortpay.settings import Paths
    from shortpay.followups import run as followup_run
    from shortpay.followups.sendgrid_api import SendGridTransport

    def crash(*args, **kwargs):
        os._exit(3)

    if sys.argv[2] == "after-queue":
        followup_run.deliver_queued = crash
    else:
        SendGridTransport.send = crash
    paths = Paths.for_warehouse(sys.argv[1])
    conn = duckdb.connect(str(paths.work_db))
    followup_run.run_followups(conn, paths, dt.date(2026, 3, 2), Path(sys.argv[3]))
""")


def run_crashing(paths, rules_dir, where: str) -> int:
    command = [sys.executable, "-c", CRASH_SCRIPT, str(paths.warehouse), where, str(rules_dir)]
    return subprocess.run(command, capture_output=True, timeout=60).returncode


def test_crash_after_queue_sends_once(paths, rules_dir, work_db, fake_sendgrid):
    work_db(many_deductions(2)).close()

    assert run_crashing(paths, rules_dir, "after-queue") == 3
    assert set(statuses(paths).values()) == {"queued"}
    assert fake_sendgrid.mail_requests == []

    conn = work_db(many_deductions(2))
    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.sent == 2
    assert summary.queued == 0
    assert dict(fake_sendgrid.accepted) == {"D001:first_notice": 1, "D002:first_notice": 1}


def test_crash_during_send_is_held(paths, rules_dir, work_db, fake_sendgrid):
    work_db(many_deductions(2)).close()

    assert run_crashing(paths, rules_dir, "during-send") == 3
    assert statuses(paths) == {"D001:first_notice": "sending", "D002:first_notice": "queued"}

    conn = work_db(many_deductions(2))
    summary = run_followups(conn, paths, AS_OF, rules_dir)

    # The interrupted message may have reached SendGrid, so it is held; the other is sent.
    assert summary.held_unknown == 1
    assert summary.sent == 1
    assert statuses(paths) == {"D001:first_notice": "unknown", "D002:first_notice": "sent"}
    assert dict(fake_sendgrid.accepted) == {"D002:first_notice": 1}



def test_state_db_free_during_request(paths, rules_dir, work_db, fake_sendgrid, monkeypatch):
    monkeypatch.setenv("SHORTPAY_SENDGRID_TIMEOUT", "20")
    probe = (
        "import sys, duckdb; "
        "connection = duckdb.connect(sys.argv[1]); "
        "print(connection.execute('select status from followup_outbox').fetchall()); "
        "connection.close()"
    )
    outputs: list[subprocess.CompletedProcess] = []

    def respond(number, body):
        # Another process opens the state database while the request is in flight.
        outputs.append(subprocess.run([sys.executable, "-c", probe, str(paths.state_db)],
                                      capture_output=True, text=True, timeout=30))
        return None

    fake_sendgrid.respond = respond
    conn = work_db(WorkData())

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    assert summary.sent == 1
    [probe_run] = outputs
    assert probe_run.returncode == 0, probe_run.stderr
    assert probe_run.stdout.strip() == "[('sending',)]"


PARALLEL_SCRIPT = textwrap.dedent("""
    import datetime as dt, sys
    from pathlib import Path
    import duckdb
    from shortpay.settings import Paths
    from shortpay.followups.run import run_followups

    paths = Paths.for_warehouse(sys.argv[1])
    conn = duckdb.connect(str(paths.work_db), read_only=True)
    summary = run_followups(conn, paths, dt.date(2026, 3, 2), Path(sys.argv[2]))
    print(summary.sent)
""")


def test_parallel_runs_send_each_once(paths, rules_dir, work_db, fake_sendgrid):
    work_db(many_deductions(30)).close()
    command = [sys.executable, "-c", PARALLEL_SCRIPT, str(paths.warehouse), str(rules_dir)]

    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [run.communicate(timeout=120) for run in runs]

    for run, (_, stderr) in zip(runs, results, strict=True):
        assert run.returncode == 0, stderr
    assert sum(int(stdout.strip()) for stdout, _ in results) == 30
    assert len(fake_sendgrid.accepted) == 30
    assert set(fake_sendgrid.accepted.values()) == {1}
    assert set(fake_sendgrid.posts.values()) == {1}
    assert set(statuses(paths).values()) == {"sent"}
