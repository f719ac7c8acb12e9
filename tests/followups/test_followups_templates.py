"""Templates: escaping of customer text, exact statement totals, language choice."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal

import pytest
from followup_cases import AS_OF, WorkData, customer, deduction, invoice

from shortpay.followups import outbox
from shortpay.followups.render import (
    build_environment,
    format_date,
    format_money,
    format_quantity,
)
from shortpay.followups.run import run_followups
from shortpay.settings import TEMPLATES_DIR


def only_message(paths) -> outbox.OutboxMessage:
    [message] = outbox.read_messages(paths.state_db)
    return message


def test_memo_and_name_escaped_in_html(paths, rules_dir, work_db):
    conn = work_db(WorkData(
        deductions=[deduction("D1", customer_memo="<script>alert(1)</script>")],
        customers=[customer("C1", customer_name="O'Brien & Sons <Wholesale>",
                            ar_contact_name="<b>Pat</b>")],
    ))

    run_followups(conn, paths, AS_OF, rules_dir)

    message = only_message(paths)
    for html in (message.body_html, message.letter_html):
        assert "<script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "O&#39;Brien &amp; Sons &lt;Wholesale&gt;" in html
        assert "<Wholesale>" not in html
        assert "&lt;b&gt;Pat&lt;/b&gt;" in html
    assert "Your remittance note: <script>alert(1)</script>" in message.body_text
    assert message.subject == (
        "Deduction D1 of USD 100.00 from O'Brien & Sons <Wholesale>: please repay"
    )


def test_header_injection_collapsed(paths, rules_dir, work_db):
    conn = work_db(WorkData(customers=[
        customer("C1", customer_name="Evil\r\nBcc: victim@example.com",
                 ar_contact_name="Pat\nBcc: x@example.com"),
    ]))

    run_followups(conn, paths, AS_OF, rules_dir)

    message = only_message(paths)
    assert "\n" not in message.subject
    assert message.subject.endswith("from Evil Bcc: victim@example.com: please repay")
    assert message.to_name == "Pat Bcc: x@example.com"
    eml = next(paths.outbox_dir.glob("*.eml")).read_text()
    assert "\nBcc:" not in eml


def test_control_characters_in_names_replaced(paths, rules_dir, work_db):
    """A name with an escape or a NUL character is cleaned, and the message still goes out."""
    conn = work_db(WorkData(customers=[
        customer("C1", customer_name="Acme\x00 Foods\x85", ar_contact_name="Eve\x1b[31m Red"),
    ]))

    summary = run_followups(conn, paths, AS_OF, rules_dir)

    message = only_message(paths)
    assert (summary.queued, summary.sent, summary.failed) == (1, 1, 0)
    assert message.to_name == "Eve [31m Red"
    assert message.subject.endswith("from Acme Foods : please repay")
    assert len(list(paths.outbox_dir.glob("*.eml"))) == 1


def test_statement_totals_exact(paths, rules_dir, work_db):
    lines = [
        {"invoice_id": "INV-1", "line_number": number, "sku": f"SKU-{number}",
         "description": "Item", "quantity": Decimal("1.0000"),
         "unit_price": Decimal(amount), "line_amount": Decimal(amount)}
        for number, amount in enumerate(["0.10", "0.20", "0.10", "4444444444.44",
                                         "5555555555.55"], start=1)
    ]
    conn = work_db(WorkData(
        lines=lines,
        invoices=[invoice("INV-1", total_amount=Decimal("10000000000.39"))],
    ))

    run_followups(conn, paths, AS_OF, rules_dir)

    message = only_message(paths)
    assert "Total of the lines: USD 10,000,000,000.39" in message.body_text
    assert "Invoice total: USD 10,000,000,000.39" in message.body_text
    assert ">USD 10,000,000,000.39</td>" in message.body_html
    assert message.body_text.count(" x ") == 5
    assert "0.10" in message.body_text
    assert "4,444,444,444.44" in message.body_html


def test_statement_marks_deducted_line(paths, rules_dir, work_db):
    conn = work_db(WorkData())

    run_followups(conn, paths, AS_OF, rules_dir)

    message = only_message(paths)
    expected = (
        "2    SKU-B        Gadgets                                10 x       23.458 "
        "=         234.58  <- deducted"
    )
    assert expected in message.body_text
    assert message.body_html.count('class="deducted"') == 1
    assert "Total of the lines: USD 1,234.57" in message.body_text


def test_payment_level_deduction_has_no_statement(paths, rules_dir, work_db):
    conn = work_db(WorkData(deductions=[deduction("D1", invoice_id=None,
                                                  invoice_line_number=None)]))

    run_followups(conn, paths, AS_OF, rules_dir)

    message = only_message(paths)
    assert "taken from the payment as a whole" in message.body_text
    assert "Total of the lines" not in message.body_text


@pytest.mark.parametrize(
    ("country", "override", "language", "subject"),
    [
        ("US", None, "en", "Deduction D1 of USD 100.00 from Customer C1: please repay"),
        ("DE", None, "de", "Abzug D1 über 100,00 USD von Customer C1: Bitte um Rückzahlung"),
        ("FR", None, "fr",
         "Déduction D1 de 100,00 USD par Customer C1 : demande de remboursement"),
        ("DE", "fr", "fr",
         "Déduction D1 de 100,00 USD par Customer C1 : demande de remboursement"),
        ("FR", "en", "en", "Deduction D1 of USD 100.00 from Customer C1: please repay"),
    ],
)
def test_language_choice(paths, rules_dir, work_db, country, override, language, subject):
    if override:
        text = (rules_dir / "followups.yaml").read_text() + (
            "  - id: contact-c1\n"
            "    description: Customer C1 reads one language.\n"
            "    customer_id: C1\n"
            f"    language: {override}\n"
        )
        (rules_dir / "followups.yaml").write_text(text)
    conn = work_db(WorkData(customers=[customer("C1", country=country)]))

    run_followups(conn, paths, AS_OF, rules_dir)

    message = only_message(paths)
    assert message.language == language
    assert message.subject == subject
    assert f'<html lang="{language}">' in message.body_html


def test_parent_rule_sets_language_and_recipient(paths, rules_dir, work_db):
    text = (rules_dir / "followups.yaml").read_text() + (
        "  - id: contact-group\n"
        "    description: The group's subsidiaries are handled by its shared service centre.\n"
        "    parent_customer_id: GROUP\n"
        "    language: de\n"
        "    to: {email: ssc@group.example, name: Shared Service Centre}\n"
    )
    (rules_dir / "followups.yaml").write_text(text)
    conn = work_db(WorkData(customers=[customer("C1", parent_customer_id="GROUP")]))

    run_followups(conn, paths, AS_OF, rules_dir)

    message = only_message(paths)
    assert message.language == "de"
    assert message.to_email == "ssc@group.example"
    assert message.contact_rule_id == "contact-group"


def test_reminder_names_first_notice_date(paths, rules_dir, work_db):
    conn = work_db(WorkData(customers=[customer("C1", country="DE")]))
    run_followups(conn, paths, AS_OF, rules_dir)

    run_followups(conn, paths, AS_OF + dt.timedelta(days=7), rules_dir)

    reminder = outbox.read_messages(paths.state_db)[-1]
    assert reminder.step == "reminder_1"
    assert reminder.subject == "1. Erinnerung: Abzug D1 über 100,00 USD von Customer C1"
    assert "am 02.03.2026 haben wir Sie gebeten" in reminder.body_text


def test_missing_template_skips_message(paths, rules_dir, work_db, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    (templates / "de" / "first_notice.txt").unlink()
    conn = work_db(WorkData(
        deductions=[deduction("D1"), deduction("D2", customer_id="C2")],
        customers=[customer("C1"), customer("C2", country="DE")],
    ))

    summary = run_followups(conn, paths, AS_OF, rules_dir, templates_dir=templates)

    assert summary.skipped == 1
    assert summary.sent == 1
    assert [m.deduction_id for m in outbox.read_messages(paths.state_db)] == ["D1"]


@pytest.mark.parametrize(
    ("amount", "currency", "language", "expected"),
    [
        (Decimal("1234567.5"), "USD", "en", "USD 1,234,567.50"),
        (Decimal("1234567.5"), "EUR", "de", "1.234.567,50 EUR"),
        (Decimal("1234567.5"), "EUR", "fr", "1\u202f234\u202f567,50 EUR"),
        (Decimal("-0.05"), None, "en", "-0.05"),
        (Decimal("999.99"), None, "de", "999,99"),
    ],
)
def test_format_money(amount, currency, language, expected):
    assert format_money(amount, currency, language) == expected


def test_format_quantity_and_date():
    assert format_quantity(Decimal("10.0000"), "en") == "10"
    assert format_quantity(Decimal("2.5000"), "de") == "2,50"
    assert format_quantity(Decimal("23.4580"), "en") == "23.458"
    assert format_date(dt.date(2026, 3, 2), "en") == "2 March 2026"
    assert format_date(dt.date(2026, 3, 2), "de") == "02.03.2026"
    assert format_date(dt.date(2026, 3, 2), "fr") == "02/03/2026"


def test_empty_field_prints_nothing(tmp_path):
    (tmp_path / "note.txt").write_text("ref {{ reference }}|{{ missing_ok }}", encoding="utf-8")
    template = build_environment(tmp_path).get_template("note.txt")
    assert template.render(reference=None, missing_ok="x") == "ref |x"
