"""Transports: how queued messages leave the outbox.

``outbox`` (the default) writes each message as an ``.eml`` file and its
letter as an ``.html`` file into the outbox folder. ``sendgrid`` sends
through the SendGrid v3 mail API (see ``shortpay.followups.sendgrid_api``).
``SHORTPAY_EMAIL_TRANSPORT`` picks one when the caller does not.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import os
import re
from collections.abc import Mapping
from email.header import Header
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


def email_bytes(message: OutboxMessage) -> bytes:
    """Return the message as MIME bytes, with plain text and HTML alternatives.

    The bytes are written here rather than by ``email.message.EmailMessage``,
    which took about 1 ms a message, most of a day's follow-up time. A header
    value that is not plain ASCII text is encoded by RFC 2047 and folded, so
    no header line grows past 78 characters. A body of printable ASCII with
    short lines stays readable as 7bit, and any other is quoted-printable.
    Date, Message-ID and the boundary derive from the outbox row, so building
    the same row twice gives the same bytes. Raises ValueError when a header
    value contains a line break or another control character.
    """
    boundary = "=_" + hashlib.sha256(message.message_id.encode("utf-8")).hexdigest()[:28]
    headers = [
        ("Subject", _header_text("Subject", message.subject)),
        ("From", _address(message.sender_name, message.sender_email, "From")),
        ("To", _address(message.to_name, message.to_email, "To")),
    ]
    if message.cc_email:
        headers.append(("Cc", _address(None, message.cc_email, "Cc")))
    if message.reply_to_email:
        headers.append(("Reply-To", _address(None, message.reply_to_email, "Reply-To")))
    if message.queued_at is not None:
        headers.append(("Date", format_datetime(message.queued_at)))
    headers += [
        ("Message-ID", email_message_id(message)),
        ("X-Shortpay-Message-Id", _header_text("X-Shortpay-Message-Id", message.message_id)),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    parts = [f"{name}: {value}\n" for name, value in headers]
    parts.append("\n")
    for subtype, body in (("plain", message.body_text), ("html", message.body_html)):
        encoding, encoded = _body(body, boundary)
        parts.append(
            f"--{boundary}\n"
            f'Content-Type: text/{subtype}; charset="utf-8"\n'
            f"Content-Transfer-Encoding: {encoding}\n\n"
        )
        # The line break before a delimiter belongs to the delimiter, not the body.
        parts.append(encoded + "\n")
    parts.append(f"--{boundary}--\n")
    return "".join(parts).encode("ascii")


# RFC 5322 allows 998 characters a line; RFC 2045 limits an encoded line to 76.
_MAX_7BIT_LINE = 998
# A header line should stay within 78 characters. A plain value whose words
# are all at most _MAX_PLAIN_WORD long folds at its spaces; any other is encoded.
_MAX_HEADER_LINE = 78
_MAX_PLAIN_WORD = 60
# Characters a body may carry as 7bit: printable ASCII, tab and line feed.
_SEVEN_BIT_TEXT = re.compile(r"[\t\n\x20-\x7e]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _plain_header_text(value: str) -> bool:
    """Tell whether a value can stay as it is: ASCII, short words, nothing like RFC 2047.

    Text that looks like an encoded word (``=?utf-8?q?...?=``) is encoded
    itself, so that a mail reader shows it as written and does not decode it.
    """
    return (
        value.isascii()
        and "=?" not in value
        and all(len(word) <= _MAX_PLAIN_WORD for word in value.split())
    )


def _check_header_value(name: str, value: str) -> None:
    if _CONTROL.search(value):
        raise ValueError(
            f"invalid {name} header {value[:40]!r}: it contains a line break or control character"
        )


def _header_text(name: str, value: str) -> str:
    """Return an unstructured header value, folded, and encoded by RFC 2047 unless plain."""
    _check_header_value(name, value)
    charset = "us-ascii" if _plain_header_text(value) else "utf-8"
    return Header(value, charset, header_name=name).encode(linesep="\n")


def _address(name: str | None, address: str, header: str) -> str:
    """Return ``Name <address>``, with the name quoted, or encoded and folded when long."""
    _check_header_value(header, address)
    _check_header_value(header, name or "")
    plain = formataddr((name or "", address))
    if not name or (
        _plain_header_text(name) and len(header) + 2 + len(plain) <= _MAX_HEADER_LINE
    ):
        return plain
    encoded = Header(name, "utf-8", header_name=header).encode(linesep="\n")
    # The address goes on a folded line of its own, so no line grows long.
    return f"{encoded}\n <{address}>"


def _body(text: str, boundary: str) -> tuple[str, str]:
    """Return the transfer encoding and the encoded body, which ends with a line break.

    Only CR LF and a lone CR become line feeds. Other characters that Python
    counts as line breaks (form feed, U+2028) are kept as they are.
    """
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    if not normalised.endswith("\n"):
        normalised += "\n"
    if (
        _SEVEN_BIT_TEXT.fullmatch(normalised)
        and boundary not in normalised
        and max(map(len, normalised.split("\n"))) <= _MAX_7BIT_LINE
    ):
        return "7bit", normalised
    encoded = binascii.b2a_qp(normalised.encode("utf-8"), istext=True).decode("ascii")
    return "quoted-printable", encoded if encoded.endswith("\n") else encoded + "\n"


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
            data = email_bytes(message)
            self.outbox_dir.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.outbox_dir / f"{stem}.eml", data)
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
        return DeliveryResult(status="sent", provider_message_id=email_message_id(message))

    def close(self) -> None:
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
