"""Review decisions: which actions exist, the status each one leads to, and four-eyes approval.

A decision is checked against the current state of its deduction or
exception (the published warehouse row, overridden by the latest log entry)
and then appended to the decision log. Nothing here changes or removes an
earlier entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from shortpay.numbers import PLAIN_DECIMAL
from shortpay.review.log import Decision, append_checked

log = logging.getLogger(__name__)

DEFAULT_FOUR_EYES_AMOUNT = Decimal("5000.00")
CENT = Decimal("0.01")

# Status after each deduction action; None keeps the current status.
DEDUCTION_STATUS_AFTER: dict[str, str | None] = {
    "assign": None,
    "note": None,
    "request_backup": None,
    "propose": None,
    "approve": "approved",
    "dispute": "disputed",
    "recovered": "recovered",
    "write_off": "written_off",
    "close": "closed",
    "reopen": "open",
}
EXCEPTION_STATUS_AFTER: dict[str, str | None] = {
    "assign": None,
    "note": None,
    "resolve": "resolved",
    "reopen": "open",
}
# Actions that write money off, so above the four-eyes amount they need a
# proposal by someone other than the person who takes them.
FOUR_EYES_ACTIONS = {"approve", "write_off"}
# A proposal counts until one of these actions ends it.
PROPOSAL_ENDING_ACTIONS = {"approve", "write_off", "dispute", "reopen", "close"}


class ReviewError(ValueError):
    """Rejected decision; the message gives the reason and the next step."""


@dataclass(frozen=True)
class DeductionState:
    """Current state of a deduction: the published row with later decisions applied."""

    deduction_id: str
    amount: Decimal
    valid_amount: Decimal | None
    invalid_amount: Decimal | None
    status: str
    assignee: str | None
    validity: str | None = None


@dataclass(frozen=True)
class ExceptionState:
    """Current state of an exceptions-queue item with later decisions applied."""

    exception_id: str
    status: str
    assignee: str | None
    amount: Decimal | None


def read_four_eyes_amount(rules_dir: Path) -> Decimal:
    """Read ``four_eyes_amount`` from ``rules_dir/settings.yaml``, or return 5000.00.

    Accepts a top-level mapping (``four_eyes_amount: 5000.00``), a mapping
    under ``settings``, or a list of items with ``key`` (or ``id``/``name``)
    and ``value``. Values are read as text, so no float touches the amount.
    """
    path = rules_dir / "settings.yaml"
    if not path.exists():
        return DEFAULT_FOUR_EYES_AMOUNT
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    value = _find_setting(document, "four_eyes_amount")
    if value is None:
        return DEFAULT_FOUR_EYES_AMOUNT
    try:
        return Decimal(str(value)).quantize(CENT)
    except InvalidOperation as error:
        raise ReviewError(
            f"invalid four_eyes_amount {value!r} in {path}: expected an amount like 5000.00"
        ) from error


def _find_setting(document: object, key: str) -> object | None:
    if isinstance(document, dict):
        if key in document:
            found = document[key]
            return found.get("value") if isinstance(found, dict) else found
        return _find_setting(document.get("settings"), key)
    if isinstance(document, list):
        for item in document:
            if isinstance(item, dict) and key in (
                item.get("key"),
                item.get("id"),
                item.get("name"),
            ):
                return item.get("value")
    return None


def parse_amount(text: str) -> Decimal:
    """Parse a money amount given on the command line into Decimal with 2 places.

    Only plain notation is taken: 1e2, NaN and Infinity are not amounts.
    """
    if not PLAIN_DECIMAL.fullmatch(text.strip()):
        raise ReviewError(f"invalid amount {text!r}: expected a number like 125.50")
    amount = Decimal(text.strip())
    if amount != amount.quantize(CENT):
        raise ReviewError(f"invalid amount {text!r}: expected at most 2 decimal places")
    return amount.quantize(CENT)


# Decisions that set a deduction's valid and invalid amounts. A reopen hands
# them back to the rules, as in int_deduction_decisions.
SPLIT_ACTIONS = ("approve", "dispute", "reopen")


def current_deduction_state(published: DeductionState, decisions: list[Decision]) -> DeductionState:
    """Return a deduction's state as the next build will publish it.

    As in fct_deductions: the status is the latest decision's and the
    assignee the latest assignment's. The split of the latest approve or
    dispute gives the amounts, and the validity is ``invalid`` when any
    part is invalid, else ``valid``. Without such a split, or when a reopen
    came after it, the rules decide at the next run, so until then the
    published amounts and validity are kept.

    NOTE: this repeats the decision logic of fct_deductions and
    int_deduction_decisions in Python. A change there needs the same
    change here.
    """
    own = [item for item in decisions if item.deduction_id == published.deduction_id]
    if not own:
        return published
    assignee = published.assignee
    split = None
    for item in own:
        if item.action == "assign":
            assignee = item.assignee
        if item.action in SPLIT_ACTIONS:
            split = None if item.action == "reopen" else item
    if split is None:
        amounts = (published.valid_amount, published.invalid_amount)
        validity = published.validity
    else:
        amounts = (split.valid_amount_after, split.invalid_amount_after)
        validity = "invalid" if (split.invalid_amount_after or 0) > 0 else "valid"
    return DeductionState(
        deduction_id=published.deduction_id,
        amount=published.amount,
        valid_amount=amounts[0],
        invalid_amount=amounts[1],
        status=own[-1].status_after or published.status,
        assignee=assignee,
        validity=validity,
    )


def current_exception_state(published: ExceptionState, decisions: list[Decision]) -> ExceptionState:
    """Apply the latest log entry of an exception on top of its published row."""
    own = [item for item in decisions if item.exception_id == published.exception_id]
    if not own:
        return published
    assignee = published.assignee
    for item in own:
        if item.assignee is not None:
            assignee = item.assignee
    return ExceptionState(
        exception_id=published.exception_id,
        status=own[-1].status_after or published.status,
        assignee=assignee,
        amount=published.amount,
    )


def decide_deduction(
    state_db: Path,
    published: DeductionState,
    action: str,
    actor: str,
    reason: str | None = None,
    assignee: str | None = None,
    valid_amount: Decimal | None = None,
    four_eyes_amount: Decimal = DEFAULT_FOUR_EYES_AMOUNT,
) -> Decision:
    """Check one action on a deduction against its current state and append it to the log.

    ``valid_amount`` splits a partial approval or dispute; by default approve
    makes the whole amount valid and dispute makes it invalid.
    """
    if action not in DEDUCTION_STATUS_AFTER:
        raise ReviewError(
            f"unknown deduction action {action!r}: use one of {', '.join(DEDUCTION_STATUS_AFTER)}"
        )
    actor = (actor or "").strip()
    if not actor:
        raise ReviewError("missing actor: pass --actor NAME or set USER")
    assignee = (assignee or "").strip() or None

    def build_entry(decisions: list[Decision]) -> dict:
        state = current_deduction_state(published, decisions)
        _check_transition(state, action, assignee)
        if action in FOUR_EYES_ACTIONS and state.amount > four_eyes_amount:
            _check_four_eyes(state, action, actor, decisions, four_eyes_amount)
        valid_after, invalid_after = _amounts_after(state, action, valid_amount)
        return {
            "deduction_id": state.deduction_id,
            "action": action,
            "actor": actor,
            "reason": reason,
            "amount": state.amount,
            "valid_amount_before": state.valid_amount,
            "invalid_amount_before": state.invalid_amount,
            "valid_amount_after": valid_after,
            "invalid_amount_after": invalid_after,
            "status_before": state.status,
            "status_after": DEDUCTION_STATUS_AFTER[action] or state.status,
            "assignee": assignee if action == "assign" else None,
        }

    decision = append_checked(state_db, build_entry, deduction_ids=[published.deduction_id])
    log.info(
        "decision %d: %s on deduction %s by %s, status %s",
        decision.sequence,
        action,
        published.deduction_id,
        actor,
        decision.status_after,
    )
    return decision


def _check_transition(state: DeductionState, action: str, assignee: str | None) -> None:
    closed = {"closed", "recovered", "written_off"}
    if action == "assign" and not assignee:
        raise ReviewError("assign needs an assignee: pass --to NAME")
    if action == "reopen" and state.status == "open":
        raise ReviewError(f"deduction {state.deduction_id} is already open")
    if action in {"approve", "dispute", "propose", "request_backup"} and state.status in closed:
        raise ReviewError(
            f"deduction {state.deduction_id} is {state.status}: reopen it before you {action} it"
        )
    if action == "recovered" and state.status != "disputed":
        raise ReviewError(
            f"deduction {state.deduction_id} is {state.status}: only a disputed deduction "
            "can be marked recovered"
        )


def _check_four_eyes(
    state: DeductionState,
    action: str,
    actor: str,
    decisions: list[Decision],
    four_eyes_amount: Decimal,
) -> None:
    proposer = open_proposer(decisions)
    rule = (
        f"deduction {state.deduction_id} amount {state.amount} is above the four-eyes "
        f"amount {four_eyes_amount}"
    )
    if proposer is None:
        raise ReviewError(
            f"{rule}, so one person proposes and another person approves: "
            f"run `shortpay review propose {state.deduction_id}` first"
        )
    # Names differing only in case or surrounding spaces are one person.
    if proposer.strip().casefold() == actor.strip().casefold():
        raise ReviewError(f"{rule}: {actor} proposed it, so someone else must {action} it")


def open_proposer(decisions: list[Decision]) -> str | None:
    """Return who made the proposal still open on a deduction, or None."""
    proposer = None
    for item in decisions:
        if item.action == "propose":
            proposer = item.actor
        elif item.action in PROPOSAL_ENDING_ACTIONS:
            proposer = None
    return proposer


def _amounts_after(
    state: DeductionState, action: str, valid_amount: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    if action not in {"approve", "dispute"}:
        if valid_amount is not None:
            raise ReviewError(f"--valid-amount applies to approve and dispute, not {action}")
        return state.valid_amount, state.invalid_amount
    if valid_amount is None:
        valid_amount = state.amount if action == "approve" else Decimal("0.00")
    if valid_amount < 0 or valid_amount > state.amount:
        raise ReviewError(
            f"invalid valid amount {valid_amount} for deduction {state.deduction_id}: "
            f"expected 0.00 to {state.amount}"
        )
    return valid_amount, state.amount - valid_amount


def decide_exception(
    state_db: Path,
    published: ExceptionState,
    action: str,
    actor: str,
    reason: str | None = None,
    assignee: str | None = None,
) -> Decision:
    """Check one action on an exceptions-queue item and append it to the log."""
    if action not in EXCEPTION_STATUS_AFTER:
        raise ReviewError(
            f"unknown exception action {action!r}: use one of {', '.join(EXCEPTION_STATUS_AFTER)}"
        )
    actor = (actor or "").strip()
    if not actor:
        raise ReviewError("missing actor: pass --actor NAME or set USER")
    assignee = (assignee or "").strip() or None
    if action == "assign" and not assignee:
        raise ReviewError("assign needs an assignee: pass --to NAME")

    def build_entry(decisions: list[Decision]) -> dict:
        state = current_exception_state(published, decisions)
        if action == "resolve" and state.status == "resolved":
            raise ReviewError(f"exception {state.exception_id} is already resolved")
        if action == "reopen" and state.status != "resolved":
            raise ReviewError(f"exception {state.exception_id} is {state.status}, not resolved")
        return {
            "exception_id": state.exception_id,
            "action": action,
            "actor": actor,
            "reason": reason,
            "amount": state.amount,
            "status_before": state.status,
            "status_after": EXCEPTION_STATUS_AFTER[action] or state.status,
            "assignee": assignee if action == "assign" else None,
        }

    decision = append_checked(state_db, build_entry, exception_ids=[published.exception_id])
    log.info(
        "decision %d: %s on exception %s by %s",
        decision.sequence,
        action,
        published.exception_id,
        actor,
    )
    return decision
