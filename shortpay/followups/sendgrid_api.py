"""Deliver follow-ups through the SendGrid v3 mail API with the official client.

Every result is classified so that no message is sent twice:

- 2xx: sent; the provider id is the ``X-Message-Id`` response header.
- 429: wait until ``X-RateLimit-Reset`` (epoch seconds) and try again. When
  the wait would exceed ``max_rate_limit_wait`` the message stays queued for
  the next run and this run stops sending.
- 5xx or connection refused: SendGrid did not take the request, so it is
  retried with exponential backoff, at most ``max_retries`` times. After
  that the message stays queued for the next run.
- 400, 401, 403 and other 4xx: failed, with the reason from the response.
- timeout or connection lost after the request went out: unknown. SendGrid
  may have accepted the message, so it is held for a person and never
  resent automatically. After ``MAX_UNKNOWN_IN_A_ROW`` such results in a
  row the run stops sending, and the rest stay queued for the next run.

The API key is only placed in the Authorization header. It is removed from
every log record of the HTTP client and from every error text stored or
raised here, and the settings object leaves it out of its repr.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import time
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import sendgrid
from python_http_client import exceptions as http_errors
from sendgrid.helpers.mail import (
    Cc,
    CustomArg,
    From,
    MailSettings,
    ReplyTo,
    SandBoxMode,
    To,
)
from sendgrid.helpers.mail import (
    Mail as SendGridMail,
)
from sendgrid.helpers.mail.exceptions import SendGridException

from shortpay.followups.outbox import DeliveryResult, OutboxMessage
from shortpay.followups.transports import TransportConfigError

log = logging.getLogger(__name__)

DEFAULT_HOST = "https://api.sendgrid.com"
PRODUCTION = "production"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# python_http_client 3.3 logs request headers, Authorization included, at debug level.
HTTP_CLIENT_LOGGER = "python_http_client.client"
# Waits for a rate-limit reset allowed for one message. After that many 429
# responses in a row the run stops sending, even when each reset was short.
MAX_RATE_LIMIT_WAITS = 100
# Requests in a row that time out or lose their connection before the run
# stops sending. Each such message is held as unknown, and each waits the
# full timeout, so a SendGrid outage would otherwise hold every due message.
MAX_UNKNOWN_IN_A_ROW = 3
# Endpoints of the SendGrid suppression lists read before sending.
SUPPRESSION_LISTS = ("bounces", "invalid_emails", "spam_reports")


@dataclass(frozen=True)
class SendGridSettings:
    """SendGrid transport settings, read from the environment by ``from_env``."""

    api_key: str = field(repr=False)
    host: str = DEFAULT_HOST
    sandbox: bool = False
    environment: str = ""
    allowlist: tuple[str, ...] = ()
    timeout: float = 10.0
    max_rate_limit_wait: float = 60.0
    max_retries: int = 3
    backoff: float = 1.0
    sync_suppressions: bool = True

    @property
    def is_production(self) -> bool:
        return self.environment == PRODUCTION

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SendGridSettings:
        """Read the settings. Raises TransportConfigError naming the variable at fault."""
        api_key = environ.get("SENDGRID_API_KEY", "").strip()
        if not api_key:
            raise TransportConfigError(
                "SENDGRID_API_KEY is not set: set it to a SendGrid API key with the "
                "Mail Send permission, or use SHORTPAY_EMAIL_TRANSPORT=outbox"
            )
        host = environ.get("SHORTPAY_SENDGRID_HOST", DEFAULT_HOST).strip().rstrip("/")
        _check_host(host)
        allowlist = tuple(
            entry.strip().lower()
            for entry in environ.get("SHORTPAY_EMAIL_ALLOWLIST", "").split(",")
            if entry.strip()
        )
        return cls(
            api_key=api_key,
            host=host,
            sandbox=_flag(environ, "SHORTPAY_SENDGRID_SANDBOX", False),
            environment=environ.get("SHORTPAY_ENV", "").strip().lower(),
            allowlist=allowlist,
            timeout=_number(environ, "SHORTPAY_SENDGRID_TIMEOUT", 10.0),
            max_rate_limit_wait=_number(environ, "SHORTPAY_SENDGRID_MAX_RATE_WAIT", 60.0),
            max_retries=int(_number(environ, "SHORTPAY_SENDGRID_MAX_RETRIES", 3)),
            backoff=_number(environ, "SHORTPAY_SENDGRID_BACKOFF", 1.0),
            sync_suppressions=_flag(environ, "SHORTPAY_SENDGRID_SYNC_SUPPRESSIONS", True),
        )


class SendGridTransport:
    """Send outbox messages through SendGrid's ``POST /v3/mail/send``."""

    name = "sendgrid"
    idempotent = False

    def __init__(
        self, settings: SendGridSettings, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._client = sendgrid.SendGridAPIClient(api_key=settings.api_key, host=settings.host)
        self._redactor = _RedactingFilter(settings.api_key)
        logging.getLogger(HTTP_CLIENT_LOGGER).addFilter(self._redactor)
        self._unknown_in_a_row = 0

    def __repr__(self) -> str:
        return f"SendGridTransport(host={self.settings.host!r}, sandbox={self.settings.sandbox})"

    def close(self) -> None:
        logging.getLogger(HTTP_CLIENT_LOGGER).removeFilter(self._redactor)

    def send(self, message: OutboxMessage) -> DeliveryResult:
        """Send one message, retrying only where SendGrid cannot have accepted it.

        The result stops the run's sending when it is the last of
        ``MAX_UNKNOWN_IN_A_ROW`` unknown results in a row.
        """
        result = self._send(message)
        if result.status != "unknown":
            self._unknown_in_a_row = 0
            return result
        self._unknown_in_a_row += 1
        if self._unknown_in_a_row < MAX_UNKNOWN_IN_A_ROW:
            return result
        log.error("%d requests to SendGrid in a row timed out or lost their connection, so "
                  "the rest stay queued for the next run", self._unknown_in_a_row)
        return replace(result, stops_delivery=True)

    def _send(self, message: OutboxMessage) -> DeliveryResult:
        blocked = self.allowlist_violation(message.recipients)
        if blocked is not None:
            log.error("Message %s not sent: %s", message.message_id, blocked)
            return DeliveryResult(status="failed", error=blocked, attempts=0)
        try:
            body = self.build_request_body(message)
        except (SendGridException, ValueError, TypeError) as error:
            # The helper classes reject malformed values; only this message fails.
            reason = self.redact(f"invalid message: {type(error).__name__}: {error}")
            log.error("Message %s not sent: %s", message.message_id, reason)
            return DeliveryResult(status="failed", error=reason, attempts=0)
        attempts = 0
        server_errors = 0
        rate_limit_waits = 0
        while True:
            attempts += 1
            outcome = self._post(body)
            if isinstance(outcome, DeliveryResult):
                return replace(outcome, attempts=attempts)
            status, headers, reason = outcome
            if status == 429:
                rate_limit_waits += 1
                error = self._wait_for_rate_limit(message, headers, rate_limit_waits)
                if error is not None:
                    log.warning("Message %s deferred: %s", message.message_id, error)
                    return DeliveryResult("queued", error=error, attempts=attempts, deferred=True)
                continue
            if status >= 500 or status == 0:
                server_errors += 1
                if server_errors > self.settings.max_retries:
                    error = f"{reason}; gave up after {self.settings.max_retries} retries"
                    log.warning("Message %s deferred: %s", message.message_id, error)
                    return DeliveryResult("queued", error=error, attempts=attempts, deferred=True)
                delay = self.settings.backoff * 2 ** (server_errors - 1)
                log.warning("Message %s: %s; retry %d in %.2f s", message.message_id, reason,
                            server_errors, delay)
                self._sleep(delay)
                continue
            log.error("Message %s rejected: %s", message.message_id, reason)
            # 401 and 403 reject the API key or its permissions, so every
            # other message would fail the same way.
            return DeliveryResult("failed", error=reason, attempts=attempts,
                                  stops_delivery=status in (401, 403))

    def _wait_for_rate_limit(
        self, message: OutboxMessage, headers: Mapping[str, str], waits: int
    ) -> str | None:
        """Sleep until the rate limit resets, or return why the message must wait for a later run."""
        wait = self._rate_limit_wait(headers)
        cap = self.settings.max_rate_limit_wait
        if wait > cap:
            return (f"rate limited (HTTP 429): reset in {wait:.0f} s exceeds "
                    f"SHORTPAY_SENDGRID_MAX_RATE_WAIT={cap:g}")
        if waits > MAX_RATE_LIMIT_WAITS:
            return f"rate limited (HTTP 429) {waits} times in a row"
        log.info("Rate limited on message %s; waiting %.2f s until the reset",
                 message.message_id, wait)
        self._sleep(wait)
        return None

    def _post(self, body: dict) -> DeliveryResult | tuple[int, Mapping[str, str], str]:
        """Make one request and return a final result, or (status, headers, reason) to act on.

        Status 0 means the connection was refused before any byte was sent.
        """
        try:
            response = self._client.client.mail.send.post(
                request_body=body, timeout=self.settings.timeout
            )
        except http_errors.HTTPError as error:
            return error.status_code, error.headers or {}, self._describe(error)
        except urllib.error.URLError as error:
            if isinstance(error.reason, ConnectionRefusedError):
                return 0, {}, f"connection refused by {self.settings.host}"
            return self._unknown(f"request failed: {error.reason}")
        except TimeoutError:
            return self._unknown(f"timed out after {self.settings.timeout:g} s")
        except (http.client.HTTPException, OSError) as error:
            return self._unknown(f"connection lost: {type(error).__name__}: {error}")
        if 200 <= response.status_code < 300:
            provider_id = response.headers.get("X-Message-Id")
            # The id is stored and listed, so it goes through the same
            # redaction as error texts, in case a server echoes the key.
            if provider_id is not None:
                provider_id = self.redact(provider_id)[:200]
            return DeliveryResult(status="sent", provider_message_id=provider_id)
        return self._unknown(f"unexpected HTTP {response.status_code}")

    def _unknown(self, reason: str) -> DeliveryResult:
        return DeliveryResult(status="unknown", error=self.redact(reason))

    def _describe(self, error: http_errors.HTTPError) -> str:
        details = ""
        try:
            payload = json.loads(error.body or b"{}")
            messages = [item.get("message", "") for item in payload.get("errors", [])]
            details = "; ".join(message for message in messages if message)
        except (ValueError, AttributeError, TypeError):
            details = ""
        text = f"HTTP {error.status_code} {error.reason}"
        if details:
            text += f": {details}"
        return self.redact(text)[:500]

    def _rate_limit_wait(self, headers: Mapping[str, str]) -> float:
        """Seconds until X-RateLimit-Reset, or the backoff when the header is missing."""
        reset = headers.get("X-RateLimit-Reset") if headers else None
        try:
            return max(0.0, float(reset) - time.time())
        except (TypeError, ValueError):
            return self.settings.backoff

    def build_request_body(self, message: OutboxMessage) -> dict:
        """Build the v3 mail/send body with the official helper classes."""
        mail = SendGridMail(
            from_email=From(message.sender_email, message.sender_name or None),
            to_emails=To(message.to_email, message.to_name or None),
            subject=message.subject,
            plain_text_content=message.body_text,
            html_content=message.body_html,
        )
        if message.cc_email:
            mail.add_cc(Cc(message.cc_email))
        if message.reply_to_email:
            mail.reply_to = ReplyTo(message.reply_to_email)
        mail.add_custom_arg(CustomArg("shortpay_message_id", message.message_id))
        if self.settings.sandbox:
            mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
        return mail.get()

    def allowlist_violation(self, recipients: list[str]) -> str | None:
        """Return why a recipient is blocked outside production, or None when all may be written to."""
        if self.settings.is_production:
            return None
        blocked = [address for address in recipients if not self._allowed(address)]
        if not blocked:
            return None
        environment = self.settings.environment or "unset"
        return (
            f"recipient {', '.join(blocked)} is not on SHORTPAY_EMAIL_ALLOWLIST and "
            f"SHORTPAY_ENV is {environment}, not production"
        )

    def _allowed(self, address: str) -> bool:
        address = address.strip().lower()
        domain = "@" + address.rpartition("@")[2]
        return any(entry in (address, domain) for entry in self.settings.allowlist)

    def fetch_suppressions(self) -> list[tuple[str, str, str]]:
        """Read SendGrid's bounce, invalid-address and spam-report lists.

        Returns (email, reason, source) entries. A list that cannot be read
        is logged and skipped, and the addresses already stored still apply.
        """
        entries: list[tuple[str, str, str]] = []
        if not self.settings.sync_suppressions:
            return entries
        for name in SUPPRESSION_LISTS:
            # NOTE: one request per list without limit or offset, so only the
            # first page that SendGrid returns is read from a very long list.
            endpoint = self._client.client.suppression._(name)
            try:
                response = endpoint.get(timeout=self.settings.timeout)
                items = json.loads(response.body or b"[]")
            except http_errors.HTTPError as error:
                log.warning("Reading the SendGrid %s list failed: %s", name,
                            self._describe(error))
                continue
            except (OSError, ValueError, http.client.HTTPException) as error:
                log.warning("Reading the SendGrid %s list failed: %s", name,
                            self.redact(str(error)))
                continue
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and item.get("email"):
                    reason = str(item.get("reason") or name)[:500]
                    entries.append((str(item["email"]), reason, f"sendgrid:{name}"))
        return entries

    def redact(self, text: str) -> str:
        """Remove the API key from a text."""
        return text.replace(self.settings.api_key, "[redacted]")


class _RedactingFilter(logging.Filter):
    """Remove the API key from records of the HTTP client, which logs request headers."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secret in str(record.msg) or any(
            self._secret in str(arg) for arg in (record.args or ())
        ):
            record.msg = record.getMessage().replace(self._secret, "[redacted]")
            record.args = ()
        return True


def _check_host(host: str) -> None:
    parts = urlsplit(host)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS:
        return
    raise TransportConfigError(
        f"invalid SHORTPAY_SENDGRID_HOST {host!r}: use an https:// URL "
        "(plain http is accepted only for 127.0.0.1 or localhost)"
    )


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = environ.get(name)
    if value is None:
        return default
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise TransportConfigError(f"invalid {name} {value!r}: use true or false")


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    value = environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        number = float(value)
    except ValueError:
        raise TransportConfigError(f"invalid {name} {value!r}: expected a number") from None
    if not math.isfinite(number):
        raise TransportConfigError(f"invalid {name} {value!r}: expected a finite number")
    if number < 0:
        raise TransportConfigError(f"invalid {name} {value!r}: must not be negative")
    return number
