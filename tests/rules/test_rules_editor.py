"""Tests of the rules editor: a real server on a free port, driven with urllib."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pytest

from shortpay.rules.editor import RuleEditorServer
from shortpay.rules.load import load_rules
from shortpay.rules.yaml_io import SCHEMA_LINE_PREFIX

SCRIPT = "<script>alert('x')</script>"


class FormReader(HTMLParser):
    """Collect the fields of the first form as a browser would post them."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") != "checkbox":
            self.fields[attributes["name"]] = attributes.get("value") or ""
        elif tag == "select":
            self._select = attributes["name"]
            self.fields.setdefault(self._select, "")
        elif tag == "option" and self._select and "selected" in attributes:
            self.fields[self._select] = attributes["value"]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


@pytest.fixture
def editor(rules_dir: Path):
    server = RuleEditorServer(rules_dir, port=0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def request(url: str, data: dict | None = None, headers: dict | None = None):
    body = urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def form_fields(server: RuleEditorServer, file_name: str) -> dict[str, str]:
    status, page = request(f"{server.url}file/{file_name}")
    assert status == 200
    reader = FormReader()
    reader.feed(page)
    return reader.fields


def find_row(fields: dict[str, str], rule_id: str) -> int:
    for name, value in fields.items():
        if name.endswith(".id") and value == rule_id:
            return int(name[1:].split(".")[0])
    raise AssertionError(f"rule {rule_id} not on the page")


def test_editor_lists_files(editor):
    status, page = request(editor.url)

    assert status == 200
    assert '<a href="/file/routing.yaml">routing.yaml</a>' in page
    assert '<a href="/file/settings.yaml">settings.yaml</a>' in page


def test_editor_changes_rule(editor, rules_dir: Path):
    fields = form_fields(editor, "dispute_windows.yaml")
    fields[f"r{find_row(fields, 'dw-default')}.window_days"] = "35"

    status, page = request(f"{editor.url}file/dispute_windows.yaml", fields)

    assert status == 200
    assert '<p class="saved">Saved.</p>' in page
    windows = {w.rule_id: w.window_days for w in load_rules(rules_dir).dispute_windows}
    assert windows["dw-default"] == 35
    assert len(windows) == 6
    text = (rules_dir / "dispute_windows.yaml").read_text(encoding="utf-8")
    assert text.startswith(f"{SCHEMA_LINE_PREFIX}schema/dispute_windows.schema.json\n")
    assert "# Days from the day a deduction opens" in text


def test_editor_adds_and_deletes_rows(editor, rules_dir: Path):
    fields = form_fields(editor, "reason_codes.yaml")
    new = int(fields["row_count"]) - 1
    fields.update({
        f"r{new}.id": "rc-customer-c42",
        f"r{new}.scope_type": "customer",
        f"r{new}.scope_id": "0042",
        f"r{new}.category": "pricing",
        f"r{new}.codes": "PRC, PRICE",
        f"r{new}.description": "Customer 0042 sends PRC and PRICE for price disputes",
    })
    fields[f"r{find_row(fields, 'rc-customer-c9001-short')}.delete"] = "1"

    status, _ = request(f"{editor.url}file/reason_codes.yaml", fields)

    assert status == 200
    rows = load_rules(rules_dir).reason_codes
    added = sorted((r.scope_id, r.reason_code, r.category) for r in rows if r.scope_id == "0042")
    assert added == [("0042", "PRC", "pricing"), ("0042", "PRICE", "pricing")]
    assert [r for r in rows if r.rule_id == "rc-customer-c9001-short"] == []
    assert len(rows) == 637
    # The codes that YAML would read as numbers stay quoted text.
    assert {r.reason_code for r in rows if r.rule_id == "rc-early-pay"} == {"76", "90", "FA"}


@pytest.mark.parametrize("amount", ["ten", "1e3"])
def test_editor_rejects_invalid_save(editor, rules_dir: Path, amount: str):
    before = (rules_dir / "tolerances.yaml").read_bytes()
    fields = form_fields(editor, "tolerances.yaml")
    fields[f"r{find_row(fields, 'tol-default')}.max_amount"] = amount

    status, page = request(f"{editor.url}file/tolerances.yaml", fields)

    assert status == 422
    assert "Not saved. Fix these problems:" in page
    assert "tolerances.yaml, rule tol-default, field max_amount: must be an amount" in page
    assert f'value="{amount}"' in page
    assert (rules_dir / "tolerances.yaml").read_bytes() == before


def test_editor_escapes_script(editor, rules_dir: Path):
    fields = form_fields(editor, "routing.yaml")
    fields[f"r{find_row(fields, 'rt-default')}.description"] = SCRIPT

    status, page = request(f"{editor.url}file/routing.yaml", fields)

    assert status == 200
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    routing = {r.rule_id: r.description for r in load_rules(rules_dir).routing}
    assert routing["rt-default"] == SCRIPT


def test_editor_escapes_script_in_errors(editor, rules_dir: Path):
    fields = form_fields(editor, "routing.yaml")
    fields[f"r{find_row(fields, 'rt-default')}.scope_type"] = SCRIPT

    status, page = request(f"{editor.url}file/routing.yaml", fields)

    assert status == 422
    assert SCRIPT not in page
    assert "&lt;script&gt;" in page


def test_editor_rejects_missing_token(editor, rules_dir: Path):
    before = (rules_dir / "routing.yaml").read_bytes()
    fields = form_fields(editor, "routing.yaml")
    del fields["csrf_token"]

    status, page = request(f"{editor.url}file/routing.yaml", fields)

    assert status == 403
    assert "The form token is missing or wrong." in page
    assert (rules_dir / "routing.yaml").read_bytes() == before


def test_editor_rejects_wrong_token(editor, rules_dir: Path):
    before = (rules_dir / "routing.yaml").read_bytes()
    fields = form_fields(editor, "routing.yaml")
    fields["csrf_token"] = "guessed"

    status, _ = request(f"{editor.url}file/routing.yaml", fields)

    assert status == 403
    assert (rules_dir / "routing.yaml").read_bytes() == before


def test_editor_rejects_foreign_host(editor):
    status, page = request(editor.url, headers={"Host": "attacker.example:8765"})

    assert status == 403
    assert f"Open the editor at {editor.url}" in page


def test_editor_rejects_stale_page(editor, rules_dir: Path):
    fields = form_fields(editor, "dispute_windows.yaml")
    path = rules_dir / "dispute_windows.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("window_days: 30", "window_days: 33"),
                    encoding="utf-8")
    fields[f"r{find_row(fields, 'dw-default')}.window_days"] = "40"

    status, page = request(f"{editor.url}file/dispute_windows.yaml", fields)

    assert status == 422
    assert "the file changed on disk after this page was opened" in page
    windows = {w.rule_id: w.window_days for w in load_rules(rules_dir).dispute_windows}
    assert windows["dw-default"] == 33


def test_editor_saves_settings(editor, rules_dir: Path):
    fields = form_fields(editor, "settings.yaml")
    fields["s.four_eyes_amount.value"] = "7500.50"
    fields["s.treat_short_payment_as_partial.value"] = "true"

    status, _ = request(f"{editor.url}file/settings.yaml", fields)

    assert status == 200
    ruleset = load_rules(rules_dir)
    assert ruleset.setting("four_eyes_amount") == "7500.50"
    assert ruleset.setting("treat_short_payment_as_partial") == "true"
    assert ruleset.setting("reporting_currency") == "USD"


def test_editor_unknown_page(editor):
    status, _ = request(f"{editor.url}file/..%2Fsecrets.yaml")

    assert status == 404


def test_editor_keeps_unreadable_file(editor, rules_dir: Path):
    path = rules_dir / "tolerances.yaml"
    path.write_text("rules: [\n", encoding="utf-8")
    fields = form_fields(editor, "tolerances.yaml")
    new = int(fields["row_count"]) - 1
    fields.update({
        f"r{new}.id": "tol-only",
        f"r{new}.scope_type": "default",
        f"r{new}.max_amount": "1.00",
        f"r{new}.description": "Only rule",
    })

    status, page = request(f"{editor.url}file/tolerances.yaml", fields)

    assert status == 422
    assert "tolerances.yaml: cannot be read" in page
    assert path.read_text(encoding="utf-8") == "rules: [\n"
