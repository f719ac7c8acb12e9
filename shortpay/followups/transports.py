"""Transports: how queued messages leave the outbox.

``outbox`` (the default) writes each message as an ``.eml`` file and its
letter as an ``.html`` file into the outbox folder. ``sendgrid`` sends
through the SendGrid v3 mail API (see ``shortpay.followups.sendgrid_api``).
``SHORTPAY_EMAIL_TRANSPORT`` picks one when the caller does not.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Protocol

from shortpay.followups.outbox import DeliveryResult, OutboxMessage

log = logging.getLogger(__name__)

TRANSPORT_VARIABLE = "SHORTPAY_EMAIL_TRANSPORT"
TRANSPORTS = ("outbox", "sendgrid")


class TransportConfigError(ValueError):
    """A transport is unknown or its settings are missing or invalid."""


class Transport(Protocol):
    """A way to deliver messages. ``send`` reports delivery problems in its result."""

    name: str
    # True when delivering a message twice has the effect of delivering it once.
    idempotent: bool

    def send(self, message: OutboxMessage) -> DeliveryResult: ...

    def close(self) -> None: ...


def transport_name(requested: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """Pick the transport: the argument, else SHORTPAY_EMAIL_TRANSPORT, else ``outbox``."""
    name = (requested or environ.get(TRANSPORT_VARIABLE) or "outbox").strip().lower()
    if name not in TRANSPORTS:
        raise TransportConfigError(
            f"invalid transport {name!r} (from the argument or {TRANSPORT_VARIABLE}): "
            f"use one of {', '.join(TRANSPORTS)}"
        )
    return name


def make_transport(
    requested: str | None, outbox_dir: Path, environ: Mapping[str, str] = os.environ
) -> Transport:
    """Build the chosen transport. Raises TransportConfigError on invalid settings."""
    name = transport_name(requested, environ)
    if name == "sendgrid":
        from shortpay.followups.sendgrid_api import SendGridSettings, SendGridTransport

        return SendGridTransport(SendGridSettings.from_env(environ))
    return FileTransport(outbox_dir)


def build_email(message: OutboxMessage) -> EmailMessage:
    """Build a MIME message with plain text and HTML alternatives.

    Date and Message-ID derive from the outbox row, so building the same row
    twice gives the same bytes.
    """
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = formataddr((message.sender_name or "", message.sender_email))
    email["To"] = formataddr((message.to_name or "", message.to_email))
    if message.cc_email:
        email["Cc"] = message.cc_email
    if message.reply_to_email:
        email["Reply-To"] = message.reply_to_email
    if message.queued_at is not None:
        email["Date"] = format_datetime(message.queued_at)
    email["Message-ID"] = email_message_id(message)
    email["X-Shortpay-Message-Id"] = message.message_id
    email.set_content(message.body_text)
    email.add_alternative(message.body_html, subtype="html")
    return email


def email_message_id(message: OutboxMessage) -> str:
    """Return a stable RFC 5322 Message-ID for an outbox row."""
    digest = hashlib.sha256(message.message_id.encode("utf-8")).hexdigest()[:32]
    domain = message.sender_email.rpartition("@")[2] or "shortpay.invalid"
    return f"<{digest}@{domain}>"


def file_stem(message_id: str) -> str:
    """Return a file name stem that is safe on every filesystem and unique per message."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", message_id)[:80]
    digest = hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"


class FileTransport:
    """Write messages as files into the outbox folder, for people or another mailer."""

    name = "outbox"
    idempotent = True

    def __init__(self, outbox_dir: Path) -> None:
        self.outbox_dir = Path(outbox_dir)

    def send(self, message: OutboxMessage) -> DeliveryResult:
        stem = file_stem(message.message_id)
        try:
            email = build_email(message)
            self.outbox_dir.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.outbox_dir / f"{stem}.eml", email.as_bytes())
            _write_atomically(
                self.outbox_dir / f"{stem}.letter.html", message.letter_html.encode("utf-8")
            )
        except ValueError as error:
            log.error("Message %s cannot be built: %s", message.message_id, error)
            return DeliveryResult(status="failed", error=f"invalid message: {error}")
        except OSError as error:
            # A full disk or a missing permission passes; the message stays queued.
            log.error("Writing message %s to %s failed: %s", message.message_id,
                      self.outbox_dir, error)
            return DeliveryResult(status="queued", error=f"writing the files failed: {error}",
                                  deferred=True)
        return DeliveryResult(status="sent", provider_message_id=email["Message-ID"])

    def close(self) -> None:
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
