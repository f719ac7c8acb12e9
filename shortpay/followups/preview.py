"""Render follow-ups for review without writing to the outbox."""

from __future__ import annotations

import datetime as dt

import duckdb

from shortpay.followups import outbox
from shortpay.followups.cadence import DueStep, make_due, plan_steps
from shortpay.followups.config import FollowupRules
from shortpay.followups.data import TableNames, read_candidates, read_invoices
from shortpay.followups.outbox import OutboxMessage
from shortpay.followups.render import TemplateError, build_environment
from shortpay.followups.run import render_due
from shortpay.settings import Paths


def preview_messages(
    conn: duckdb.DuckDBPyConnection,
    paths: Paths,
    rules: FollowupRules,
    as_of: dt.date,
    deduction_id: str | None = None,
    step: str | None = None,
) -> tuple[list[OutboxMessage], list[str]]:
    """Render the messages due on ``as_of``, or one deduction's (forced) step.

    Returns the rendered messages and notes on what was left out and why.
    Reads the state database read-only and writes nothing. Raises
    LookupError when ``deduction_id`` is not found.
    """
    tables = TableNames.for_connection(conn)
    history = outbox.read_history(paths.state_db)
    suppressed = outbox.read_suppressed(paths.state_db)
    notes: list[str] = []
    if tables.invoice_lines is None:
        notes.append("note: no invoice lines table found, so letters have no itemised statement")
    if deduction_id is not None:
        deductions = read_candidates(conn, tables, only_id=deduction_id)
        if not deductions:
            raise LookupError(f"deduction {deduction_id!r} not found in {tables.deductions}")
    else:
        deductions = read_candidates(conn, tables, extra_ids=history.keys())
    if step is not None:
        deduction = deductions[0]
        cadence = rules.cadence_for(deduction.customer_id, deduction.parent_customer_id)
        numbers = {"first_notice": ("first_notice", 0, 0), "reminder": ("reminder_1", 1, 1),
                   "escalation": ("escalation", cadence.reminder_count + 1,
                                  cadence.reminder_count)}
        due = make_due(deduction, cadence, numbers[step],
                       history.get(deduction.deduction_id, []), rules, set())
        if not isinstance(due, DueStep):
            notes.append(f"{deduction.deduction_id}: {due[1]}")
            return [], notes
        plan_due = [due]
    else:
        plan = plan_steps(deductions, history, rules, suppressed, as_of)
        plan_due = plan.due
        notes += [f"{key}: skipped: {why}" for key, why in plan.skipped.items()]
        notes += [f"{key}: {address} is suppressed" for key, address in plan.suppressed.items()]
        if deduction_id is not None and not plan_due:
            notes.append(_why_nothing_due(deduction_id, plan, history))
    invoices = read_invoices(conn, tables, (due.deduction.invoice_id for due in plan_due))
    environment = build_environment()
    messages = []
    for due in plan_due:
        try:
            messages.append(render_due(environment, due, invoices, as_of))
        except TemplateError as error:
            notes.append(f"{due.message_id}: {error}")
    return messages, notes


def _why_nothing_due(deduction_id: str, plan, history) -> str:
    if deduction_id in plan.stopped:
        return f"{deduction_id}: nothing due: {plan.stopped[deduction_id]}"
    steps = history.get(deduction_id, [])
    if steps:
        last = steps[-1]
        return (f"{deduction_id}: nothing due: last message {last.step} is {last.status} "
                f"(as of {last.as_of_date.isoformat()}); use --step to render one anyway")
    return (f"{deduction_id}: nothing due: it is neither disputed nor invalid under the "
            "cadence trigger; use --step to render one anyway")
