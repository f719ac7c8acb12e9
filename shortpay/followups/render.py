"""Render follow-up messages from the Jinja2 templates.

Templates live in one folder per language (``en``, ``de``, ``fr``): for
each step ``<step>.txt`` (the plain-text email, which also sets
``subject``) and ``<step>.html`` (the HTML email's content), and
``letter.html`` (a printable letter around the same content). The shared
page layouts are ``_email.html`` and ``_letter.html``. HTML templates are autoescaped, so customer text such as memos
and names shows as text and cannot add markup. Plain-text templates are not
escaped; the subject is collapsed to one line.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

from shortpay.followups.config import Address
from shortpay.followups.data import Deduction, Invoice
from shortpay.settings import TEMPLATES_DIR

CENTS = Decimal("0.01")
# Digit group and decimal separators per language. French groups with a
# narrow no-break space (U+202F), as in CLDR.
_NUMBER_FORMATS = {"en": (",", "."), "de": (".", ","), "fr": ("\u202f", ",")}
_DATE_FORMATS = {"en": "{day} {month} {year}", "de": "{day:02d}.{month_number:02d}.{year}",
                 "fr": "{day:02d}/{month_number:02d}/{year}"}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


class TemplateError(RuntimeError):
    """A template is missing or failed to render."""


@dataclass(frozen=True)
class RenderedMessage:
    """The texts of one message."""

    subject: str
    body_text: str
    body_html: str
    letter_html: str


def format_money(amount: Decimal | None, currency: str | None, language: str) -> str:
    """Format an amount with two decimals and the language's separators, never through float."""
    if amount is None:
        return ""
    group, point = _NUMBER_FORMATS.get(language, _NUMBER_FORMATS["en"])
    value = Decimal(amount).quantize(CENTS)
    sign = "-" if value < 0 else ""
    whole, cents = f"{abs(value):f}".split(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    number = f"{sign}{group.join(groups)}{point}{cents}"
    if not currency:
        return number
    return f"{currency} {number}" if language == "en" else f"{number} {currency}"


def format_quantity(value: Decimal | None, language: str) -> str:
    """Format a quantity or unit price without trailing zeros beyond two decimals."""
    if value is None:
        return ""
    value = Decimal(value)
    if value == value.quantize(CENTS):
        text = f"{value.quantize(CENTS):f}"
        if text.endswith(".00"):
            text = text[:-3]
    else:
        text = f"{value.normalize():f}"
    _, point = _NUMBER_FORMATS.get(language, _NUMBER_FORMATS["en"])
    return text.replace(".", point)


def format_unit_price(value: Decimal | None, language: str) -> str:
    """Format a unit price with at least two decimals, and more only when it has them."""
    if value is None:
        return ""
    value = Decimal(value)
    text = f"{value.quantize(CENTS):f}" if value == value.quantize(CENTS) else f"{value.normalize():f}"
    _, point = _NUMBER_FORMATS.get(language, _NUMBER_FORMATS["en"])
    return text.replace(".", point)


def format_date(value: dt.date | None, language: str) -> str:
    """Format a date for the language: 2 March 2026, 02.03.2026 or 02/03/2026."""
    if value is None:
        return ""
    pattern = _DATE_FORMATS.get(language, _DATE_FORMATS["en"])
    return pattern.format(day=value.day, month=_MONTHS[value.month - 1],
                          month_number=value.month, year=value.year)


@functools.lru_cache(maxsize=8)
def _blank_none(value: Any) -> Any:
    return "" if value is None else value


def build_environment(templates_dir: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """Create the Jinja2 environment: autoescape for .html, strict undefined names.

    The environment is cached per folder so templates compile once per
    process; Jinja2 still reloads a template whose file has changed.
    """
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",),
                                            default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # An empty field (None) prints as nothing, not as "None".
        finalize=_blank_none,
    )
    environment.filters["money"] = format_money
    environment.filters["quantity"] = format_quantity
    environment.filters["unit_price"] = format_unit_price
    environment.filters["day"] = format_date
    return environment


def build_context(
    *,
    deduction: Deduction,
    invoice: Invoice | None,
    step: str,
    reminder_number: int,
    language: str,
    as_of: dt.date,
    sender: Address,
    recipient: Address,
    first_notice_on: dt.date | None,
) -> dict[str, Any]:
    """Collect the values the templates use."""
    return {
        "deduction": deduction,
        "invoice": invoice,
        "lines": invoice.lines if invoice is not None else (),
        "lines_total": invoice.lines_total if invoice is not None else None,
        "step": step,
        "reminder_number": reminder_number,
        "language": language,
        "currency": deduction.currency,
        "amount_claimed": deduction.amount_claimed,
        "as_of": as_of,
        "sender": sender,
        "recipient": recipient,
        "customer_name": deduction.customer_name or deduction.customer_id or "",
        "first_notice_on": first_notice_on,
    }


def render_message(
    environment: jinja2.Environment, language: str, step: str, context: dict[str, Any]
) -> RenderedMessage:
    """Render the subject, plain text, HTML email and letter of one step.

    Raises TemplateError naming the template when one is missing or fails.
    """
    text_name = f"{language}/{step}.txt"
    try:
        text_module = environment.get_template(text_name).make_module(context)
        body_text = str(text_module)
        subject = getattr(text_module, "subject", None)
        if not subject:
            raise TemplateError(f"template {text_name} sets no subject")
        page_context = {
            **context,
            "subject": one_line(str(subject)),
            "content_template": f"{language}/{step}.html",
        }
        body_html = environment.get_template("_email.html").render(page_context)
        letter_html = environment.get_template(f"{language}/letter.html").render(page_context)
    except jinja2.TemplateNotFound as error:
        raise TemplateError(f"template {error.name} not found") from error
    except jinja2.TemplateError as error:
        raise TemplateError(f"template for {language}/{step} failed: {error}") from error
    return RenderedMessage(
        subject=one_line(str(subject)),
        body_text=body_text.strip() + "\n",
        body_html=body_html,
        letter_html=letter_html,
    )


# Whitespace, line breaks and other control characters, which a mail header
# must not contain.
_NOT_IN_HEADERS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def one_line(text: str) -> str:
    """Replace each run of whitespace or control characters with one space.

    Customer names and subjects go into mail headers this way, so they can
    neither add a header nor make the message invalid.
    """
    return _NOT_IN_HEADERS.sub(" ", text).strip()
