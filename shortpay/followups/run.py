"""The follow-up step of a run: plan, render, queue, then deliver."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import duckdb
import jinja2

from shortpay.followups import outbox
from shortpay.followups.cadence import DueStep, plan_steps
from shortpay.followups.config import FollowupRules, load_followup_rules
from shortpay.followups.data import (
    Invoice,
    TableNames,
    find_invoice,
    read_candidates,
    read_invoices,
)
from shortpay.followups.outbox import DeliveryResult, OutboxMessage
from shortpay.followups.render import (
    TemplateError,
    build_context,
    build_environment,
    render_message,
)
from shortpay.followups.transports import Transport, make_transport
from shortpay.settings import TEMPLATES_DIR, Paths

log = logging.getLogger(__name__)

# Messages rendered and queued, or claimed by an idempotent transport, per
# state transaction.
BATCH_SIZE = 2000


@dataclass
class FollowupSummary:
    """Counts of one follow-up run."""

    # Messages written to the outbox by this run.
    queued: int = 0
    # Messages delivered by this run, including ones queued by earlier runs.
    sent: int = 0
    # Due messages that could not be written: no valid address, template error.
    skipped: int = 0
    # Messages whose result became unknown in this run, held for a person.
    held_unknown: int = 0
    # Messages rejected in this run (HTTP 4xx, allow-list, invalid message).
    failed: int = 0
    # Due or queued messages not sent because the recipient is suppressed.
    suppressed: int = 0
    # Messages left queued for the next run because a rate limit, server
    # errors, a rejected API key or an unwritable outbox folder stopped delivery.
    deferred: int = 0
    # Queued messages dropped because their deduction was settled meanwhile.
    cancelled: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def run_followups(
    conn: duckdb.DuckDBPyConnection,
    paths: Paths,
    as_of: dt.date,
    rules_dir: Path,
    transport: str | None = None,
    templates_dir: Path = TEMPLATES_DIR,
) -> FollowupSummary:
    """Queue the follow-ups due on ``as_of`` in the state database, then deliver them.

    ``conn`` is open on the work database. The transport is the argument,
    else SHORTPAY_EMAIL_TRANSPORT, else ``outbox``. Raises FollowupRulesError
    for invalid rules and TransportConfigError for invalid transport settings,
    both before anything is queued.
    """
    rules = load_followup_rules(rules_dir)
    sender = make_transport(transport, paths.outbox_dir)
    summary = FollowupSummary()
    try:
        # The read-only check first spares a write open of the state database.
        if outbox.has_interrupted(paths.state_db):
            interrupted = outbox.recover_interrupted(paths.state_db, sender.idempotent)
            if not sender.idempotent:
                summary.held_unknown += len(interrupted)
        _sync_suppressions(sender, paths.state_db)
        suppressed = queue_due(conn, paths, as_of, rules, summary, templates_dir)
        deliver_queued(sender, paths.state_db, as_of, summary, suppressed)
    finally:
        sender.close()
    log.info("Follow-ups as of %s: %s", as_of.isoformat(), summary.as_dict())
    return summary


def queue_due(
    conn: duckdb.DuckDBPyConnection,
    paths: Paths,
    as_of: dt.date,
    rules: FollowupRules,
    summary: FollowupSummary,
    templates_dir: Path = TEMPLATES_DIR,
) -> set[str]:
    """Plan and render the due messages and write them to the outbox as queued.

    Returns the suppressed addresses it read, for the delivery that follows.
    """
    history, suppressed = outbox.read_state(paths.state_db)
    tables = TableNames.for_connection(conn)
    deductions = read_candidates(conn, tables, extra_ids=history.keys())
    plan = plan_steps(deductions, history, rules, suppressed, as_of)

    _log_grouped("Follow-ups skipped", plan.skipped)
    _log_grouped("Follow-ups not queued, address suppressed",
                 {key: f"{address} is suppressed" for key, address in plan.suppressed.items()})
    summary.skipped += len(plan.skipped)
    summary.suppressed += len(plan.suppressed)

    environment = build_environment(templates_dir)
    # Render and queue in chunks so memory stays flat when thousands are due.
    for start in range(0, len(plan.due), BATCH_SIZE):
        chunk = plan.due[start:start + BATCH_SIZE]
        messages = _render_chunk(conn, tables, environment, chunk, as_of, summary)
        summary.queued += outbox.queue_messages(paths.state_db, messages)

    waiting = {
        deduction_id: reason
        for deduction_id, reason in plan.stopped.items()
        if any(step.status == "queued" for step in history.get(deduction_id, []))
    }
    summary.cancelled += len(outbox.cancel_messages(paths.state_db, waiting))
    return suppressed


def _render_chunk(
    conn: duckdb.DuckDBPyConnection,
    tables: TableNames,
    environment: jinja2.Environment,
    chunk: list[DueStep],
    as_of: dt.date,
    summary: FollowupSummary,
) -> list[OutboxMessage]:
    invoices = read_invoices(conn, tables, (due.deduction.invoice_id for due in chunk))
    messages = []
    for due in chunk:
        try:
            messages.append(render_due(environment, due, invoices, as_of))
        except (TemplateError, ValueError, TypeError, ArithmeticError) as error:
            # One bad row or template must not hold back the other messages.
            log.error("Follow-up %s skipped: %s", due.message_id, error)
            summary.skipped += 1
    return messages


def _log_grouped(title: str, reasons: dict[str, str]) -> None:
    """Log one warning per distinct reason with its deduction count, not one per deduction."""
    by_reason: dict[str, list[str]] = {}
    for deduction_id, reason in reasons.items():
        by_reason.setdefault(reason, []).append(deduction_id)
    for reason, deduction_ids in by_reason.items():
        shown = ", ".join(deduction_ids[:5]) + (", ..." if len(deduction_ids) > 5 else "")
        log.warning("%s: %s (%d deductions: %s)", title, reason, len(deduction_ids), shown)


def render_due(
    environment: jinja2.Environment,
    due: DueStep,
    invoices: dict[tuple[str, str | None], Invoice],
    as_of: dt.date,
) -> OutboxMessage:
    """Render one due step into an outbox row."""
    deduction = due.deduction
    language = due.contact.language
    context = build_context(
        deduction=deduction,
        invoice=find_invoice(invoices, deduction),
        step=due.template_step,
        reminder_number=due.reminder_number,
        language=language,
        as_of=as_of,
        sender=due.contact.sender,
        recipient=due.to,
        first_notice_on=due.first_notice_on,
    )
    rendered = render_message(environment, language, due.template_step, context)
    reply_to = due.contact.reply_to
    return OutboxMessage(
        message_id=due.message_id,
        deduction_id=deduction.deduction_id,
        step=due.step,
        step_number=due.step_number,
        customer_id=deduction.customer_id,
        language=language,
        sender_email=due.contact.sender.email,
        sender_name=due.contact.sender.name or None,
        reply_to_email=reply_to.email if reply_to else None,
        to_email=due.to.email,
        to_name=due.to.name or None,
        cc_email=due.cc.email if due.cc else None,
        subject=rendered.subject,
        body_text=rendered.body_text,
        body_html=rendered.body_html,
        letter_html=rendered.letter_html,
        amount_claimed=deduction.amount_claimed,
        currency=deduction.currency,
        cadence_rule_id=due.cadence.rule_id,
        contact_rule_id=due.contact.rule_id,
        as_of_date=as_of,
    )


def deliver_queued(
    sender: Transport,
    state_db: Path,
    as_of: dt.date,
    summary: FollowupSummary,
    suppressed: set[str] | None = None,
) -> None:
    """Deliver every queued message, stopping early at a deferral or a rejected API key."""
    if suppressed is None:
        suppressed = outbox.read_suppressed(state_db)
    if sender.idempotent:
        stopped_early = _deliver_in_batches(sender, state_db, as_of, summary, suppressed)
    else:
        stopped_early = _deliver_one_by_one(sender, state_db, as_of, summary, suppressed)
    if stopped_early:
        summary.deferred = len(outbox.pending_message_ids(state_db))


def _deliver_one_by_one(
    sender: Transport,
    state_db: Path,
    as_of: dt.date,
    summary: FollowupSummary,
    suppressed: set[str],
) -> bool:
    """Claim, send and record one message at a time. Return True when delivery stopped early.

    A crash during a request leaves only that message in "sending", which the
    next run marks unknown.
    """
    previous: tuple[str, DeliveryResult] | None = None
    pending = outbox.pending_message_ids(state_db)
    for message_id in pending:
        message = outbox.claim_next(state_db, message_id, sender.name, previous, as_of)
        previous = None
        if message is None:
            continue
        result = _deliver_one(sender, message, suppressed)
        _count(summary, result)
        previous = (message.message_id, result)
        if result.ends_batch:
            break
    if previous is not None:
        outbox.record_result(state_db, previous[0], previous[1], as_of)
    return previous is not None and previous[1].ends_batch


def _deliver_in_batches(
    sender: Transport,
    state_db: Path,
    as_of: dt.date,
    summary: FollowupSummary,
    suppressed: set[str],
) -> bool:
    """Claim and record many messages per transaction. Return True when delivery stopped early.

    Only for idempotent transports, because a crash repeats the whole batch.
    """
    while True:
        messages = outbox.claim_batch(state_db, sender.name, BATCH_SIZE)
        if not messages:
            return False
        results = []
        for message in messages:
            if results and results[-1][1].ends_batch:
                # Put the rest of the batch back as it was, untouched.
                results.append((message.message_id, DeliveryResult("queued", attempts=0,
                                                                   deferred=True)))
                continue
            result = _deliver_one(sender, message, suppressed)
            _count(summary, result)
            results.append((message.message_id, result))
        outbox.record_results(state_db, results, as_of)
        if results[-1][1].ends_batch:
            return True
        if len(messages) < BATCH_SIZE:
            return False


def _deliver_one(
    sender: Transport, message: OutboxMessage, suppressed: set[str]
) -> DeliveryResult:
    if message.to_email.lower() in suppressed:
        log.info("Message %s not sent: %s is suppressed", message.message_id, message.to_email)
        return DeliveryResult(status="suppressed", error=f"{message.to_email} is suppressed",
                              attempts=0)
    if message.cc_email and message.cc_email.lower() in suppressed:
        message = replace(message, cc_email=None)
    result = sender.send(message)
    if result.status == "unknown":
        log.error("Message %s has an unknown result and is held: %s", message.message_id,
                  result.error)
    return result


def _count(summary: FollowupSummary, result: DeliveryResult) -> None:
    if result.deferred:
        return
    if result.status == "sent":
        summary.sent += 1
    elif result.status == "unknown":
        summary.held_unknown += 1
    elif result.status == "failed":
        summary.failed += 1
    elif result.status == "suppressed":
        summary.suppressed += 1


def _sync_suppressions(sender: Transport, state_db: Path) -> None:
    fetch = getattr(sender, "fetch_suppressions", None)
    if fetch is None:
        return
    added = outbox.add_suppressions(state_db, fetch())
    if added:
        log.info("Added %d addresses from the provider's suppression lists", added)
