"""The follow-up step of a run: plan, render, queue, then deliver."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
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

# Messages claimed per state transaction by an idempotent transport.
BATCH_SIZE = 500


@dataclass
class FollowupSummary:
    """Counts of one follow-up run.

    queued: messages written to the outbox by this run. sent: messages
    delivered by this run, including ones queued earlier. skipped: due
    messages that could not be written (no valid address, template error).
    held_unknown: messages whose result became unknown in this run, held
    for a person. failed: messages rejected in this run. suppressed: due or
    queued messages not sent because a recipient is suppressed. deferred:
    messages left queued for the next run (rate limit or server errors).
    cancelled: queued messages dropped because the deduction was resolved.
    """

    queued: int = 0
    sent: int = 0
    skipped: int = 0
    held_unknown: int = 0
    failed: int = 0
    suppressed: int = 0
    deferred: int = 0
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
        interrupted = outbox.recover_interrupted(paths.state_db, sender.idempotent)
        if not sender.idempotent:
            summary.held_unknown += len(interrupted)
        _sync_suppressions(sender, paths.state_db)
        queue_due(conn, paths, as_of, rules, summary, templates_dir)
        deliver_queued(sender, paths.state_db, as_of, summary)
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
) -> list[OutboxMessage]:
    """Plan and render the due messages and write them to the outbox as queued."""
    history = outbox.read_history(paths.state_db)
    suppressed = outbox.read_suppressed(paths.state_db)
    tables = TableNames.for_connection(conn)
    deductions = read_candidates(conn, tables, extra_ids=history.keys())
    plan = plan_steps(deductions, history, rules, suppressed, as_of)
    for deduction_id, reason in plan.skipped.items():
        log.warning("Follow-up for deduction %s skipped: %s", deduction_id, reason)
    for deduction_id, address in plan.suppressed.items():
        log.info("Follow-up for deduction %s not queued: %s is suppressed", deduction_id, address)
    summary.skipped += len(plan.skipped)
    summary.suppressed += len(plan.suppressed)
    invoices = read_invoices(conn, tables, (due.deduction.invoice_id for due in plan.due))
    environment = build_environment(templates_dir)
    messages = []
    for due in plan.due:
        try:
            messages.append(render_due(environment, due, invoices, as_of))
        except TemplateError as error:
            log.error("Follow-up %s skipped: %s", due.message_id, error)
            summary.skipped += 1
    summary.queued += outbox.queue_messages(paths.state_db, messages)
    summary.cancelled += len(outbox.cancel_messages(paths.state_db, plan.stopped))
    return messages


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
    sender: Transport, state_db: Path, as_of: dt.date, summary: FollowupSummary
) -> None:
    """Deliver every queued message, stopping at the first deferral."""
    suppressed = outbox.read_suppressed(state_db)
    if sender.idempotent:
        _deliver_in_batches(sender, state_db, as_of, summary, suppressed)
        return
    # One claim per message: a crash during a request leaves only that
    # message in "sending", which the next run marks unknown.
    previous: tuple[str, DeliveryResult] | None = None
    for message_id in outbox.pending_message_ids(state_db):
        message = outbox.claim_next(state_db, message_id, sender.name, previous, as_of)
        previous = None
        if message is None:
            continue
        result = _deliver_one(sender, message, suppressed)
        _count(summary, result)
        previous = (message.message_id, result)
        if result.deferred:
            break
    if previous is not None:
        outbox.record_result(state_db, previous[0], previous[1], as_of)


def _deliver_in_batches(
    sender: Transport,
    state_db: Path,
    as_of: dt.date,
    summary: FollowupSummary,
    suppressed: set[str],
) -> None:
    """Claim and record many messages per transaction; only for idempotent transports."""
    while True:
        messages = outbox.claim_batch(state_db, sender.name, BATCH_SIZE)
        if not messages:
            return
        results = []
        for message in messages:
            result = _deliver_one(sender, message, suppressed)
            _count(summary, result)
            results.append((message.message_id, result))
        outbox.record_results(state_db, results, as_of)


def _deliver_one(
    sender: Transport, message: OutboxMessage, suppressed: set[str]
) -> DeliveryResult:
    if message.to_email.lower() in suppressed:
        log.info("Message %s not sent: %s is suppressed", message.message_id, message.to_email)
        return DeliveryResult(status="suppressed", error=f"{message.to_email} is suppressed",
                              attempts=0)
    if message.cc_email and message.cc_email.lower() in suppressed:
        message = OutboxMessage(**{**message.__dict__, "cc_email": None})
    result = sender.send(message)
    if result.status == "unknown":
        log.error("Message %s has an unknown result and is held: %s", message.message_id,
                  result.error)
    return result


def _count(summary: FollowupSummary, result: DeliveryResult) -> None:
    if result.deferred:
        summary.deferred += 1
    elif result.status == "sent":
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
