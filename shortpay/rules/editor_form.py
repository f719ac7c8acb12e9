"""Conversion between rule documents, HTML forms and pages for the rules editor.

Every value placed in a page goes through ``html.escape``, so rule text such
as ``<script>`` shows as text. Field widgets follow the JSON Schema of each
file: enums become drop-down lists, lists of codes a comma-separated field.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from shortpay.numbers import PLAIN_DECIMAL
from shortpay.rules.schema import RULE_FILES, SCHEMAS, SETTING_VALUES

SETTINGS_FILE = "settings.yaml"
NEW_ROWS = 1

STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 2px 4px; text-align: left; }
input.wide { width: 32em; }
.errors { color: #a00; }
.saved { color: #070; }
"""


def rule_columns(file_name: str) -> dict[str, dict[str, Any]]:
    """Return the field schemas of one rule of a list file, in display order."""
    return SCHEMAS[file_name]["properties"]["rules"]["items"]["properties"]


def _escape(value: Any) -> str:
    return html.escape(display_text(value), quote=True)


def display_text(value: Any) -> str:
    """Render a YAML value as the text shown in a form field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(display_text(item) for item in value)
    return str(value)


def parse_field(text: str, field_schema: dict[str, Any]) -> Any:
    """Turn form text into the YAML value the schema expects.

    Text that does not parse stays text, so the schema reports it with the
    field name in place of the editor guessing a value. Empty text is None.
    """
    text = text.strip()
    if text == "":
        return None
    kind = field_schema.get("type")
    if kind == "number":
        # Plain notation only, as docs/rules.md requires: 1e3 stays text.
        if not PLAIN_DECIMAL.fullmatch(text):
            return text
        try:
            return Decimal(text)
        except InvalidOperation:
            return text
    if kind == "integer":
        return int(text) if re.fullmatch(r"[+-]?\d{1,9}", text) else text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    if kind == "array":
        return [code for code in re.split(r"[,\s]+", text) if code]
    return text


def rows_from_form(file_name: str, form: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Build the rule list of a list file from a posted form.

    Rows marked for deletion and new rows left empty are dropped. Empty
    optional fields are left out of the rule.
    """
    columns = rule_columns(file_name)
    row_count = _int_value(form, "row_count")
    rules = []
    for index in range(row_count):
        if _value(form, f"r{index}.delete"):
            continue
        rule = {}
        for name, field_schema in columns.items():
            value = parse_field(_value(form, f"r{index}.{name}"), field_schema)
            if value is not None:
                rule[name] = value
        if rule:
            rules.append(rule)
    return rules


def settings_from_form(form: dict[str, list[str]]) -> dict[str, Any]:
    """Build the ``settings`` mapping from a posted form."""
    settings = {}
    for key, value_schema in SETTING_VALUES.items():
        entry = {}
        value = parse_field(_value(form, f"s.{key}.value"), value_schema)
        if value is not None:
            entry["value"] = value
        description = _value(form, f"s.{key}.description").strip()
        if description:
            entry["description"] = description
        settings[key] = entry
    return settings


def document_from_form(file_name: str, form: dict[str, list[str]]) -> dict[str, Any]:
    """Build the whole YAML document of ``file_name`` from a posted form."""
    if file_name == SETTINGS_FILE:
        return {"settings": settings_from_form(form)}
    return {"rules": rows_from_form(file_name, form)}


def _value(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


def _int_value(form: dict[str, list[str]], name: str) -> int:
    text = _value(form, name)
    # A forged row count cannot make the editor loop for long.
    return min(int(text), 100_000) if text.isdigit() else 0


# --- pages ---------------------------------------------------------------------


def page(title: str, body: str) -> str:
    """Wrap body HTML in a complete page with an escaped title."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def index_page(rules_dir_label: str) -> str:
    """Render the list of rule files."""
    items = "".join(
        f'<li><a href="/file/{html.escape(name)}">{html.escape(name)}</a></li>'
        for name in RULE_FILES
    )
    return page(
        "Shortpay rules",
        f"<h1>Shortpay rules</h1><p>Folder: {html.escape(rules_dir_label)}</p><ul>{items}</ul>",
    )


def _widget(name: str, value: Any, field_schema: dict[str, Any]) -> str:
    field_name = html.escape(name, quote=True)
    options = field_schema.get("enum")
    if options is None and field_schema.get("type") == "boolean":
        options = [True, False]
    if options is not None:
        current = display_text(value)
        choices = [display_text(option) for option in options]
        if current not in choices:
            choices.append(current)
        if "" not in choices:
            choices.insert(0, "")
        rendered = "".join(
            f'<option value="{html.escape(choice, quote=True)}"'
            f'{" selected" if choice == current else ""}>{html.escape(choice)}</option>'
            for choice in choices
        )
        return f'<select name="{field_name}">{rendered}</select>'
    css = ' class="wide"' if name.endswith("description") or name.endswith("codes") else ""
    return f'<input name="{field_name}" value="{_escape(value)}"{css}>'


def _hidden(name: str, value: str) -> str:
    return (
        f'<input type="hidden" name="{html.escape(name, quote=True)}" '
        f'value="{html.escape(value, quote=True)}">'
    )


def _messages(errors: list[str], saved: bool) -> str:
    parts = []
    if saved:
        parts.append('<p class="saved">Saved.</p>')
    if errors:
        items = "".join(f"<li>{html.escape(error)}</li>" for error in errors)
        parts.append(
            '<div class="errors"><p>Not saved. Fix these problems:</p>'
            f"<ul>{items}</ul></div>"
        )
    return "".join(parts)


def list_file_page(
    file_name: str,
    rules: list[Any],
    *,
    csrf_token: str,
    file_hash: str,
    errors: list[str] = (),
    saved: bool = False,
) -> str:
    """Render the table of rules of a list file as an editable form."""
    columns = rule_columns(file_name)
    header = "<tr><th>delete</th>" + "".join(
        f"<th>{html.escape(name)}</th>" for name in columns
    ) + "</tr>"
    rows = [rule if isinstance(rule, dict) else {} for rule in rules]
    rows += [{}] * NEW_ROWS
    body_rows = []
    for index, rule in enumerate(rows):
        delete = (
            f'<input type="checkbox" name="r{index}.delete" value="1">'
            if index < len(rows) - NEW_ROWS
            else "new"
        )
        cells = "".join(
            f"<td>{_widget(f'r{index}.{name}', rule.get(name), schema)}</td>"
            for name, schema in columns.items()
        )
        body_rows.append(f"<tr><td>{delete}</td>{cells}</tr>")
    form = (
        f'<form method="post" action="/file/{html.escape(file_name)}">'
        + _hidden("csrf_token", csrf_token)
        + _hidden("file_hash", file_hash)
        + _hidden("row_count", str(len(rows)))
        + f"<table>{header}{''.join(body_rows)}</table>"
        + '<p><button type="submit">Save</button></p></form>'
    )
    return page(
        f"{file_name} - Shortpay rules",
        f'<p><a href="/">All rule files</a></p><h1>{html.escape(file_name)}</h1>'
        + _messages(list(errors), saved)
        + "<p>Fill in the last row to add a rule, tick delete to remove one. "
        "Lists of codes are separated by commas.</p>"
        + form,
    )


def settings_page(
    settings: Any,
    *,
    csrf_token: str,
    file_hash: str,
    errors: list[str] = (),
    saved: bool = False,
) -> str:
    """Render the settings as an editable form with one row per key."""
    settings = settings if isinstance(settings, dict) else {}
    body_rows = []
    for key, value_schema in SETTING_VALUES.items():
        entry = settings.get(key)
        entry = entry if isinstance(entry, dict) else {}
        description_schema = {"type": "string"}
        body_rows.append(
            f"<tr><td>{html.escape(key)}</td>"
            f"<td>{_widget(f's.{key}.value', entry.get('value'), value_schema)}</td>"
            f"<td>{_widget(f's.{key}.description', entry.get('description'), description_schema)}"
            "</td></tr>"
        )
    form = (
        f'<form method="post" action="/file/{SETTINGS_FILE}">'
        + _hidden("csrf_token", csrf_token)
        + _hidden("file_hash", file_hash)
        + "<table><tr><th>key</th><th>value</th><th>description</th></tr>"
        + "".join(body_rows)
        + '</table><p><button type="submit">Save</button></p></form>'
    )
    return page(
        f"{SETTINGS_FILE} - Shortpay rules",
        f'<p><a href="/">All rule files</a></p><h1>{SETTINGS_FILE}</h1>'
        + _messages(list(errors), saved)
        + form,
    )
