"""The webhook channel against a real HTTP server on loopback: 5xx retried once, 4xx surfaced."""

from __future__ import annotations

from datetime import timedelta

import pytest

from activities.outbox import Outbox
from eventstore import EventStore
from tandem.cli.programs import _print_notifications
from tandem.report.export import to_csv, to_dict
from tandem.report.html import render_html
from tandem.report.store import report_for
from tandem.settings import Settings
from tandem.status import _notifications
from tests.activities.conftest import Clock, HttpSink, seed_program
from tests.domain.pairing_helpers import T0

ENV = "TANDEM_TEST_WEBHOOK_URL"


def hook_settings() -> dict[str, object]:
    return {"channel": "webhook", "webhook": {"url_env": ENV}, "retry": {"initial_seconds": 10}}


async def test_500_then_200_is_one_delivery(outbox_store: EventStore, http_sink: HttpSink) -> None:
    program = await seed_program(outbox_store, hook_settings())
    clock = Clock(T0)
    outbox = Outbox(outbox_store, environ={ENV: http_sink.url}, clock=clock)
    [mentor_notice, _] = await program.publish(outbox)  # the welcome, to both
    http_sink.answers = [500, 500]  # the first post of each notice fails
    await outbox.dispatch_due()
    assert len(http_sink.requests) == 2
    clock.now = T0 + timedelta(seconds=5)
    assert await outbox.dispatch_due() == 0  # still backing off (10 s)
    clock.now = T0 + timedelta(seconds=11)
    await outbox.dispatch_due()
    clock.now = T0 + timedelta(hours=1)
    assert await outbox.dispatch_due() == 0  # delivered rows are never sent again
    keys = [headers["Idempotency-Key"] for headers, _ in http_sink.requests]
    assert sorted(keys) == sorted([mentor_notice.key, mentor_notice.key.replace(":mentor", ":mentee")] * 2)
    delivered = [body for _, body in http_sink.requests[2:]]
    assert any("for Ana:" in body["text"] and "has started" in body["text"] for body in delivered)
    rows = await outbox_store.pool.fetch(
        "SELECT attempts, delivered_at, sent_via FROM notifications WHERE program_id = $1", program.config.id
    )
    assert [(r["attempts"], r["sent_via"]) for r in rows] == [(2, "webhook"), (2, "webhook")]
    assert all(r["delivered_at"] is not None for r in rows)


async def test_400_is_not_retried_and_is_surfaced(
    outbox_store: EventStore, outbox_dsn: str, http_sink: HttpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    program = await seed_program(outbox_store, hook_settings())
    clock = Clock(T0)
    outbox = Outbox(outbox_store, environ={ENV: http_sink.url}, clock=clock)
    await program.publish(outbox)
    http_sink.answers = [400, 200]
    await outbox.dispatch_due()
    clock.now = T0 + timedelta(days=1)
    assert await outbox.dispatch_due() == 0
    assert len(http_sink.requests) == 2
    failed = await outbox_store.pool.fetch(
        "SELECT recipient, last_error FROM notifications WHERE program_id = $1 AND failed_at IS NOT NULL",
        program.config.id,
    )
    # the first post (to one of the two) got the 400; the other was delivered
    assert [r["last_error"] for r in failed] == ["webhook answered 400"]

    # surfaced to the operator: status (its JSON and its table) and the impact report
    notes = await _notifications(Settings(database_url=outbox_dsn), program.config.id)
    assert (notes["delivered"], notes["pending"], notes["failed"]) == (1, 0, 1)
    assert notes["failures"][0]["reason"] == "webhook answered 400"
    assert notes["failures"][0]["pairing_id"] == program.pairing_id
    _print_notifications(notes)
    shown = capsys.readouterr().out
    assert "1 delivered, 0 pending (0 retrying), 1 failed permanently" in shown
    assert "webhook answered 400" in shown
    report = await report_for(outbox_store.pool, program.config.id)
    assert report.deliveries is not None and report.deliveries.failed == 1
    html = render_html(report)
    assert '<section id="deliveries">' in html and "webhook answered 400" in html
    assert to_dict(report)["deliveries"]["failures"][0]["reason"] == "webhook answered 400"
    assert "deliveries,failed,notifications failed permanently,1" in to_csv(report)


async def test_missing_webhook_url_delays_instead_of_dropping(
    outbox_store: EventStore, http_sink: HttpSink
) -> None:
    program = await seed_program(outbox_store, hook_settings())
    clock = Clock(T0)
    outbox = Outbox(outbox_store, environ={}, clock=clock)
    await program.publish(outbox)
    await outbox.dispatch_due()
    row = await outbox_store.pool.fetchrow(
        "SELECT count(*) AS pending, max(last_error) AS error FROM notifications "
        "WHERE program_id = $1 AND failed_at IS NULL AND delivered_at IS NULL",
        program.config.id,
    )
    assert row["pending"] == 2 and row["error"] == f"webhook URL not set (environment variable {ENV})"
    outbox.environ = {ENV: http_sink.url}  # the operator fixes the environment
    clock.now = T0 + timedelta(seconds=11)
    await outbox.dispatch_due()
    assert len(http_sink.requests) == 2


async def test_participant_preference_overrides_the_program_channel(
    outbox_store: EventStore, http_sink: HttpSink
) -> None:
    program = await seed_program(outbox_store, hook_settings(), mentor_via="console")
    outbox = Outbox(outbox_store, environ={ENV: http_sink.url}, clock=Clock(T0))
    await program.publish(outbox)
    await outbox.dispatch_due()
    rows = await outbox_store.pool.fetch(
        "SELECT recipient, sent_via FROM notifications WHERE program_id = $1 ORDER BY recipient",
        program.config.id,
    )
    assert [(r["recipient"], r["sent_via"]) for r in rows] == [("mentee", "webhook"), ("mentor", "console")]
    assert len(http_sink.requests) == 1
