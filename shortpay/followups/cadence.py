"""Decide which follow-up step, if any, is due for each deduction.

Steps are numbered: the first notice is 0, reminder k is k, and the
escalation follows the last reminder. At most one step per deduction is due
in a run, so a run after a long pause sends the next step, not a burst. A
step is due only after the previous one was sent, so a message that is
still queued, unknown or failed pauses the cadence until it is settled.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from shortpay.followups.config import Address, Cadence, Contact, FollowupRules
from shortpay.followups.data import Deduction
from shortpay.followups.outbox import StepRecord
from shortpay.followups.render import one_line

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


@dataclass(frozen=True)
class DueStep:
    """A message that is due: which step, for which deduction, to whom."""

    deduction: Deduction
    step: str
    step_number: int
    reminder_number: int
    cadence: Cadence
    contact: Contact
    to: Address
    cc: Address | None
    first_notice_on: dt.date | None

    @property
    def message_id(self) -> str:
        return f"{self.deduction.deduction_id}:{self.step}"

    @property
    def template_step(self) -> str:
        """The template name: reminders share one template."""
        return "reminder" if self.step.startswith("reminder_") else self.step


@dataclass(frozen=True)
class Plan:
    """The outcome of planning one run."""

    due: list[DueStep]
    # deduction id -> why nothing can be queued (no valid address, ...)
    skipped: dict[str, str]
    # deduction id -> the suppressed address that blocks the message
    suppressed: dict[str, str]
    # deduction id -> why its queued messages are cancelled
    stopped: dict[str, str]


def is_triggered(deduction: Deduction, cadence: Cadence) -> bool:
    """Tell whether a deduction warrants a first notice under the cadence's trigger.

    ``disputed`` needs status disputed. ``invalid`` also takes deductions
    judged invalid with an invalid amount above zero.
    """
    if deduction.status == "disputed":
        return True
    if cadence.trigger != "invalid":
        return False
    return (
        deduction.validity == "invalid"
        and deduction.invalid_amount is not None
        and deduction.invalid_amount > 0
    )


def next_step(
    cadence: Cadence, steps: list[StepRecord], as_of: dt.date
) -> tuple[str, int, int] | None:
    """Return (step, step number, reminder number) due after ``steps``, or None."""
    if not steps:
        return ("first_notice", 0, 0)
    last = steps[-1]
    if last.status != "sent" or last.step == "escalation":
        return None
    last_sent = last.sent_on or last.as_of_date
    reminders_sent = last.step_number
    if reminders_sent < cadence.reminder_count:
        wait = cadence.reminder_days[reminders_sent]
        if as_of < last_sent + dt.timedelta(days=wait):
            return None
        number = reminders_sent + 1
        return (f"reminder_{number}", number, number)
    if cadence.escalate_after_reminders > 0:
        if as_of < last_sent + dt.timedelta(days=cadence.escalation_days):
            return None
        return ("escalation", reminders_sent + 1, reminders_sent)
    return None


def plan_steps(
    deductions: list[Deduction],
    history: dict[str, list[StepRecord]],
    rules: FollowupRules,
    suppressed: set[str],
    as_of: dt.date,
) -> Plan:
    """Work out the due step of every deduction, or why there is none."""
    plan = Plan(due=[], skipped={}, suppressed={}, stopped={})
    for deduction in deductions:
        cadence = rules.cadence_for(deduction.customer_id, deduction.parent_customer_id)
        steps = history.get(deduction.deduction_id, [])
        stop_reason = cadence.is_stopped(deduction.status or "", deduction.deadline_date, as_of)
        if stop_reason is not None:
            plan.stopped[deduction.deduction_id] = stop_reason
            continue
        if not is_triggered(deduction, cadence):
            if steps:
                plan.stopped[deduction.deduction_id] = "no longer disputed or invalid"
            continue
        step = next_step(cadence, steps, as_of)
        if step is None:
            continue
        due = make_due(deduction, cadence, step, steps, rules, suppressed)
        if isinstance(due, DueStep):
            plan.due.append(due)
        elif due[0] == "suppressed":
            plan.suppressed[deduction.deduction_id] = due[1]
        else:
            plan.skipped[deduction.deduction_id] = due[1]
    return plan


def make_due(
    deduction: Deduction,
    cadence: Cadence,
    step: tuple[str, int, int],
    steps: list[StepRecord],
    rules: FollowupRules,
    suppressed: set[str],
) -> DueStep | tuple[str, str]:
    """Resolve the recipients of a step into a DueStep, or return ("skipped" | "suppressed", why)."""
    contact = rules.contact_for(
        deduction.customer_id, deduction.parent_customer_id, deduction.country
    )
    primary = contact.to or Address(
        email=(deduction.ar_contact_email or "").strip(),
        name=clean_name(deduction.ar_contact_name),
    )
    if not is_valid_email(primary.email):
        return ("skipped", f"no valid contact address for customer {deduction.customer_id} "
                           f"(ar_contact_email {primary.email!r})")
    to, cc = primary, None
    if step[0] == "escalation" and contact.escalation_to is not None:
        to = contact.escalation_to
        if to.email.lower() != primary.email.lower():
            cc = primary
    if to.email.lower() in suppressed:
        return ("suppressed", to.email)
    if cc is not None and cc.email.lower() in suppressed:
        cc = None
    return DueStep(
        deduction=deduction,
        step=step[0],
        step_number=step[1],
        reminder_number=step[2],
        cadence=cadence,
        contact=contact,
        to=to,
        cc=cc,
        first_notice_on=steps[0].sent_on if steps else None,
    )


def is_valid_email(address: str | None) -> bool:
    """Check the shape of an address: one @, a dot in the domain, no spaces or brackets."""
    return bool(address) and _EMAIL.match(address) is not None


def clean_name(name: str | None) -> str:
    """Collapse whitespace and control characters, so a name is safe in a header."""
    return one_line(name or "")
