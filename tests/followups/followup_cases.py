"""Builders of the follow-up test data and a fake SendGrid API server."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import duckdb

from shortpay.settings import Paths

AS_OF = dt.date(2026, 3, 2)
API_KEY = "SG.test-key-0123456789.abcdefghijklmnopqrstuvwxyz"

DEDUCTION_COLUMNS = {
    "deduction_id": "text",
    "payment_id": "text",
    "customer_id": "text",
    "invoice_id": "text",
    "invoice_line_number": "integer",
    "deduction_amount": "decimal(18, 2)",
    "currency": "text",
    "customer_reason_code": "text",
    "category": "text",
    "validity": "text",
    "valid_amount": "decimal(18, 2)",
    "invalid_amount": "decimal(18, 2)",
    "validity_reason": "text",
    "evidence_reference": "text",
    "status": "text",
    "opened_date": "date",
    "days_outstanding": "integer",
    "rule_id": "text",
    "deadline_date": "date",
    "owner": "text",
    "team": "text",
    "customer_memo": "text",
    "adjustment_reference": "text",
    "payment_date": "date",
    "source_file": "text",
}
CUSTOMER_COLUMNS = {
    "customer_id": "text",
    "customer_name": "text",
    "parent_customer_id": "text",
    "ar_contact_email": "text",
    "ar_contact_name": "text",
    "country": "text",
    "reason_code_set": "text",
}
INVOICE_COLUMNS = {
    "invoice_id": "text",
    "customer_id": "text",
    "invoice_date": "date",
    "due_date": "date",
    "po_number": "text",
    "currency": "text",
    "total_amount": "decimal(18, 2)",
    "payment_terms": "text",
    "applied_amount": "decimal(18, 2)",
    "discount_amount": "decimal(18, 2)",
    "deducted_amount": "decimal(18, 2)",
    "open_amount": "decimal(18, 2)",
}
LINE_COLUMNS = {
    "invoice_id": "text",
    "line_number": "integer",
    "sku": "text",
    "description": "text",
    "quantity": "decimal(18, 4)",
    "unit_price": "decimal(18, 4)",
    "line_amount": "decimal(18, 2)",
}


def deduction(deduction_id: str, **overrides: Any) -> dict[str, Any]:
    """An invalid, open deduction of 100.00 on invoice INV-1 of customer C1."""
    row = {
        "deduction_id": deduction_id,
        "payment_id": "PAY-1",
        "customer_id": "C1",
        "invoice_id": "INV-1",
        "invoice_line_number": 2,
        "deduction_amount": Decimal("100.00"),
        "currency": "USD",
        "customer_reason_code": "SHORT",
        "category": "shortage",
        "validity": "invalid",
        "valid_amount": Decimal("0.00"),
        "invalid_amount": Decimal("100.00"),
        "validity_reason": "Proof of delivery shows all 10 cases delivered.",
        "evidence_reference": "POD-778",
        "status": "open",
        "opened_date": dt.date(2026, 2, 20),
        "days_outstanding": 10,
        "rule_id": "short-ship",
        "deadline_date": dt.date(2026, 6, 30),
        "owner": "ana",
        "team": "east",
        "customer_memo": "short 1 case",
        "adjustment_reference": None,
        "payment_date": dt.date(2026, 2, 18),
        "source_file": "remit/pay1.csv",
    }
    row.update(overrides)
    return row


def customer(customer_id: str, **overrides: Any) -> dict[str, Any]:
    row = {
        "customer_id": customer_id,
        "customer_name": f"Customer {customer_id}",
        "parent_customer_id": None,
        "ar_contact_email": f"ap@{customer_id.lower()}.example",
        "ar_contact_name": "Pat Payables",
        "country": "US",
        "reason_code_set": "default",
    }
    row.update(overrides)
    return row


def invoice(invoice_id: str, **overrides: Any) -> dict[str, Any]:
    row = {
        "invoice_id": invoice_id,
        "customer_id": "C1",
        "invoice_date": dt.date(2026, 1, 15),
        "due_date": dt.date(2026, 2, 14),
        "po_number": "PO-55",
        "currency": "USD",
        "total_amount": Decimal("1234.57"),
        "payment_terms": "NET30",
        "applied_amount": Decimal("1134.57"),
        "discount_amount": Decimal("0.00"),
        "deducted_amount": Decimal("100.00"),
        "open_amount": Decimal("0.00"),
    }
    row.update(overrides)
    return row


def default_lines(invoice_id: str = "INV-1") -> list[dict[str, Any]]:
    return [
        {"invoice_id": invoice_id, "line_number": 1, "sku": "SKU-A", "description": "Widgets",
         "quantity": Decimal("3.0000"), "unit_price": Decimal("333.3300"),
         "line_amount": Decimal("999.99")},
        {"invoice_id": invoice_id, "line_number": 2, "sku": "SKU-B", "description": "Gadgets",
         "quantity": Decimal("10.0000"), "unit_price": Decimal("23.4580"),
         "line_amount": Decimal("234.58")},
    ]


@dataclass
class WorkData:
    """Rows of the fixture work database."""

    deductions: list[dict[str, Any]] = field(default_factory=lambda: [deduction("D1")])
    customers: list[dict[str, Any]] = field(default_factory=lambda: [customer("C1")])
    invoices: list[dict[str, Any]] = field(default_factory=lambda: [invoice("INV-1")])
    lines: list[dict[str, Any]] = field(default_factory=default_lines)


def write_work_db(path: Path, data: WorkData) -> None:
    """(Re)create the mart and staging tables of a work database with the given rows."""
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("create schema if not exists staging")
        tables = [
            ("marts.fct_deductions", DEDUCTION_COLUMNS, data.deductions),
            ("marts.dim_customers", CUSTOMER_COLUMNS, data.customers),
            ("marts.fct_invoices", INVOICE_COLUMNS, data.invoices),
            ("marts.fct_invoice_lines", LINE_COLUMNS, data.lines),
        ]
        for name, columns, rows in tables:
            definition = ", ".join(f"{column} {kind}" for column, kind in columns.items())
            conn.execute(f"create or replace table {name} ({definition})")
            if rows:
                placeholders = ", ".join("?" for _ in columns)
                conn.executemany(
                    f"insert into {name} values ({placeholders})",
                    [[row.get(column) for column in columns] for row in rows],
                )


def write_queued_row(paths: Paths, conn: duckdb.DuckDBPyConnection, rules_dir: Path) -> None:
    """Queue the due messages without delivering, as a run that stopped after queueing."""
    from shortpay.followups.config import load_followup_rules
    from shortpay.followups.run import FollowupSummary, queue_due

    queue_due(conn, paths, AS_OF, load_followup_rules(rules_dir), FollowupSummary())


# --- fake SendGrid server -------------------------------------------------------------


@dataclass
class FakeSendGrid:
    """State and behaviour of the fake SendGrid API; tests set ``respond``."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    # message id -> number of POST /v3/mail/send requests that carried it
    posts: Counter = field(default_factory=Counter)
    # message id -> number of requests that got 202 Accepted
    accepted: Counter = field(default_factory=Counter)
    authorizations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with (request number, body). Returns (status, headers, body), or None for 202.
    respond: Callable[[int, dict[str, Any]], tuple[int, dict[str, str], bytes] | None] = (
        lambda number, body: None
    )
    # Seconds the server waits before it responds to a mail/send request.
    delay: float = 0.0
    suppression_lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def mail_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == "/v3/mail/send"]


def message_id_of(body: dict[str, Any]) -> str:
    return body.get("custom_args", {}).get("shortpay_message_id", "")


def handler_for(state: FakeSendGrid) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

        def do_GET(self) -> None:  # noqa: N802
            name = self.path.split("?")[0].rsplit("/", 1)[-1]
            with state.lock:
                state.requests.append({"path": self.path.split("?")[0], "body": None})
            self._answer(200, {}, json.dumps(state.suppression_lists.get(name, [])).encode())

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            message_id = message_id_of(body)
            with state.lock:
                number = len(state.mail_requests)
                state.requests.append({"path": self.path, "body": body})
                state.posts[message_id] += 1
                state.authorizations.append(self.headers.get("Authorization", ""))
            if state.delay:
                time.sleep(state.delay)
            answer = state.respond(number, body)
            if answer is None:
                with state.lock:
                    state.accepted[message_id] += 1
                answer = (202, {"X-Message-Id": f"sg-{number}"}, b"")
            self._answer(*answer)

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
