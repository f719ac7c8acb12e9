"""Local web editor for the rule files, served by the standard library on 127.0.0.1.

Each rule file is an editable table. A save is validated with the same schema
and checks as the loader, and the file is only replaced when it is valid.
Posts need the editor's CSRF token, requests need a local Host header (so a
web page cannot reach the editor through DNS rebinding), and a save is
rejected when the file changed on disk after the page was opened.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import os
import secrets
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from shortpay.rules import editor_form
from shortpay.rules.schema import RULE_FILES, schema_file_name
from shortpay.rules.validate import RuleIssue, check_document
from shortpay.rules.yaml_io import SCHEMA_LINE_PREFIX, dump_yaml, parse_yaml

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_BODY_BYTES = 2 * 1024 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class RuleEditorServer(ThreadingHTTPServer):
    """HTTP server that edits the rule files of one folder."""

    daemon_threads = True

    def __init__(self, rules_dir: Path, port: int = 8765):
        self.rules_dir = Path(rules_dir)
        self.csrf_token = secrets.token_urlsafe(32)
        self.save_lock = threading.Lock()
        super().__init__((HOST, port), RuleEditorHandler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def allowed_hosts(self) -> set[str]:
        port = self.server_address[1]
        return {f"{HOST}:{port}", f"localhost:{port}"}


def file_digest(data: bytes) -> str:
    """Return the SHA-256 of a file's bytes, used to notice changes on disk."""
    return hashlib.sha256(data).hexdigest()


def header_comments(text: str) -> str:
    """Return the comment lines at the top of a YAML file, which a save keeps."""
    lines = []
    for line in text.splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines)


def render_file(file_name: str, document: dict[str, Any], previous_text: str) -> str:
    """Render a document as YAML below the previous file's header comments."""
    header = header_comments(previous_text)
    if not header.startswith(SCHEMA_LINE_PREFIX):
        header = f"{SCHEMA_LINE_PREFIX}schema/{schema_file_name(file_name)}\n" + header
    return header + dump_yaml(document)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so readers see the old or the new file, never half."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class RuleEditorHandler(BaseHTTPRequestHandler):
    """Request handler of the rules editor."""

    server: RuleEditorServer
    server_version = "ShortpayRulesEditor"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class name
        logger.debug("%s %s", self.address_string(), format % args)

    # --- routing -------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        if not self._host_allowed():
            return
        path = urlsplit(self.path)
        if path.path == "/":
            self._send_html(HTTPStatus.OK, editor_form.index_page(str(self.server.rules_dir)))
            return
        file_name = self._file_name(path.path)
        if file_name is None:
            return
        saved = parse_qs(path.query).get("saved") == ["1"]
        self._show_file(file_name, saved=saved)

    def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        if not self._host_allowed():
            return
        file_name = self._file_name(urlsplit(self.path).path)
        if file_name is None:
            return
        form = self._read_form()
        if form is None:
            return
        token = form.get("csrf_token", [""])[0]
        if not hmac.compare_digest(token.encode(), self.server.csrf_token.encode()):
            logger.warning("rejected a save of %s: missing or wrong CSRF token", file_name)
            self._send_error(HTTPStatus.FORBIDDEN, "The form token is missing or wrong. "
                             "Reload the page and save again.")
            return
        self._save(file_name, form)

    # --- pages ---------------------------------------------------------------

    def _show_file(self, file_name: str, *, saved: bool = False) -> None:
        path = self.server.rules_dir / file_name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        document, errors = self._parse(file_name, data)
        self._send_html(
            HTTPStatus.OK,
            self._file_page(file_name, document, file_digest(data), errors, saved),
        )

    def _file_page(
        self, file_name: str, document: Any, file_hash: str, errors: list[str], saved: bool
    ) -> str:
        document = document if isinstance(document, dict) else {}
        options = {
            "csrf_token": self.server.csrf_token,
            "file_hash": file_hash,
            "errors": errors,
            "saved": saved,
        }
        if file_name == editor_form.SETTINGS_FILE:
            return editor_form.settings_page(document.get("settings"), **options)
        rules = document.get("rules")
        return editor_form.list_file_page(
            file_name, rules if isinstance(rules, list) else [], **options
        )

    @staticmethod
    def _parse(file_name: str, data: bytes) -> tuple[Any, list[str]]:
        if not data:
            return {}, [f"{file_name}: file not found or empty; saving creates it"]
        try:
            return parse_yaml(data.decode("utf-8")), []
        except (UnicodeDecodeError, yaml.YAMLError) as error:
            return {}, [f"{file_name}: cannot be read ({error}); fix it in a text editor"]

    # --- saving --------------------------------------------------------------

    def _save(self, file_name: str, form: dict[str, list[str]]) -> None:
        document = editor_form.document_from_form(file_name, form)
        issues: list[RuleIssue] = check_document(file_name, document)
        path = self.server.rules_dir / file_name
        posted_hash = form.get("file_hash", [""])[0]
        with self.server.save_lock:
            previous = path.read_bytes() if path.exists() else b""
            if file_digest(previous) != posted_hash:
                message = (
                    f"{file_name}: the file changed on disk after this page was opened; "
                    "copy your changes, reload the page and apply them again"
                )
                self._reject(file_name, document, posted_hash, [message])
                return
            read_errors = self._parse(file_name, previous)[1] if previous else []
            if read_errors:
                # The editor shows an unreadable file as an empty table, so saving
                # would silently drop its rules.
                self._reject(file_name, document, posted_hash, read_errors)
                return
            if issues:
                self._reject(file_name, document, posted_hash, [str(i) for i in issues])
                return
            text = render_file(file_name, document, previous.decode("utf-8", "replace"))
            write_atomically(path, text)
        logger.info("saved %s in %s", file_name, self.server.rules_dir)
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", f"/file/{file_name}?saved=1")
        self.send_header("Content-Length", "0")
        self._send_security_headers()
        self.end_headers()

    def _reject(self, file_name: str, document: Any, file_hash: str, errors: list[str]) -> None:
        logger.info("did not save %s: %d problems", file_name, len(errors))
        page = self._file_page(file_name, document, file_hash, errors, saved=False)
        self._send_html(HTTPStatus.UNPROCESSABLE_ENTITY, page)

    # --- request helpers -------------------------------------------------------

    def _host_allowed(self) -> bool:
        host = self.headers.get("Host", "")
        if host in self.server.allowed_hosts():
            return True
        logger.warning("rejected a request with Host header %r", host)
        self._send_error(HTTPStatus.FORBIDDEN, f"Open the editor at {self.server.url}")
        return False

    def _file_name(self, url_path: str) -> str | None:
        name = url_path.removeprefix("/file/")
        if url_path.startswith("/file/") and name in RULE_FILES:
            return name
        self._send_error(HTTPStatus.NOT_FOUND, "No such page. Start from the list of rule files.")
        return None

    def _read_form(self) -> dict[str, list[str]] | None:
        length_text = self.headers.get("Content-Length", "")
        if not length_text.isdigit():
            self._send_error(HTTPStatus.LENGTH_REQUIRED, "The request has no Content-Length.")
            return None
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            self._send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The form is too large.")
            return None
        body = self.rfile.read(length)
        try:
            return parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            self._send_error(HTTPStatus.BAD_REQUEST, "The form is not UTF-8 text.")
            return None

    def _send_security_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)

    def _send_html(self, status: HTTPStatus, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self._send_security_headers()
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: HTTPStatus, message: str) -> None:
        self._send_html(status, editor_form.page(status.phrase, f"<p>{_escape(message)}</p>"))


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def serve(server: RuleEditorServer) -> None:
    """Serve requests until interrupted, then close the socket."""
    logger.info("rules editor for %s running at %s", server.rules_dir, server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("rules editor interrupted")
    finally:
        server.server_close()
        logger.info("rules editor stopped")
